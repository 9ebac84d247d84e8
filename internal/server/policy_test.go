package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The files under testdata/bootstrappolicy-v1.37 are upstream's bootstrap
// policy as its own tests record it (plugin/pkg/auth/authorizer/rbac/
// bootstrappolicy/testdata of Kubernetes v1.37, default feature gates).
// TestBootstrapPolicyParity diffs Skiff's default roles and bindings
// against them object by object.
const upstreamPolicyDir = "testdata/bootstrappolicy-v1.37"

// skiffOnly lists the default objects Skiff has and upstream does not,
// each with the reason it exists. Anything else Skiff adds is a failure.
var skiffOnly = map[string]string{
	"ClusterRoleBinding/skiff:node-proxier": "every agent runs the service proxy and cluster DNS under the node's " +
		"identity (k3s gives its proxy an identity of its own; Skiff's agent has one), so nodes get what kube-proxy gets",
	"ClusterRoleBinding/skiff:node-client-cert-rotation": "nodes renew their own client certificates through CSRs; " +
		"upstream leaves this binding to the installer (kubeadm binds selfnodeclient to system:nodes the same way)",
	"ClusterRoleBinding/skiff:node-serving-cert": "nodes request their serving certificates through CSRs, " +
		"which Skiff's approver approves (upstream leaves kubelet-serving requests to an external approver)",
	"ClusterRoleBinding/skiff:kubelet-serving-approver": "the approver (certificate-controller) approves nodes' " +
		"kubelet-serving requests; upstream binds that signer's approver role to no one",
	"ClusterRole/skiff:certificatesigningrequests:selfnodeserving": "the permission the approver checks " +
		"before approving a node's own kubelet-serving request (see internal/controller/certificates)",
}

// upstreamList is the shape of the testdata files: a v1 List.
type upstreamList[T any] struct {
	Items []T `json:"items"`
}

func readUpstream[T any](t *testing.T, files ...string) []T {
	t.Helper()
	var out []T
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(upstreamPolicyDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var l upstreamList[T]
		if err := yaml.Unmarshal(b, &l); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, l.Items...)
	}
	return out
}

// normalRules sorts rules so that two rule lists granting the same in a
// different order compare equal; each rule's lists are sorted already.
func normalRules(rs []rbacv1.PolicyRule) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		r = *r.DeepCopy()
		for _, s := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs} {
			sort.Strings(s)
		}
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func normalSubjects(ss []rbacv1.Subject) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		b, _ := json.Marshal(s)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// policyKey names a default object as "Kind/namespace/name" (no
// namespace part for cluster-scoped kinds).
func policyKey(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// comparable returns what must match upstream of a default object.
func comparable(t *testing.T, obj any) string {
	t.Helper()
	var v any
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		rules := normalRules(o.Rules)
		if o.AggregationRule != nil {
			// Skiff fills an aggregated role's rules in at start-up, as
			// the aggregation controller would, so they work before it
			// first runs; upstream's file records them empty.
			rules = nil
		}
		v = []any{o.Labels, o.Annotations, o.AggregationRule, rules}
	case *rbacv1.Role:
		v = []any{o.Labels, o.Annotations, normalRules(o.Rules)}
	case *rbacv1.ClusterRoleBinding:
		v = []any{o.Labels, o.Annotations, o.RoleRef, normalSubjects(o.Subjects)}
	case *rbacv1.RoleBinding:
		v = []any{o.Labels, o.Annotations, o.RoleRef, normalSubjects(o.Subjects)}
	default:
		return ""
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBootstrapPolicyParity(t *testing.T) {
	want := map[string]string{}
	for _, o := range readUpstream[rbacv1.ClusterRole](t, "cluster-roles.yaml", "controller-roles.yaml") {
		want[policyKey("ClusterRole", "", o.Name)] = comparable(t, &o)
	}
	for _, o := range readUpstream[rbacv1.ClusterRoleBinding](t, "cluster-role-bindings.yaml", "controller-role-bindings.yaml") {
		want[policyKey("ClusterRoleBinding", "", o.Name)] = comparable(t, &o)
	}
	for _, o := range readUpstream[rbacv1.Role](t, "namespace-roles.yaml") {
		want[policyKey("Role", o.Namespace, o.Name)] = comparable(t, &o)
	}
	for _, o := range readUpstream[rbacv1.RoleBinding](t, "namespace-role-bindings.yaml") {
		want[policyKey("RoleBinding", o.Namespace, o.Name)] = comparable(t, &o)
	}

	got := map[string]string{}
	for _, obj := range policyObjects() {
		var kind, ns, name string
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			kind, name = "ClusterRole", o.Name
		case *rbacv1.ClusterRoleBinding:
			kind, name = "ClusterRoleBinding", o.Name
		case *rbacv1.Role:
			kind, ns, name = "Role", o.Namespace, o.Name
		case *rbacv1.RoleBinding:
			kind, ns, name = "RoleBinding", o.Namespace, o.Name
		default:
			continue
		}
		k := policyKey(kind, ns, name)
		if _, dup := got[k]; dup {
			t.Errorf("%s is in the default policy twice", k)
		}
		got[k] = comparable(t, obj)
	}

	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, inUpstream := want[k]
		g, inSkiff := got[k]
		switch {
		case !inSkiff:
			t.Errorf("%s: upstream has it, Skiff does not", k)
		case !inUpstream:
			if _, ok := skiffOnly[k]; !ok {
				t.Errorf("%s: Skiff has it, upstream does not, and skiffOnly gives no reason", k)
			}
		case w != g:
			t.Errorf("%s differs from upstream (- upstream, + Skiff):\n%s", k, lineDiff(w, g))
		}
	}
	for k := range skiffOnly {
		if _, ok := got[k]; !ok {
			t.Errorf("skiffOnly lists %s, which Skiff no longer has", k)
		}
	}
}

// TestControllerIdentities checks that every controller the manager runs
// has a role of its own and nothing binds the controller manager's
// identity to controller roles.
func TestControllerIdentities(t *testing.T) {
	for _, obj := range policyObjects() {
		b, ok := obj.(*rbacv1.ClusterRoleBinding)
		if !ok || !strings.HasPrefix(b.RoleRef.Name, "system:controller:") {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.UserKind && s.Name == controllerManagerUser {
				t.Errorf("%s binds %s to a controller role", b.Name, controllerManagerUser)
			}
		}
	}
}

// lineDiff lists the lines only in a ("- ") and only in b ("+ ").
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			count[l]--
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if count[l] < 0 {
			count[l]++
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
