package authn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// fuzzChain is a Chain with one valid credential of each token kind: a
// static token, a bootstrap token and a service-account JWT.
type fuzzChain struct {
	chain     *Chain
	static    string
	bootstrap string
	jwt       string
	jwtParts  [][]byte // the JWT's decoded segments
}

func newFuzzChain(f *testing.F) *fuzzChain {
	f.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", UID: "sa-uid"}}
	sat := NewServiceAccountTokens(key, "", nil)
	sat.Now = func() time.Time { return now }
	sat.GetServiceAccount = func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		if ns != sa.Namespace || name != sa.Name {
			return nil, errors.New("not found")
		}
		return sa, nil
	}
	notFound := func(context.Context, string, string) (*corev1.Pod, error) { return nil, errors.New("not found") }
	sat.GetPod = notFound
	sat.GetSecret = func(context.Context, string, string) (*corev1.Secret, error) { return nil, errors.New("not found") }
	sat.GetNode = func(context.Context, string) (*corev1.Node, error) { return nil, errors.New("not found") }
	jwt, _, err := sat.Issue(sa, nil, time.Hour, Bound{})
	if err != nil {
		f.Fatal(err)
	}

	bootstrapSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: BootstrapSecretPrefix + "abcdef"},
		Type:       BootstrapSecretType,
		Data: map[string][]byte{
			"token-id":                       []byte("abcdef"),
			"token-secret":                   []byte("0123456789abcdef"),
			"usage-bootstrap-authentication": []byte("true"),
			"expiration":                     []byte(now.Add(time.Hour).Format(time.RFC3339)),
			"auth-extra-groups":              []byte("system:bootstrappers:skiff:default-node-token, evil-group"),
		},
	}
	bt := &BootstrapTokens{
		Now: func() time.Time { return now },
		Secrets: func(_ context.Context, ns, name string) (*corev1.Secret, error) {
			if ns == bootstrapSecret.Namespace && name == bootstrapSecret.Name {
				return bootstrapSecret, nil
			}
			return nil, errors.New("not found")
		},
	}
	tf := &TokenFile{users: map[string]*auth.User{
		"static-token-31337": {Name: "alice", UID: "1", Groups: []string{"dev"}},
	}}
	fc := &fuzzChain{
		chain:     &Chain{Tokens: []TokenAuthenticator{tf, bt, sat}, AllowAnonymous: true},
		static:    "static-token-31337",
		bootstrap: "abcdef.0123456789abcdef",
		jwt:       jwt,
	}
	if fc.jwtParts = decodeJWT(jwt); fc.jwtParts == nil {
		f.Fatalf("issued token %q does not decode", jwt)
	}
	return fc
}

// decodeJWT returns the three decoded segments of a compact JWS, or nil.
func decodeJWT(token string) [][]byte {
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return nil
	}
	var out [][]byte
	for _, s := range segs {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		out = append(out, b)
	}
	return out
}

// sameJWT reports whether token decodes to exactly the issued JWT. Base64
// decoding, as in upstream's go-jose, ignores the unused low bits of a
// segment's last character, so a few spellings of one token are one token.
func (fc *fuzzChain) sameJWT(token string) bool {
	parts := decodeJWT(token)
	if parts == nil {
		return false
	}
	for i := range parts {
		if !bytes.Equal(parts[i], fc.jwtParts[i]) {
			return false
		}
	}
	return true
}

// want is the user a token must authenticate as, "" if none.
func (fc *fuzzChain) want(token string) string {
	switch {
	case token == fc.static:
		return "alice"
	case token == fc.bootstrap:
		return "system:bootstrap:abcdef"
	case fc.sameJWT(token):
		return "system:serviceaccount:ci:builder"
	}
	return ""
}

// FuzzAuthenticateToken runs arbitrary bearer tokens through the token
// authenticators (static token file, bootstrap tokens, service-account
// JWTs) as a Chain, directly and in an Authorization header. None may
// panic, and only the three valid credentials authenticate, each as its
// own user; a header that does not carry one of them is either rejected
// or, when it carries no bearer token at all, anonymous.
func FuzzAuthenticateToken(f *testing.F) {
	fc := newFuzzChain(f)
	segs := strings.Split(fc.jwt, ".")
	seeds := []string{
		fc.static, fc.bootstrap, fc.jwt,
		"", " ", "static-token-3133", "static-token-31337 ", "STATIC-TOKEN-31337",
		"abcdef.0123456789abcdeg", "abcdef.0123456789abcde", "ABCDEF.0123456789ABCDEF", "abcdef.0123456789abcdef\n",
		"zzzzzz.0123456789abcdef",
		segs[0] + "." + segs[1] + ".",
		segs[0] + "." + segs[1],
		segs[0] + "." + segs[1] + "." + segs[2] + ".",
		"eyJhbGciOiJub25lIn0." + segs[1] + ".",
		"eyJhbGciOiJIUzI1NiJ9." + segs[1] + "." + segs[2],
		segs[0] + ".e30." + segs[2],
		fc.jwt[:len(fc.jwt)-1] + "A",
		"a.b.c", "..", "....", "%%%.%%%.%%%",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		want := fc.want(token)
		u, err := fc.chain.AuthenticateToken(token)
		switch {
		case want == "" && err == nil:
			t.Fatalf("token %q authenticated as %+v; want rejected", token, u)
		case want != "" && err != nil:
			t.Fatalf("valid token %q rejected: %v", token, err)
		case want != "" && u.Name != want:
			t.Fatalf("token %q authenticated as %q; want %q", token, u.Name, want)
		case want != "" && !contains(u.Groups, auth.AllAuthenticated):
			t.Fatalf("token %q: groups %v lack %s", token, u.Groups, auth.AllAuthenticated)
		case want == "system:bootstrap:abcdef" && contains(u.Groups, "evil-group"):
			t.Fatalf("bootstrap token got a group outside system:bootstrappers: %v", u.Groups)
		}

		r := httptest.NewRequest("GET", "/api", nil)
		r.Header["Authorization"] = []string{"Bearer " + token}
		u, ok, err := fc.chain.AuthenticateRequest(r)
		trimmed := strings.TrimSpace(token)
		switch wantHeader := fc.want(trimmed); {
		case trimmed == "":
			if err != nil || !ok || u.Name != auth.Anonymous {
				t.Fatalf("blank bearer token %q: user %+v ok %v err %v; want anonymous", token, u, ok, err)
			}
		case wantHeader == "":
			if err == nil {
				t.Fatalf("header token %q authenticated as %+v; want rejected", token, u)
			}
		case err != nil || !ok || u.Name != wantHeader:
			t.Fatalf("header token %q: user %+v ok %v err %v; want %s", token, u, ok, err, wantHeader)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestServiceAccountTokenValidityWindow checks, on an injected clock, that
// a token is rejected from its expiry on and before its not-before time,
// with upstream's messages.
func TestServiceAccountTokenValidityWindow(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", UID: "sa-uid"}}
	s := NewServiceAccountTokens(key, "", nil)
	s.GetServiceAccount = func(context.Context, string, string) (*corev1.ServiceAccount, error) { return sa, nil }
	s.Now = func() time.Time { return issued }
	token, exp, err := s.Issue(sa, nil, 10*time.Minute, Bound{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		at      time.Time
		wantErr string
	}{
		{"at issue", issued, ""},
		{"a second before expiry", exp.Add(-time.Second), ""},
		{"at expiry", exp, "service account token has expired"},
		{"a year later", exp.AddDate(1, 0, 0), "service account token has expired"},
		{"before not-before", issued.Add(-time.Second), "service account token is not valid yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Now = func() time.Time { return tt.at }
			u, ok, err := s.AuthenticateToken(token)
			if !ok {
				t.Fatalf("ok = false; the token is ours")
			}
			if tt.wantErr == "" {
				if err != nil || u.Name != "system:serviceaccount:ci:builder" {
					t.Fatalf("user %+v, err %v; want system:serviceaccount:ci:builder", u, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v; want %q", err, tt.wantErr)
			}
			if _, err := (&Chain{Tokens: []TokenAuthenticator{s}}).AuthenticateToken(token); err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Chain: err = %v; want %q", err, tt.wantErr)
			}
		})
	}
}
