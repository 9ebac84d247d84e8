package authn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Errors for credentials that are present but invalid (401).
var (
	// ErrInvalidToken is returned for a bearer token no authenticator accepts.
	ErrInvalidToken = errors.New("authn: invalid bearer token")
	// ErrInvalidCertificate is returned for a client certificate the cluster
	// CA did not sign.
	ErrInvalidCertificate = errors.New("authn: invalid client certificate")
)

// TokenAuthenticator checks one bearer token. ok is false when the token is
// not of its kind; err is set when it is of its kind but invalid.
type TokenAuthenticator interface {
	AuthenticateToken(token string) (u *auth.User, ok bool, err error)
}

// Chain authenticates with client certificates first, then bearer tokens;
// requests without either are anonymous when AllowAnonymous is set.
type Chain struct {
	// ClientCAs verifies client certificates the TLS layer requested but did
	// not verify (the server asks for them without requiring a known
	// issuer, as upstream does, so a foreign one gets 401).
	ClientCAs      *x509.CertPool
	Tokens         []TokenAuthenticator
	AllowAnonymous bool
}

var _ auth.Authenticator = (*Chain)(nil)

// AuthenticateRequest identifies the user of r. ok is false (with a nil
// error) only when the request has no credentials and anonymous access is
// off; invalid credentials give an error.
func (c *Chain) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	if u, ok, err := c.fromCertificate(r); ok || err != nil {
		return u, ok, err
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

// fromCertificate reads the user from a client certificate signed by the
// cluster CA; a certificate it did not sign is an error.
func (c *Chain) fromCertificate(r *http.Request) (*auth.User, bool, error) {
	if r.TLS == nil {
		return nil, false, nil
	}
	var cert *x509.Certificate
	switch {
	case len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0:
		cert = r.TLS.VerifiedChains[0][0]
	case len(r.TLS.PeerCertificates) > 0:
		peers := r.TLS.PeerCertificates
		inter := x509.NewCertPool()
		for _, p := range peers[1:] {
			inter.AddCert(p)
		}
		if c.ClientCAs == nil {
			return nil, false, ErrInvalidCertificate
		}
		if _, err := peers[0].Verify(x509.VerifyOptions{Roots: c.ClientCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrInvalidCertificate, err)
		}
		cert = peers[0]
	default:
		return nil, false, nil
	}
	if cert.Subject.CommonName == "" {
		return nil, false, nil
	}
	u := &auth.User{Name: cert.Subject.CommonName, Groups: append([]string(nil), cert.Subject.Organization...)}
	return withAuthenticated(u), true, nil
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
