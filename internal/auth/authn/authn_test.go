package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

func TestChain(t *testing.T) {
	tf := &TokenFile{users: map[string]*auth.User{"good": {Name: "alice", Groups: []string{"dev"}}}}
	tests := []struct {
		name      string
		cert      *x509.Certificate
		header    string
		anonymous bool
		wantUser  string
		wantGroup []string
		wantOK    bool
		wantErr   bool
	}{
		{name: "certificate", cert: &x509.Certificate{Subject: pkix.Name{CommonName: "bob", Organization: []string{"system:masters"}}}, wantUser: "bob", wantGroup: []string{"system:masters", auth.AllAuthenticated}, wantOK: true},
		{name: "token", header: "Bearer good", wantUser: "alice", wantGroup: []string{"dev", auth.AllAuthenticated}, wantOK: true},
		{name: "bad token", header: "Bearer bad", anonymous: true, wantErr: true},
		{name: "anonymous", anonymous: true, wantUser: auth.Anonymous, wantGroup: []string{auth.AllUnauthenticated}, wantOK: true},
		{name: "no credentials", wantOK: false},
		{name: "basic auth is not a bearer token", header: "Basic Zm9v", anonymous: true, wantUser: auth.Anonymous, wantGroup: []string{auth.AllUnauthenticated}, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Chain{Tokens: []TokenAuthenticator{tf}, AllowAnonymous: tt.anonymous}
			r := httptest.NewRequest("GET", "/api", nil)
			if tt.cert != nil {
				r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{tt.cert}}}
			}
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			u, ok, err := c.AuthenticateRequest(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v; wantErr %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok = %v; want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if u.Name != tt.wantUser || !reflect.DeepEqual(u.Groups, tt.wantGroup) {
				t.Errorf("user = %s %v; want %s %v", u.Name, u.Groups, tt.wantUser, tt.wantGroup)
			}
		})
	}
}

func TestLoadTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte("t1,alice,100,\"g1,g2\"\nt2,bob,101\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u, ok, _ := tf.AuthenticateToken("t1")
	if !ok || u.Name != "alice" || u.UID != "100" || !reflect.DeepEqual(u.Groups, []string{"g1", "g2"}) {
		t.Errorf("t1 = %+v, %v; want alice 100 [g1 g2]", u, ok)
	}
	if u, ok, _ := tf.AuthenticateToken("t2"); !ok || u.Name != "bob" || len(u.Groups) != 0 {
		t.Errorf("t2 = %+v, %v; want bob without groups", u, ok)
	}
	if _, ok, _ := tf.AuthenticateToken("t3"); ok {
		t.Error("unknown token accepted")
	}
}

func TestBootstrapTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	secret := func(mut func(*corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
			Type:       BootstrapSecretType,
			Data: map[string][]byte{
				"token-id": []byte("abcdef"), "token-secret": []byte("0123456789abcdef"),
				"usage-bootstrap-authentication": []byte("true"),
				"auth-extra-groups":              []byte("system:bootstrappers:skiff:default-node-token,evil"),
			},
		}
		if mut != nil {
			mut(s)
		}
		return s
	}
	tests := []struct {
		name    string
		secret  *corev1.Secret
		token   string
		wantOK  bool
		wantErr bool
	}{
		{"valid", secret(nil), "abcdef.0123456789abcdef", true, false},
		{"not a bootstrap token", secret(nil), "something", false, false},
		{"wrong secret", secret(nil), "abcdef.0123456789abcdee", true, true},
		{"missing", nil, "abcdef.0123456789abcdef", true, true},
		{"expired", secret(func(s *corev1.Secret) { s.Data["expiration"] = []byte("2025-01-01T00:00:00Z") }), "abcdef.0123456789abcdef", true, true},
		{"not for authentication", secret(func(s *corev1.Secret) { delete(s.Data, "usage-bootstrap-authentication") }), "abcdef.0123456789abcdef", true, true},
		{"wrong type", secret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }), "abcdef.0123456789abcdef", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &BootstrapTokens{Now: func() time.Time { return now }, Secrets: func(_ context.Context, ns, name string) (*corev1.Secret, error) {
				if tt.secret == nil || ns != "kube-system" || name != tt.secret.Name {
					return nil, errors.New("not found")
				}
				return tt.secret, nil
			}}
			u, ok, err := b.AuthenticateToken(tt.token)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ok, err = %v, %v; want %v, err %v", ok, err, tt.wantOK, tt.wantErr)
			}
			if ok && err == nil {
				want := []string{BootstrapGroup, "system:bootstrappers:skiff:default-node-token"}
				if u.Name != "system:bootstrap:abcdef" || !reflect.DeepEqual(u.Groups, want) {
					t.Errorf("user = %s %v; want system:bootstrap:abcdef %v", u.Name, u.Groups, want)
				}
			}
		})
	}
}

func TestServiceAccountTokens(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", UID: "sa-uid"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ci", UID: "pod-uid"}}
	newTokens := func(saNow *corev1.ServiceAccount, podNow *corev1.Pod) *ServiceAccountTokens {
		s := NewServiceAccountTokens(key, "", nil)
		s.Now = func() time.Time { return now }
		s.GetServiceAccount = func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
			if saNow == nil {
				return nil, errors.New("not found")
			}
			return saNow, nil
		}
		s.GetPod = func(_ context.Context, ns, name string) (*corev1.Pod, error) {
			if podNow == nil {
				return nil, errors.New("not found")
			}
			return podNow, nil
		}
		return s
	}
	issuer := newTokens(sa, pod)
	plain, exp, err := issuer.Issue(sa, nil, time.Hour, Bound{})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry = %v; want %v", exp, now.Add(time.Hour))
	}
	bound, _, _ := issuer.Issue(sa, nil, time.Hour, Bound{Pod: pod})
	other, _, _ := issuer.Issue(sa, []string{"vault"}, time.Hour, Bound{})

	recreatedSA := sa.DeepCopy()
	recreatedSA.UID = "new-uid"
	tests := []struct {
		name     string
		tokens   *ServiceAccountTokens
		token    string
		at       time.Time
		wantOK   bool
		wantErr  bool
		wantUser string
	}{
		{"valid", newTokens(sa, pod), plain, now, true, false, "system:serviceaccount:ci:builder"},
		{"bound to live pod", newTokens(sa, pod), bound, now, true, false, "system:serviceaccount:ci:builder"},
		{"bound pod deleted", newTokens(sa, nil), bound, now, true, true, ""},
		{"service account recreated", newTokens(recreatedSA, pod), plain, now, true, true, ""},
		{"expired", newTokens(sa, pod), plain, now.Add(2 * time.Hour), true, true, ""},
		{"other audience", newTokens(sa, pod), other, now, true, true, ""},
		{"not a JWT", newTokens(sa, pod), "abc", now, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			tt.tokens.Now = func() time.Time { return at }
			u, ok, err := tt.tokens.AuthenticateToken(tt.token)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ok, err = %v, %v; want %v, err %v", ok, err, tt.wantOK, tt.wantErr)
			}
			if tt.wantUser != "" && u.Name != tt.wantUser {
				t.Errorf("user = %s; want %s", u.Name, tt.wantUser)
			}
			if tt.wantUser != "" && !reflect.DeepEqual(u.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:ci"}) {
				t.Errorf("groups = %v", u.Groups)
			}
		})
	}
	t.Run("bound token carries pod extra", func(t *testing.T) {
		u, _, err := newTokens(sa, pod).AuthenticateToken(bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Extra[ExtraPodName]; !reflect.DeepEqual(got, []string{"p"}) {
			t.Errorf("pod-name extra = %v; want [p]", got)
		}
	})
}
