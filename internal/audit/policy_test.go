package audit

import (
	"errors"
	"slices"
	"testing"

	"github.com/skiff-sh/skiff/internal/auth"
)

const testPolicy = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
omitManagedFields: true
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: [watch]
  resources:
  - group: ""
    resources: [endpoints, services]
- level: None
  userGroups: ["system:nodes"]
  verbs: [get]
  resources: [{group: "", resources: [nodes]}]
- level: None
  nonResourceURLs: ["/healthz*", /version]
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps]}]
  omitManagedFields: false
- level: Request
  resources: [{group: "", resources: ["pods/log", "pods/status"]}]
- level: RequestResponse
  resources: [{group: apps, resources: ["*/scale"]}]
- level: Request
  resources: [{group: apps, resources: ["deployments/*"]}]
- level: RequestResponse
  namespaces: [kube-system]
  resources: [{group: "", resources: [configmaps], resourceNames: [controller-leader]}]
- level: Metadata
  namespaces: [kube-system]
- level: RequestResponse
  resources: [{group: rbac.authorization.k8s.io}]
- level: Metadata
  omitStages: [ResponseStarted]
`

func res(verb, group, resource, sub, ns, name string) auth.Attributes {
	return auth.Attributes{User: &auth.User{Name: "alice", Groups: []string{"devs"}}, Verb: verb, ResourceRequest: true,
		APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
}

func TestPolicyDecide(t *testing.T) {
	p, err := ParsePolicy([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	kubeProxy := res("watch", "", "services", "", "", "")
	kubeProxy.User = &auth.User{Name: "system:kube-proxy"}
	node := res("get", "", "nodes", "", "", "n1")
	node.User = &auth.User{Name: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"}}
	nonRes := func(path string) auth.Attributes {
		return auth.Attributes{User: &auth.User{Name: "alice"}, Verb: "get", Path: path}
	}
	tests := []struct {
		name     string
		attrs    auth.Attributes
		want     Level
		wantOmit []Stage
		wantNoMF bool
	}{
		{"user and verb and resource", kubeProxy, LevelNone, []Stage{StageRequestReceived}, true},
		{"other verb falls through", func() auth.Attributes { a := kubeProxy; a.Verb = "list"; return a }(), LevelMetadata, []Stage{StageRequestReceived, StageResponseStarted}, true},
		{"group", node, LevelNone, []Stage{StageRequestReceived}, true},
		{"non-resource prefix", nonRes("/healthz/etcd"), LevelNone, []Stage{StageRequestReceived}, true},
		{"non-resource exact", nonRes("/version"), LevelNone, []Stage{StageRequestReceived}, true},
		{"non-resource other", nonRes("/versions"), LevelMetadata, []Stage{StageRequestReceived, StageResponseStarted}, true},
		{"secrets metadata only, managed fields kept", res("get", "", "secrets", "", "default", "s"), LevelMetadata, []Stage{StageRequestReceived}, false},
		{"subresource exact", res("get", "", "pods", "log", "default", "p"), LevelRequest, []Stage{StageRequestReceived}, true},
		{"resource does not match its subresource", res("get", "", "secrets", "status", "default", "s"), LevelMetadata, []Stage{StageRequestReceived, StageResponseStarted}, true},
		{"*/scale", res("update", "apps", "statefulsets", "scale", "default", "x"), LevelRequestResponse, []Stage{StageRequestReceived}, true},
		{"deployments/*", res("update", "apps", "deployments", "status", "default", "x"), LevelRequest, []Stage{StageRequestReceived}, true},
		// As upstream's checker: "resource/*" matches the resource too.
		{"deployments/* and the resource itself", res("update", "apps", "deployments", "", "default", "x"), LevelRequest, []Stage{StageRequestReceived}, true},
		{"group mismatch", res("update", "extensions", "deployments", "scale", "default", "x"), LevelMetadata, []Stage{StageRequestReceived, StageResponseStarted}, true},
		{"resourceNames match", res("update", "", "configmaps", "", "kube-system", "controller-leader"), LevelMetadata, []Stage{StageRequestReceived}, false},
		{"namespace only", res("delete", "", "pods", "", "kube-system", "p"), LevelMetadata, []Stage{StageRequestReceived}, true},
		{"empty resources = whole group", res("create", "rbac.authorization.k8s.io", "roles", "", "default", ""), LevelRequestResponse, []Stage{StageRequestReceived}, true},
		{"catch-all", res("list", "batch", "jobs", "", "", ""), LevelMetadata, []Stage{StageRequestReceived, StageResponseStarted}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.attrs)
			if d.Level != tc.want || !slices.Equal(d.OmitStages, tc.wantOmit) || d.OmitManagedFields != tc.wantNoMF {
				t.Fatalf("got %+v; want level %s, omit %v, omitManagedFields %v", d, tc.want, tc.wantOmit, tc.wantNoMF)
			}
		})
	}
}

func TestPolicyNoMatchIsNone(t *testing.T) {
	p, err := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  namespaces: [x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []auth.Attributes{res("get", "", "pods", "", "y", "p"), {Verb: "get", Path: "/api"}} {
		if got := p.Decide(a).Level; got != LevelNone {
			t.Errorf("Decide(%+v) = %s; want None", a, got)
		}
	}
	var nilPolicy *Policy
	if got := nilPolicy.Decide(res("get", "", "pods", "", "y", "p")).Level; got != LevelNone {
		t.Errorf("nil policy: %s; want None", got)
	}
}

func TestParsePolicyInvalid(t *testing.T) {
	head := "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
	tests := []struct{ name, yml string }{
		{"old version", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n"},
		{"no rules", head + "rules: []\n"},
		{"bad level", head + "rules: [{level: Everything}]\n"},
		{"bad stage", head + "omitStages: [Done]\nrules: [{level: None}]\n"},
		{"bad rule stage", head + "rules: [{level: None, omitStages: [Done]}]\n"},
		{"unknown field", head + "rules: [{level: None, user: [x]}]\n"},
		{"resources and URLs", head + "rules: [{level: None, nonResourceURLs: [/x], resources: [{group: ''}]}]\n"},
		{"namespaces and URLs", head + "rules: [{level: None, nonResourceURLs: [/x], namespaces: [a]}]\n"},
		{"star in the middle", head + "rules: [{level: None, nonResourceURLs: ['/a*/b']}]\n"},
		{"relative URL", head + "rules: [{level: None, nonResourceURLs: [healthz]}]\n"},
		{"names without resources", head + "rules: [{level: None, resources: [{group: '', resourceNames: [x]}]}]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePolicy([]byte(tc.yml)); !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("err = %v; want ErrInvalidPolicy", err)
			}
		})
	}
}
