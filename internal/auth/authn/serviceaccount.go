package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/skiff-sh/skiff/internal/auth"
)

// DefaultIssuer is the service-account token issuer and default audience,
// as upstream's default cluster domain makes it.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Extra keys upstream attaches to service-account users.
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)

// ServiceAccountUsername is the user name of a service account.
func ServiceAccountUsername(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ref names a bound object in a token's claims.
type ref struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid"`
}

// k8sClaims is the "kubernetes.io" claim of a service-account token.
type k8sClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount ref    `json:"serviceaccount"`
	Pod            *ref   `json:"pod,omitempty"`
	Secret         *ref   `json:"secret,omitempty"`
	Node           *ref   `json:"node,omitempty"`
}

type claims struct {
	jwt.RegisteredClaims
	Kubernetes k8sClaims `json:"kubernetes.io"`
}

// Bound is what a token may be bound to: the objects whose deletion
// invalidates it.
type Bound struct {
	Pod    *corev1.Pod
	Secret *corev1.Secret
	Node   *corev1.Node
}

// ServiceAccountTokens issues and verifies service-account JWTs.
type ServiceAccountTokens struct {
	key       *ecdsa.PrivateKey
	Issuer    string
	Audiences []string
	Now       func() time.Time

	// Lookups that check the objects a token names still exist with the
	// same UID. Each returns an error when the object does not exist.
	GetServiceAccount func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	GetPod            func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetSecret         func(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	GetNode           func(ctx context.Context, name string) (*corev1.Node, error)
}

var _ TokenAuthenticator = (*ServiceAccountTokens)(nil)

// LoadOrCreateKey reads the ECDSA signing key at path, creating it (0600)
// on first start.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM data", path)
		}
		return x509.ParseECPrivateKey(block.Bytes)
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return key, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

// NewServiceAccountTokens returns a token service signing with key. The
// lookups must be set before tokens are verified.
func NewServiceAccountTokens(key *ecdsa.PrivateKey, issuer string, audiences []string) *ServiceAccountTokens {
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if len(audiences) == 0 {
		audiences = []string{issuer}
	}
	return &ServiceAccountTokens{key: key, Issuer: issuer, Audiences: audiences, Now: time.Now}
}

// PublicKey is the key tokens verify against.
func (s *ServiceAccountTokens) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// Issue signs a token for sa, valid for the audiences (the API's own when
// empty) until now+ttl, bound to the given objects.
func (s *ServiceAccountTokens) Issue(sa *corev1.ServiceAccount, audiences []string, ttl time.Duration, bound Bound) (string, time.Time, error) {
	if len(audiences) == 0 {
		audiences = s.Audiences
	}
	now := s.Now().Truncate(time.Second)
	exp := now.Add(ttl)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.Issuer,
			Subject:   ServiceAccountUsername(sa.Namespace, sa.Name),
			Audience:  audiences,
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        string(uuid.NewUUID()),
		},
		Kubernetes: k8sClaims{Namespace: sa.Namespace, ServiceAccount: ref{Name: sa.Name, UID: sa.UID}},
	}
	if p := bound.Pod; p != nil {
		c.Kubernetes.Pod = &ref{Name: p.Name, UID: p.UID}
	}
	if sec := bound.Secret; sec != nil {
		c.Kubernetes.Secret = &ref{Name: sec.Name, UID: sec.UID}
	}
	if n := bound.Node; n != nil {
		c.Kubernetes.Node = &ref{Name: n.Name, UID: n.UID}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = s.KeyID() // as upstream, so issuer discovery's key set names the key
	token, err := t.SignedString(s.key)
	return token, exp, err
}

// KeyID names the signing key as upstream does: the unpadded base64url
// SHA-256 of its public key in PKIX DER form.
func (s *ServiceAccountTokens) KeyID() string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var errTokenInvalid = errors.New("authn: invalid service account token")

// Upstream's words for a token outside its validity window (TokenReview
// status.error and the server log carry them).
var (
	errTokenExpired     = errors.New("service account token has expired")
	errTokenNotValidYet = errors.New("service account token is not valid yet")
)

// AuthenticateToken verifies a service-account JWT against the API's
// audiences.
func (s *ServiceAccountTokens) AuthenticateToken(token string) (*auth.User, bool, error) {
	u, _, ok, err := s.Verify(context.Background(), token, s.Audiences)
	return u, ok, err
}

// Verify checks a token's signature, issuer, expiry and bound objects and
// that its audience includes one of audiences; it returns the user and the
// matching audiences. ok is false for tokens this issuer did not sign.
func (s *ServiceAccountTokens) Verify(ctx context.Context, token string, audiences []string) (*auth.User, []string, bool, error) {
	c := &claims{}
	parsed, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(s.Issuer),
		jwt.WithTimeFunc(s.Now),
		jwt.WithLeeway(0),
	)
	if err != nil || !parsed.Valid {
		if errors.Is(err, jwt.ErrTokenMalformed) || errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenInvalidIssuer) {
			return nil, nil, false, nil
		}
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, nil, true, errTokenExpired
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return nil, nil, true, errTokenNotValidYet
		}
		return nil, nil, true, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	var matched []string
	for _, want := range audiences {
		for _, have := range c.Audience {
			if want == have {
				matched = append(matched, want)
			}
		}
	}
	if len(matched) == 0 {
		return nil, nil, true, fmt.Errorf("%w: token audiences %q is invalid for the target audiences %q", errTokenInvalid, []string(c.Audience), audiences)
	}
	k := c.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" {
		return nil, nil, true, errTokenInvalid
	}
	sa, err := s.GetServiceAccount(ctx, k.Namespace, k.ServiceAccount.Name)
	if err != nil || sa.UID != k.ServiceAccount.UID || sa.DeletionTimestamp != nil {
		return nil, nil, true, fmt.Errorf("%w: service account %s/%s has been deleted", errTokenInvalid, k.Namespace, k.ServiceAccount.Name)
	}
	u := &auth.User{
		Name:   ServiceAccountUsername(k.Namespace, k.ServiceAccount.Name),
		UID:    string(sa.UID),
		Groups: []string{auth.ServiceAccountGroup, auth.ServiceAccountGroup + ":" + k.Namespace},
		Extra:  map[string][]string{ExtraCredentialID: {"JTI=" + c.ID}},
	}
	if p := k.Pod; p != nil {
		pod, err := s.GetPod(ctx, k.Namespace, p.Name)
		if err != nil || pod.UID != p.UID || pod.DeletionTimestamp != nil {
			return nil, nil, true, fmt.Errorf("%w: pod %s/%s has been deleted", errTokenInvalid, k.Namespace, p.Name)
		}
		u.Extra[ExtraPodName] = []string{p.Name}
		u.Extra[ExtraPodUID] = []string{string(p.UID)}
	}
	if sec := k.Secret; sec != nil {
		secret, err := s.GetSecret(ctx, k.Namespace, sec.Name)
		if err != nil || secret.UID != sec.UID || secret.DeletionTimestamp != nil {
			return nil, nil, true, fmt.Errorf("%w: secret %s/%s has been deleted", errTokenInvalid, k.Namespace, sec.Name)
		}
	}
	if n := k.Node; n != nil {
		node, err := s.GetNode(ctx, n.Name)
		if err != nil || node.UID != n.UID {
			return nil, nil, true, fmt.Errorf("%w: node %s has been deleted", errTokenInvalid, n.Name)
		}
		u.Extra[ExtraNodeName] = []string{n.Name}
		u.Extra[ExtraNodeUID] = []string{string(n.UID)}
	}
	return u, matched, true, nil
}
