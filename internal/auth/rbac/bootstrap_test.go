package rbac

import (
	"context"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/auth"
)

func bootstrapSource() *MemorySource {
	s := &MemorySource{}
	for _, r := range BootstrapClusterRoles() {
		s.Add(r)
	}
	for _, b := range BootstrapClusterRoleBindings() {
		s.Add(b)
	}
	for _, rs := range BootstrapRoles() {
		for _, r := range rs {
			s.Add(r)
		}
	}
	for _, bs := range BootstrapRoleBindings() {
		for _, b := range bs {
			s.Add(b)
		}
	}
	return s
}

func TestBootstrapPolicy(t *testing.T) {
	s := bootstrapSource()
	// Users granted the aggregated roles in namespace "team".
	s.Add(
		rb("team", "v", "ClusterRole", "view", userSubj("viewer")),
		rb("team", "e", "ClusterRole", "edit", userSubj("editor")),
		rb("team", "a", "ClusterRole", "admin", userSubj("admin")),
		crb("root", "cluster-admin", userSubj("root")),
	)
	z := New(s)
	authd := func(name string, groups ...string) *auth.User {
		return &auth.User{Name: name, Groups: append(groups, auth.AllAuthenticated)}
	}
	anon := &auth.User{Name: auth.Anonymous, Groups: []string{auth.AllUnauthenticated}}
	viewer, editor, admin, root := authd("viewer"), authd("editor"), authd("admin"), authd("root")
	sa := func(name string) *auth.User {
		return authd(ServiceAccountUsername("kube-system", name), auth.ServiceAccountGroup, auth.ServiceAccountGroup+":kube-system")
	}

	tests := []struct {
		name string
		a    auth.Attributes
		want auth.Decision
	}{
		{"cluster-admin anything", res(root, "deletecollection", "example.com", "widgets", "", "", ""), auth.Allow},
		{"cluster-admin subresource", res(root, "create", "", "pods", "exec", "x", "p"), auth.Allow},
		{"cluster-admin any url", nonRes(root, "put", "/whatever"), auth.Allow},
		{"masters anything", res(authd("m", auth.SystemPrivileged), "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "x"), auth.Allow},

		{"view reads pods", res(viewer, "list", "", "pods", "", "team", ""), auth.Allow},
		{"view reads deployments", res(viewer, "get", "apps", "deployments", "", "team", "d"), auth.Allow},
		{"view reads pod logs", res(viewer, "get", "", "pods", "log", "team", "p"), auth.Allow},
		{"view cannot read secrets", res(viewer, "get", "", "secrets", "", "team", "s"), auth.NoOpinion},
		{"view cannot list secrets", res(viewer, "list", "", "secrets", "", "team", ""), auth.NoOpinion},
		{"view cannot exec", res(viewer, "create", "", "pods", "exec", "team", "p"), auth.NoOpinion},
		{"view cannot write", res(viewer, "create", "", "configmaps", "", "team", ""), auth.NoOpinion},
		{"view only in its namespace", res(viewer, "list", "", "pods", "", "other", ""), auth.NoOpinion},

		{"edit creates deployments", res(editor, "create", "apps", "deployments", "", "team", ""), auth.Allow},
		{"edit scales deployments", res(editor, "update", "apps", "deployments", "scale", "team", "d"), auth.Allow},
		{"edit reads secrets", res(editor, "get", "", "secrets", "", "team", "s"), auth.Allow},
		{"edit execs", res(editor, "create", "", "pods", "exec", "team", "p"), auth.Allow},
		{"edit inherits view", res(editor, "list", "discovery.k8s.io", "endpointslices", "", "team", ""), auth.Allow},
		{"edit cannot create roles", res(editor, "create", "rbac.authorization.k8s.io", "roles", "", "team", ""), auth.NoOpinion},
		{"edit cannot create rolebindings", res(editor, "create", "rbac.authorization.k8s.io", "rolebindings", "", "team", ""), auth.NoOpinion},
		{"edit cannot write quota", res(editor, "update", "", "resourcequotas", "", "team", "q"), auth.NoOpinion},

		{"admin creates roles", res(admin, "create", "rbac.authorization.k8s.io", "roles", "", "team", ""), auth.Allow},
		{"admin inherits edit", res(admin, "delete", "batch", "jobs", "", "team", "j"), auth.Allow},
		{"admin cannot touch nodes", res(admin, "get", "", "nodes", "", "", "n"), auth.NoOpinion},

		{"anonymous healthz", nonRes(anon, "get", "/healthz"), auth.Allow},
		{"anonymous version", nonRes(anon, "get", "/version"), auth.Allow},
		{"anonymous livez", nonRes(anon, "get", "/livez"), auth.Allow},
		{"anonymous no discovery", nonRes(anon, "get", "/apis"), auth.NoOpinion},
		{"anonymous no pods", res(anon, "list", "", "pods", "", "", ""), auth.NoOpinion},
		{"anonymous no healthz post", nonRes(anon, "post", "/healthz"), auth.NoOpinion},
		{"authenticated discovery", nonRes(authd("u"), "get", "/apis/apps/v1"), auth.Allow},
		{"authenticated openapi", nonRes(authd("u"), "get", "/openapi/v3"), auth.Allow},
		{"authenticated self review", res(authd("u"), "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""), auth.Allow},
		{"authenticated rules review", res(authd("u"), "create", "authorization.k8s.io", "selfsubjectrulesreviews", "", "", ""), auth.Allow},
		{"authenticated no pods", res(authd("u"), "list", "", "pods", "", "", ""), auth.NoOpinion},
		{"service account oidc discovery", nonRes(sa("x"), "get", "/openid/v1/jwks"), auth.Allow},

		{"scheduler binds", res(authd(KubeSchedulerUser), "create", "", "pods", "binding", "x", "p"), auth.Allow},
		{"scheduler own lease", res(authd(KubeSchedulerUser), "update", "coordination.k8s.io", "leases", "", "kube-system", "kube-scheduler"), auth.Allow},
		// Upstream's leader-locking Role lets the scheduler write any
		// Lease in kube-system, and no Lease elsewhere but its own.
		{"scheduler other lease in kube-system", res(authd(KubeSchedulerUser), "update", "coordination.k8s.io", "leases", "", "kube-system", "other"), auth.Allow},
		{"scheduler other lease elsewhere", res(authd(KubeSchedulerUser), "update", "coordination.k8s.io", "leases", "", "default", "other"), auth.NoOpinion},
		{"controller manager lists all", res(authd(KubeControllerManagerUser), "list", "apps", "deployments", "", "", ""), auth.Allow},
		{"proxy watches slices", res(authd(KubeProxyUser), "watch", "discovery.k8s.io", "endpointslices", "", "", ""), auth.Allow},
		{"kube-dns watches services", res(sa("kube-dns"), "watch", "", "services", "", "", ""), auth.Allow},
		{"nodes get nothing from rbac", res(authd("system:node:n1", auth.NodesGroup), "get", "", "nodes", "", "", "n1"), auth.NoOpinion},

		{"replicaset controller creates pods", res(sa("replicaset-controller"), "create", "", "pods", "", "x", ""), auth.Allow},
		{"replication controller creates pods", res(sa("replication-controller"), "create", "", "pods", "", "x", ""), auth.Allow},
		{"deployment controller creates replicasets", res(sa("deployment-controller"), "create", "apps", "replicasets", "", "x", ""), auth.Allow},
		{"gc deletes anything", res(sa("generic-garbage-collector"), "delete", "example.com", "widgets", "", "x", "w"), auth.Allow},
		{"namespace controller finalizes", res(sa("namespace-controller"), "update", "", "namespaces", "finalize", "", "x"), auth.Allow},
		{"disruption controller reads scale", res(sa("disruption-controller"), "get", "apps", "statefulsets", "scale", "x", "s"), auth.Allow},
		{"aggregation controller escalates", res(sa("clusterrole-aggregation-controller"), "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "admin"), auth.Allow},
		{"controller limited", res(sa("job-controller"), "get", "", "secrets", "", "x", "s"), auth.NoOpinion},
		{"leader locking no longer through configmaps", res(authd(KubeSchedulerUser), "update", "", "configmaps", "", "kube-system", "kube-scheduler"), auth.NoOpinion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil || d != tt.want {
				t.Errorf("got %v (%q, %v); want %v", d, reason, err, tt.want)
			}
		})
	}
}

func TestBootstrapMetadataAndReferences(t *testing.T) {
	roles := map[string]bool{}
	for _, r := range BootstrapClusterRoles() {
		if roles[r.Name] {
			t.Errorf("duplicate ClusterRole %q", r.Name)
		}
		roles[r.Name] = true
		if r.Labels[BootstrappingLabel] != BootstrappingValue || r.Annotations[AutoUpdateAnnotation] != "true" {
			t.Errorf("ClusterRole %q metadata = %v %v", r.Name, r.Labels, r.Annotations)
		}
		if r.AggregationRule == nil && len(r.Rules) == 0 {
			t.Errorf("ClusterRole %q has no rules", r.Name)
		}
	}
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
		"system:public-info-viewer", "system:node", "system:node-proxier", "system:kube-scheduler",
		"system:kube-controller-manager", "system:kube-dns", "system:service-account-issuer-discovery",
		"system:auth-delegator", "system:monitoring", "system:controller:generic-garbage-collector"} {
		if !roles[name] {
			t.Errorf("missing ClusterRole %q", name)
		}
	}
	wantAgg := map[string]string{"admin": AggregateToAdmin, "edit": AggregateToEdit, "view": AggregateToView}
	for _, r := range BootstrapClusterRoles() {
		if l, ok := wantAgg[r.Name]; ok {
			if r.AggregationRule == nil || r.AggregationRule.ClusterRoleSelectors[0].MatchLabels[l] != "true" {
				t.Errorf("ClusterRole %q aggregationRule = %v; want selector on %s", r.Name, r.AggregationRule, l)
			}
		}
	}
	for _, b := range BootstrapClusterRoleBindings() {
		if !roles[b.RoleRef.Name] || b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("ClusterRoleBinding %q refers to unknown %s %q", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		if b.Labels[BootstrappingLabel] != BootstrappingValue || b.Annotations[AutoUpdateAnnotation] != "true" {
			t.Errorf("ClusterRoleBinding %q metadata = %v %v", b.Name, b.Labels, b.Annotations)
		}
		if strings.HasPrefix(b.Name, ControllerRolePrefix) {
			if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Namespace != "kube-system" ||
				b.Subjects[0].Name != strings.TrimPrefix(b.Name, ControllerRolePrefix) {
				t.Errorf("controller binding %q subjects = %v", b.Name, b.Subjects)
			}
		}
	}
	nsRoles := BootstrapRoles()
	for ns, bs := range BootstrapRoleBindings() {
		for _, b := range bs {
			found := false
			for _, r := range nsRoles[ns] {
				found = found || r.Name == b.RoleRef.Name
			}
			if !found || b.Namespace != ns {
				t.Errorf("RoleBinding %s/%s refers to unknown Role %q", b.Namespace, b.Name, b.RoleRef.Name)
			}
		}
	}
}

func TestBootstrapFreshCopies(t *testing.T) {
	a := BootstrapClusterRoles()
	a[0].Rules[0].Verbs[0] = "mutated"
	if b := BootstrapClusterRoles(); b[0].Rules[0].Verbs[0] == "mutated" {
		t.Error("BootstrapClusterRoles shares state between calls")
	}
}
