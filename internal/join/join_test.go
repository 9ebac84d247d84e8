package join

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/auth/authn"
)

func TestParseToken(t *testing.T) {
	good := "K10" + strings.Repeat("ab", 32) + "::abcdef.0123456789abcdef"
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", good, true},
		{"surrounding space", " " + good + "\n", true},
		{"no prefix", strings.TrimPrefix(good, "K10"), false},
		{"short hash", "K10abcd::abcdef.0123456789abcdef", false},
		{"short secret", "K10" + strings.Repeat("ab", 32) + "::abcdef.0123", false},
		{"upper case id", "K10" + strings.Repeat("ab", 32) + "::ABCDEF.0123456789abcdef", false},
		{"no separator", "K10" + strings.Repeat("ab", 32) + "abcdef.0123456789abcdef", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseToken(tt.token)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v; want ok %v", err, tt.ok)
			}
			if tt.ok && tok.String() != strings.TrimSpace(tt.token) {
				t.Errorf("String() = %q; want %q", tok.String(), strings.TrimSpace(tt.token))
			}
		})
	}
}

func TestFromSecretIsStable(t *testing.T) {
	ca := []byte("ca")
	a, b := FromSecret("my cluster secret", ca), FromSecret("my cluster secret", ca)
	if a != b {
		t.Fatalf("same secret gave %v and %v", a, b)
	}
	if _, err := ParseToken(a.String()); err != nil {
		t.Fatalf("derived token does not parse: %v", err)
	}
	if c := FromSecret("other", ca); c.Bootstrap() == a.Bootstrap() {
		t.Errorf("different secrets gave the same bootstrap token %s", c.Bootstrap())
	}
	// A full token passed as the secret keeps its credentials.
	if d := FromSecret(a.String(), []byte("new ca")); d.Bootstrap() != a.Bootstrap() || d.CAHash == a.CAHash {
		t.Errorf("FromSecret(token) = %v; want the same credentials, the new CA's hash", d)
	}
}

type issuer struct{ nodes []string }

func (i *issuer) IssueNodeCert(node string) ([]byte, []byte, error) {
	i.nodes = append(i.nodes, node)
	return []byte("cert for " + node), []byte("key for " + node), nil
}

func TestJoin(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	caPEM := pemOf(srv.Certificate().Raw)
	tok, err := NewToken(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		Type: authn.BootstrapSecretType,
		Data: map[string][]byte{
			"token-id": []byte(tok.ID), "token-secret": []byte(tok.Secret),
			"usage-bootstrap-authentication": []byte("true"),
		},
	}
	iss := &issuer{}
	srv.Config.Handler = &Handler{CA: caPEM, Issuer: iss, Authenticator: &authn.Chain{
		Tokens: []authn.TokenAuthenticator{&authn.BootstrapTokens{Secrets: func(_ context.Context, ns, name string) (*corev1.Secret, error) {
			if ns == "kube-system" && name == authn.BootstrapSecretPrefix+tok.ID {
				return secret, nil
			}
			return nil, errors.New("not found")
		}}},
		AllowAnonymous: true,
	}}

	id, err := Join(context.Background(), srv.URL, tok, "worker-1")
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	if string(id.Certificate) != "cert for worker-1" || string(id.Key) != "key for worker-1" || string(id.CA) != string(caPEM) {
		t.Errorf("identity = %q %q; want worker-1's", id.Certificate, id.Key)
	}

	wrongCA := tok
	wrongCA.CAHash = strings.Repeat("0", 64)
	if _, err := Join(context.Background(), srv.URL, wrongCA, "worker-2"); !errors.Is(err, ErrCAChanged) {
		t.Errorf("join with another CA's hash: %v; want ErrCAChanged", err)
	}
	wrongSecret := tok
	wrongSecret.Secret = strings.Repeat("x", 16)
	if _, err := Join(context.Background(), srv.URL, wrongSecret, "worker-3"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("join with a wrong secret: %v; want 401", err)
	}
	if _, err := Join(context.Background(), srv.URL, tok, "Bad_Name"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("join with an invalid node name: %v; want 400", err)
	}
	if len(iss.nodes) != 1 || iss.nodes[0] != "worker-1" {
		t.Errorf("issued for %v; want only worker-1", iss.nodes)
	}
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
