package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, method, url string
		want              requestInfo
		ok                bool
	}{
		{"core list", "GET", "/api/v1/pods", requestInfo{Version: "v1", Resource: "pods", Verb: "list"}, true},
		{"namespaced get", "GET", "/api/v1/namespaces/ns1/pods/p1", requestInfo{Version: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Verb: "get"}, true},
		{"status", "PUT", "/api/v1/namespaces/ns1/pods/p1/status", requestInfo{Version: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Subresource: "status", Verb: "update"}, true},
		{"group create", "POST", "/apis/apps/v1/namespaces/ns1/deployments", requestInfo{Group: "apps", Version: "v1", Namespace: "ns1", Resource: "deployments", Verb: "create"}, true},
		{"watch param", "GET", "/apis/apps/v1/deployments?watch=true", requestInfo{Group: "apps", Version: "v1", Resource: "deployments", Verb: "watch"}, true},
		{"watch path", "GET", "/api/v1/watch/namespaces/ns1/configmaps/c", requestInfo{Version: "v1", Namespace: "ns1", Resource: "configmaps", Name: "c", Verb: "watch"}, true},
		{"namespace get", "GET", "/api/v1/namespaces/ns1", requestInfo{Version: "v1", Resource: "namespaces", Name: "ns1", Verb: "get"}, true},
		{"namespace list", "GET", "/api/v1/namespaces", requestInfo{Version: "v1", Resource: "namespaces", Verb: "list"}, true},
		{"namespace finalize", "PUT", "/api/v1/namespaces/ns1/finalize", requestInfo{Version: "v1", Resource: "namespaces", Name: "ns1", Subresource: "finalize", Verb: "update"}, true},
		{"cluster delete", "DELETE", "/api/v1/nodes/n1", requestInfo{Version: "v1", Resource: "nodes", Name: "n1", Verb: "delete"}, true},
		{"deletecollection", "DELETE", "/api/v1/namespaces/ns1/configmaps", requestInfo{Version: "v1", Namespace: "ns1", Resource: "configmaps", Verb: "deletecollection"}, true},
		{"patch scale", "PATCH", "/apis/apps/v1/namespaces/ns1/deployments/d/scale", requestInfo{Group: "apps", Version: "v1", Namespace: "ns1", Resource: "deployments", Name: "d", Subresource: "scale", Verb: "patch"}, true},
		{"discovery", "GET", "/apis/apps/v1", requestInfo{}, false},
		{"node proxy path", "GET", "/api/v1/nodes/n1/proxy/stats/summary", requestInfo{Version: "v1", Resource: "nodes", Name: "n1", Subresource: "proxy", Verb: "get"}, true},
		{"pod exec", "POST", "/api/v1/namespaces/ns1/pods/p1/exec?command=ls", requestInfo{Version: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Subresource: "exec", Verb: "create"}, true},
		{"pod proxy with port and scheme", "GET", "/api/v1/namespaces/ns1/pods/https:p1:8443/proxy/a/b?watch=true", requestInfo{Version: "v1", Namespace: "ns1", Resource: "pods", Name: "https:p1:8443", Subresource: "proxy", Verb: "get"}, true},
		{"pod proxy head", "HEAD", "/api/v1/namespaces/ns1/pods/p1/proxy", requestInfo{Version: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Subresource: "proxy", Verb: "get"}, true},
		{"service proxy post", "POST", "/api/v1/namespaces/ns1/services/s1:http/proxy/x", requestInfo{Version: "v1", Namespace: "ns1", Resource: "services", Name: "s1:http", Subresource: "proxy", Verb: "create"}, true},
		{"service proxy options", "OPTIONS", "/api/v1/namespaces/ns1/services/s1/proxy/", requestInfo{Version: "v1", Namespace: "ns1", Resource: "services", Name: "s1", Subresource: "proxy", Verb: ""}, true},
		{"too deep", "GET", "/api/v1/namespaces/ns1/pods/p1/status/x", requestInfo{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRequest(httptest.NewRequest(tt.method, tt.url, nil))
			if ok != tt.ok {
				t.Fatalf("ok = %v; want %v", ok, tt.ok)
			}
			if ok && got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestManagerFromUserAgent(t *testing.T) {
	tests := map[string]string{
		"kubectl-client-side-apply/v1.32.4 (linux/amd64) kubernetes/abc": "kubectl-client-side-apply",
		"kube-controller-manager/v1.30":                                  "kube-controller-manager",
		"plain":                                                          "plain",
	}
	for ua, want := range tests {
		if got := managerFromUserAgent(ua); got != want {
			t.Errorf("managerFromUserAgent(%q) = %q; want %q", ua, got, want)
		}
	}
}
