package authn

import (
	"errors"
	"net/http"
	"strings"

	"github.com/skiff-sh/skiff/internal/auth"
)

// ErrInvalidToken is returned for a bearer token no authenticator accepts.
var ErrInvalidToken = errors.New("authn: invalid bearer token")

// TokenAuthenticator checks one bearer token. ok is false when the token is
// not of its kind; err is set when it is of its kind but invalid.
type TokenAuthenticator interface {
	AuthenticateToken(token string) (u *auth.User, ok bool, err error)
}

// Chain authenticates with client certificates first, then bearer tokens;
// requests without either are anonymous when AllowAnonymous is set.
type Chain struct {
	Tokens         []TokenAuthenticator
	AllowAnonymous bool
}

var _ auth.Authenticator = (*Chain)(nil)

// AuthenticateRequest identifies the user of r. ok is false (with a nil
// error) only when the request has no credentials and anonymous access is
// off; invalid credentials give an error.
func (c *Chain) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	if u, ok := fromCertificate(r); ok {
		return u, true, nil
	}
	if token, ok := bearerToken(r); ok {
		u, err := c.AuthenticateToken(token)
		if err != nil {
			return nil, false, err
		}
		return u, true, nil
	}
	if c.AllowAnonymous {
		return &auth.User{Name: auth.Anonymous, Groups: []string{auth.AllUnauthenticated}}, true, nil
	}
	return nil, false, nil
}

// AuthenticateToken runs a bearer token through the token authenticators
// (TokenReview uses it too).
func (c *Chain) AuthenticateToken(token string) (*auth.User, error) {
	var firstErr error
	for _, t := range c.Tokens {
		u, ok, err := t.AuthenticateToken(token)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if ok && err == nil {
			return withAuthenticated(u), nil
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, ErrInvalidToken
}

// fromCertificate reads the user from a client certificate the TLS layer
// verified against the cluster CA.
func fromCertificate(r *http.Request) (*auth.User, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return nil, false
	}
	u := &auth.User{Name: cert.Subject.CommonName, Groups: append([]string(nil), cert.Subject.Organization...)}
	return withAuthenticated(u), true
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// withAuthenticated adds system:authenticated, as upstream does for every
// authenticated user.
func withAuthenticated(u *auth.User) *auth.User {
	for _, g := range u.Groups {
		if g == auth.AllAuthenticated {
			return u
		}
	}
	u.Groups = append(u.Groups, auth.AllAuthenticated)
	return u
}
