package join

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/auth"
)

// bearerUsers authenticates "Bearer NAME" as the user of that name in
// users.
type bearerUsers map[string]*auth.User

func (b bearerUsers) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	u, ok := b[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	return u, ok, nil
}

func TestClusterConfig(t *testing.T) {
	want := ClusterConfig{ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16", ClusterDNS: "10.43.0.10", ClusterDomain: "cluster.local", FlannelBackend: "host-gw"}
	srv := httptest.NewTLSServer(&Handler{Cluster: want, Authenticator: bearerUsers{
		"node":  {Name: "system:node:a", Groups: []string{auth.NodesGroup}},
		"admin": {Name: "admin", Groups: []string{auth.SystemPrivileged}},
		"user":  {Name: "alice"},
	}})
	defer srv.Close()
	ca := pemOf(srv.Certificate().Raw)
	for _, tt := range []struct {
		token string
		ok    bool
		code  string
	}{
		{"node", true, ""},
		{"admin", true, ""},
		{"user", false, "403"},
		{"nobody", false, "401"},
	} {
		t.Run(tt.token, func(t *testing.T) {
			rc := &rest.Config{Host: srv.URL, BearerToken: tt.token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
			got, err := FetchClusterConfig(context.Background(), rc)
			if tt.ok {
				if err != nil || got != want {
					t.Fatalf("got %+v, %v; want %+v", got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.code) {
				t.Fatalf("err = %v; want a %s", err, tt.code)
			}
		})
	}
}
