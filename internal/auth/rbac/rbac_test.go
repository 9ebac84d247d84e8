package rbac

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

func res(u *auth.User, verb, group, resource, sub, ns, name string) auth.Attributes {
	return auth.Attributes{User: u, Verb: verb, ResourceRequest: true, APIGroup: group, Resource: resource,
		Subresource: sub, Namespace: ns, Name: name}
}

func nonRes(u *auth.User, verb, path string) auth.Attributes {
	return auth.Attributes{User: u, Verb: verb, Path: path}
}

func TestRuleAllows(t *testing.T) {
	pr := func(b ruleB) rbacv1.PolicyRule { return b.build() }
	tests := []struct {
		name string
		rule rbacv1.PolicyRule
		a    auth.Attributes
		want bool
	}{
		{"exact", pr(rule("get").groups("").resources("pods")), res(nil, "get", "", "pods", "", "ns", "p"), true},
		{"wrong verb", pr(rule("get").groups("").resources("pods")), res(nil, "list", "", "pods", "", "ns", ""), false},
		{"wrong group", pr(rule("get").groups("apps").resources("pods")), res(nil, "get", "", "pods", "", "ns", "p"), false},
		{"star verb", pr(rule("*").groups("").resources("pods")), res(nil, "deletecollection", "", "pods", "", "ns", ""), true},
		{"star group", pr(rule("get").groups("*").resources("deployments")), res(nil, "get", "apps", "deployments", "", "ns", "d"), true},
		{"star resource", pr(rule("get").groups("").resources("*")), res(nil, "get", "", "secrets", "", "ns", "s"), true},
		{"star resource covers subresource", pr(rule("get").groups("").resources("*")), res(nil, "get", "", "pods", "log", "ns", "p"), true},
		{"resource does not cover subresource", pr(rule("get").groups("").resources("pods")), res(nil, "get", "", "pods", "log", "ns", "p"), false},
		{"resource/subresource", pr(rule("get").groups("").resources("pods/log")), res(nil, "get", "", "pods", "log", "ns", "p"), true},
		{"subresource does not cover resource", pr(rule("get").groups("").resources("pods/log")), res(nil, "get", "", "pods", "", "ns", "p"), false},
		{"*/subresource", pr(rule("get").groups("*").resources("*/scale")), res(nil, "get", "apps", "deployments", "scale", "ns", "d"), true},
		{"*/subresource other sub", pr(rule("get").groups("*").resources("*/scale")), res(nil, "get", "apps", "deployments", "status", "ns", "d"), false},
		{"*/subresource no sub", pr(rule("get").groups("*").resources("*/scale")), res(nil, "get", "apps", "deployments", "", "ns", "d"), false},
		{"resourceNames match", pr(rule("get").groups("").resources("configmaps").names("a", "b")), res(nil, "get", "", "configmaps", "", "ns", "b"), true},
		{"resourceNames miss", pr(rule("get").groups("").resources("configmaps").names("a")), res(nil, "get", "", "configmaps", "", "ns", "c"), false},
		{"resourceNames never list", pr(rule("list").groups("").resources("configmaps").names("a")), res(nil, "list", "", "configmaps", "", "ns", ""), false},
		{"url exact", pr(rule("get").urls("/healthz")), nonRes(nil, "get", "/healthz"), true},
		{"url exact no prefix", pr(rule("get").urls("/healthz")), nonRes(nil, "get", "/healthz/etcd"), false},
		{"url prefix", pr(rule("get").urls("/apis/*")), nonRes(nil, "get", "/apis/apps/v1"), true},
		{"url prefix not parent", pr(rule("get").urls("/apis/*")), nonRes(nil, "get", "/apis"), false},
		{"url star", pr(rule("get").urls("*")), nonRes(nil, "get", "/anything"), true},
		{"url wrong verb", pr(rule("get").urls("*")), nonRes(nil, "post", "/anything"), false},
		{"url rule vs resource request", pr(rule("get").urls("*")), res(nil, "get", "", "pods", "", "ns", ""), false},
		{"resource rule vs url request", pr(rule("*").groups("*").resources("*")), nonRes(nil, "get", "/healthz"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RuleAllows(tt.a, &tt.rule); got != tt.want {
				t.Errorf("RuleAllows = %v; want %v", got, tt.want)
			}
		})
	}
}

func crole(name string, rs ...ruleB) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules(rs...)}
}

func nsrole(ns, name string, rs ...ruleB) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules(rs...)}
}

func crb(name, role string, subs ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}, Subjects: subs}
}

func rb(ns, name, kind, role string, subs ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}, Subjects: subs}
}

func userSubj(n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: n}
}
func groupSubj(n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: n}
}
func saSubj(ns, n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
}

func testSource() *MemorySource {
	s := &MemorySource{}
	s.Add(
		crole("pod-reader", rule(read...).groups("").resources("pods")),
		crole("node-reader", rule(read...).groups("").resources("nodes")),
		crole("healthz", rule("get").urls("/healthz", "/metrics/*")),
		crole("deployer", rule("create").groups("apps").resources("deployments")),
		nsrole("dev", "cm-editor", rule("update").groups("").resources("configmaps").names("settings")),
		crb("alice-nodes", "node-reader", userSubj("alice")),
		crb("ops-health", "healthz", groupSubj("ops")),
		crb("broken", "no-such-role", userSubj("mallory")),
		rb("dev", "bob-pods", "ClusterRole", "pod-reader", userSubj("bob")),
		rb("dev", "bob-cm", "Role", "cm-editor", userSubj("bob")),
		rb("dev", "builder", "ClusterRole", "deployer", saSubj("", "builder")),
		rb("dev", "ci-deploy", "ClusterRole", "deployer", saSubj("ci", "robot")),
		rb("dev", "all-sas", "ClusterRole", "pod-reader", groupSubj("system:serviceaccounts:ci")),
	)
	return s
}

func TestAuthorize(t *testing.T) {
	alice := &auth.User{Name: "alice", Groups: []string{"system:authenticated"}}
	bob := &auth.User{Name: "bob"}
	opsUser := &auth.User{Name: "carol", Groups: []string{"ops"}}
	builder := &auth.User{Name: "system:serviceaccount:dev:builder"}
	otherBuilder := &auth.User{Name: "system:serviceaccount:prod:builder"}
	robot := &auth.User{Name: "system:serviceaccount:ci:robot", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci"}}
	mallory := &auth.User{Name: "mallory"}

	tests := []struct {
		name       string
		a          auth.Attributes
		want       auth.Decision
		wantReason string
	}{
		{"cluster binding to user", res(alice, "list", "", "nodes", "", "", ""), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "alice-nodes" of ClusterRole "node-reader" to User "alice"`},
		{"cluster binding applies in namespaces", res(alice, "get", "", "nodes", "", "dev", "n1"), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "alice-nodes" of ClusterRole "node-reader" to User "alice"`},
		{"no rule", res(alice, "delete", "", "nodes", "", "", "n1"), auth.NoOpinion, ""},
		{"group subject non-resource", nonRes(opsUser, "get", "/healthz"), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "ops-health" of ClusterRole "healthz" to Group "ops"`},
		{"group subject url prefix", nonRes(opsUser, "get", "/metrics/slis"), auth.Allow, ""},
		{"group subject url miss", nonRes(opsUser, "get", "/metrics"), auth.NoOpinion, ""},
		{"rolebinding to clusterrole in its namespace", res(bob, "watch", "", "pods", "", "dev", ""), auth.Allow,
			`RBAC: allowed by RoleBinding "bob-pods/dev" of ClusterRole "pod-reader" to User "bob"`},
		{"rolebinding to clusterrole other namespace", res(bob, "watch", "", "pods", "", "prod", ""), auth.NoOpinion, ""},
		{"rolebinding to clusterrole not cluster-wide", res(bob, "list", "", "pods", "", "", ""), auth.NoOpinion, ""},
		{"role with resourceNames", res(bob, "update", "", "configmaps", "", "dev", "settings"), auth.Allow,
			`RBAC: allowed by RoleBinding "bob-cm/dev" of Role "cm-editor" to User "bob"`},
		{"role with resourceNames other name", res(bob, "update", "", "configmaps", "", "dev", "other"), auth.NoOpinion, ""},
		{"sa subject defaults to binding namespace", res(builder, "create", "apps", "deployments", "", "dev", ""), auth.Allow,
			`RBAC: allowed by RoleBinding "builder/dev" of ClusterRole "deployer" to ServiceAccount "builder/dev"`},
		{"sa subject other namespace's sa", res(otherBuilder, "create", "apps", "deployments", "", "dev", ""), auth.NoOpinion, ""},
		{"sa subject explicit namespace", res(robot, "create", "apps", "deployments", "", "dev", ""), auth.Allow,
			`RBAC: allowed by RoleBinding "ci-deploy/dev" of ClusterRole "deployer" to ServiceAccount "robot/ci"`},
		{"sa namespace group", res(robot, "get", "", "pods", "", "dev", "p"), auth.Allow,
			`RBAC: allowed by RoleBinding "all-sas/dev" of ClusterRole "pod-reader" to Group "system:serviceaccounts:ci"`},
		{"missing role gives reason", res(mallory, "get", "", "pods", "", "", ""), auth.NoOpinion,
			`RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found`},
		{"no user", res(nil, "get", "", "pods", "", "", ""), auth.NoOpinion, ""},
	}
	z := New(testSource())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if d != tt.want || (tt.wantReason != "" && reason != tt.wantReason) || (tt.want == auth.NoOpinion && reason != tt.wantReason) {
				t.Errorf("got %v %q; want %v %q", d, reason, tt.want, tt.wantReason)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	z := New(testSource())
	tests := []struct {
		name           string
		u              *auth.User
		ns             string
		wantRules      int
		wantIncomplete bool
	}{
		{"cluster only", &auth.User{Name: "bob"}, "", 0, false},
		{"namespace adds rolebindings", &auth.User{Name: "bob"}, "dev", 2, false},
		{"cluster and url rules", &auth.User{Name: "carol", Groups: []string{"ops"}}, "dev", 1, false},
		{"unreadable role", &auth.User{Name: "mallory"}, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, incomplete, err := z.RulesFor(tt.u, tt.ns)
			if len(rs) != tt.wantRules || incomplete != tt.wantIncomplete || (err != nil) != tt.wantIncomplete {
				t.Errorf("got %d rules, incomplete %v, err %v; want %d, %v", len(rs), incomplete, err, tt.wantRules, tt.wantIncomplete)
			}
		})
	}
	rs, _, _ := z.RulesFor(&auth.User{Name: "carol", Groups: []string{"ops"}}, "")
	resRules, nonResRules := SubjectRules(rs)
	if len(resRules) != 0 || len(nonResRules) != 1 || len(nonResRules[0].NonResourceURLs) != 2 {
		t.Errorf("SubjectRules = %v, %v; want one non-resource rule", resRules, nonResRules)
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	z := New(testSource())
	bob := &auth.User{Name: "bob", Groups: []string{"system:authenticated"}}
	tests := []struct {
		name    string
		u       *auth.User
		ns      string
		rules   []rbacv1.PolicyRule
		wantErr string // "" for allowed
	}{
		{"subset of held rules", bob, "dev", rules(rule("get", "list").groups("").resources("pods")), ""},
		{"named subset of held rule", bob, "dev", rules(rule("update").groups("").resources("configmaps").names("settings")), ""},
		{"empty", bob, "dev", nil, ""},
		{"held only in other namespace", bob, "prod", rules(rule("get").groups("").resources("pods")),
			"user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`},
		{"named rule does not cover unnamed", bob, "dev", rules(rule("update").groups("").resources("configmaps")),
			"user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["configmaps"], Verbs:["update"]}`},
		{"missing verbs compacted", bob, "dev", rules(rule("get", "delete", "create").groups("").resources("pods", "secrets")),
			"user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}` + "\n" +
				`{APIGroups:[""], Resources:["secrets"], Verbs:["create" "delete" "get"]}`},
		{"url", bob, "dev", rules(rule("get").urls("/healthz")),
			"user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
				`{NonResourceURLs:["/healthz"], Verbs:["get"]}`},
		{"url covered by prefix", &auth.User{Name: "carol", Groups: []string{"ops"}}, "", rules(rule("get").urls("/metrics/slis")), ""},
		{"masters may do anything", &auth.User{Name: "root", Groups: []string{auth.SystemPrivileged}}, "", fullAuthority, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := z.ConfirmNoEscalation(tt.u, tt.ns, tt.rules)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("got error\n%s\nwant\n%s", got, tt.wantErr)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name         string
		owner, wants []rbacv1.PolicyRule
		want         bool
	}{
		{"star covers all", fullAuthority, rules(rule("escalate").groups("x").resources("y").names("z")), true},
		{"*/sub covers sub", rules(rule("get").groups("*").resources("*/scale")), rules(rule("get").groups("apps").resources("deployments/scale")), true},
		{"*/sub does not cover resource", rules(rule("get").groups("*").resources("*/scale")), rules(rule("get").groups("apps").resources("deployments")), false},
		{"names covered by unnamed", rules(rule("get").groups("").resources("secrets")), rules(rule("get").groups("").resources("secrets").names("a")), true},
		{"names subset", rules(rule("get").groups("").resources("secrets").names("a", "b")), rules(rule("get").groups("").resources("secrets").names("b")), true},
		{"names not subset", rules(rule("get").groups("").resources("secrets").names("a")), rules(rule("get").groups("").resources("secrets").names("b")), false},
		{"split across rules", rules(rule("get").groups("").resources("pods"), rule("list").groups("").resources("pods")),
			rules(rule("get", "list").groups("").resources("pods")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := Covers(tt.owner, tt.wants); got != tt.want {
				t.Errorf("Covers = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	s := testSource()
	s.Add(
		crole("role-escalator", rule("escalate").groups("rbac.authorization.k8s.io").resources("roles")),
		crole("binder", rule("bind").groups("rbac.authorization.k8s.io").resources("clusterroles").names("node-reader")),
		rb("dev", "dave-escalate", "ClusterRole", "role-escalator", userSubj("dave")),
		rb("dev", "erin-bind", "ClusterRole", "binder", userSubj("erin")),
		crb("frank-admin", "cluster-admin", userSubj("frank")),
		crole("cluster-admin", rule("*").groups("*").resources("*"), rule("*").urls("*")),
	)
	z := New(s)
	g := &Guard{Authz: z, RBAC: z}
	bob := &auth.User{Name: "bob"}
	dave := &auth.User{Name: "dave"}
	erin := &auth.User{Name: "erin"}
	frank := &auth.User{Name: "frank"}
	masters := &auth.User{Name: "root", Groups: []string{auth.SystemPrivileged}}
	secretsRole := nsrole("dev", "secrets", rule("get").groups("").resources("secrets"))
	podsRole := nsrole("dev", "pods", rule("get").groups("").resources("pods"))
	aggregating := crole("agg")
	aggregating.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}
	relabelled := secretsRole.DeepCopy()
	relabelled.OwnerReferences = []metav1.OwnerReference{{Name: "owner"}}
	relabelled.Finalizers = []string{"f"}

	ctx := context.Background()
	tests := []struct {
		name      string
		check     func() error
		forbidden bool
		notFound  bool
		msg       string
	}{
		{"role within own rules", func() error { return g.CheckRole(ctx, bob, podsRole, nil) }, false, false, ""},
		{"role beyond own rules", func() error { return g.CheckRole(ctx, bob, secretsRole, nil) }, true, false,
			`roles.rbac.authorization.k8s.io "secrets" is forbidden: user "bob" (groups=[]) is attempting to grant RBAC permissions not currently held:`},
		{"role with escalate verb", func() error { return g.CheckRole(ctx, dave, secretsRole, nil) }, false, false, ""},
		{"role escalate is namespaced", func() error {
			return g.CheckRole(ctx, dave, nsrole("prod", "secrets", rule("get").groups("").resources("secrets")), nil)
		}, true, false, ""},
		{"role by masters", func() error { return g.CheckRole(ctx, masters, secretsRole, nil) }, false, false, ""},
		{"role update of gc fields only", func() error { return g.CheckRole(ctx, bob, relabelled, secretsRole) }, false, false, ""},
		{"clusterrole beyond own rules", func() error {
			return g.CheckClusterRole(ctx, bob, crole("x", rule("get").groups("").resources("pods")), nil)
		}, true, false, ""},
		{"clusterrole aggregation needs full authority", func() error { return g.CheckClusterRole(ctx, bob, aggregating, nil) }, true, false,
			`clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule`},
		{"clusterrole aggregation by cluster admin", func() error { return g.CheckClusterRole(ctx, frank, aggregating, nil) }, false, false, ""},
		{"binding to held role", func() error {
			return g.CheckRoleBinding(ctx, bob, rb("dev", "b", "ClusterRole", "pod-reader", userSubj("x")), nil)
		}, false, false, ""},
		{"binding to unheld role", func() error {
			return g.CheckRoleBinding(ctx, bob, rb("dev", "b", "ClusterRole", "node-reader", userSubj("x")), nil)
		}, true, false, `rolebindings.rbac.authorization.k8s.io "b" is forbidden: user "bob"`},
		{"binding with bind verb", func() error {
			return g.CheckRoleBinding(ctx, erin, rb("dev", "b", "ClusterRole", "node-reader", userSubj("x")), nil)
		}, false, false, ""},
		{"bind verb is per role name", func() error {
			return g.CheckRoleBinding(ctx, erin, rb("dev", "b", "ClusterRole", "deployer", userSubj("x")), nil)
		}, true, false, ""},
		{"cluster binding needs cluster-wide rules", func() error {
			return g.CheckClusterRoleBinding(ctx, bob, crb("b", "pod-reader", userSubj("x")), nil)
		}, true, false, `clusterrolebindings.rbac.authorization.k8s.io "b" is forbidden`},
		{"binding to missing role", func() error {
			return g.CheckRoleBinding(ctx, bob, rb("dev", "b", "Role", "nope", userSubj("x")), nil)
		}, false, true, ""},
		{"binding by masters", func() error {
			return g.CheckClusterRoleBinding(ctx, masters, crb("b", "cluster-admin", userSubj("x")), nil)
		}, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check()
			if apierrors.IsForbidden(err) != tt.forbidden || apierrors.IsNotFound(err) != tt.notFound ||
				(err != nil && !tt.forbidden && !tt.notFound) {
				t.Fatalf("err = %v; want forbidden %v, not found %v", err, tt.forbidden, tt.notFound)
			}
			if tt.msg != "" && !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("err = %q; want prefix %q", err, tt.msg)
			}
		})
	}
}

func TestAggregateRules(t *testing.T) {
	labelled := func(cr *rbacv1.ClusterRole, l ...string) *rbacv1.ClusterRole {
		cr.Labels = map[string]string{}
		for _, k := range l {
			cr.Labels[k] = "true"
		}
		return cr
	}
	a := labelled(crole("a", rule("get").groups("").resources("pods")), "agg")
	b := labelled(crole("b", rule("get").groups("").resources("pods"), rule("list").groups("").resources("pods")), "agg")
	c := labelled(crole("c", rule("get").groups("").resources("secrets")), "other")
	target := crole("target")
	target.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
		{MatchLabels: map[string]string{"agg": "true"}},
	}}
	self := labelled(target.DeepCopy(), "agg")
	self.Rules = rules(rule("delete").groups("").resources("pods"))
	plain := crole("plain", rule("get").groups("").resources("nodes"))
	bad := target.DeepCopy()
	bad.AggregationRule.ClusterRoleSelectors[0].MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}

	tests := []struct {
		name string
		cr   *rbacv1.ClusterRole
		all  []*rbacv1.ClusterRole
		want []rbacv1.PolicyRule
	}{
		{"union without duplicates in name order", target, []*rbacv1.ClusterRole{c, b, a},
			rules(rule("get").groups("").resources("pods"), rule("list").groups("").resources("pods"))},
		{"skips itself", self, []*rbacv1.ClusterRole{self, a}, rules(rule("get").groups("").resources("pods"))},
		{"nothing selected", target, []*rbacv1.ClusterRole{c}, []rbacv1.PolicyRule{}},
		{"no aggregation rule keeps own rules", plain, []*rbacv1.ClusterRole{a}, plain.Rules},
		{"bad selector selects nothing", bad, []*rbacv1.ClusterRole{a}, []rbacv1.PolicyRule{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AggregateRules(tt.cr, tt.all)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for i := range got {
				if CompactString(got[i]) != CompactString(tt.want[i]) {
					t.Errorf("rule %d = %s; want %s", i, CompactString(got[i]), CompactString(tt.want[i]))
				}
			}
		})
	}
}
