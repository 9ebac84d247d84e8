package authn

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Bootstrap token Secret layout, as upstream defines it.
const (
	BootstrapSecretType   = corev1.SecretType("bootstrap.kubernetes.io/token")
	BootstrapSecretPrefix = "bootstrap-token-"
	BootstrapGroup        = "system:bootstrappers"
	bootstrapUserPrefix   = "system:bootstrap:"
)

var bootstrapTokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// SecretGetter reads a Secret (kube-system bootstrap tokens).
type SecretGetter func(ctx context.Context, namespace, name string) (*corev1.Secret, error)

// BootstrapTokens authenticates "ID.SECRET" tokens against Secrets named
// bootstrap-token-ID in kube-system, as `skiff agent --token` uses to join.
type BootstrapTokens struct {
	Secrets SecretGetter
	Now     func() time.Time
}

var _ TokenAuthenticator = (*BootstrapTokens)(nil)

var errBootstrapInvalid = errors.New("authn: invalid bootstrap token")

// AuthenticateToken checks a bootstrap token.
func (b *BootstrapTokens) AuthenticateToken(token string) (*auth.User, bool, error) {
	m := bootstrapTokenRE.FindStringSubmatch(token)
	if m == nil {
		return nil, false, nil
	}
	id, secret := m[1], m[2]
	s, err := b.Secrets(context.Background(), "kube-system", BootstrapSecretPrefix+id)
	if err != nil || s.Type != BootstrapSecretType || s.DeletionTimestamp != nil {
		return nil, true, errBootstrapInvalid
	}
	data := func(k string) string { return string(s.Data[k]) }
	if data("token-id") != id || subtle.ConstantTimeCompare([]byte(data("token-secret")), []byte(secret)) != 1 {
		return nil, true, errBootstrapInvalid
	}
	if data("usage-bootstrap-authentication") != "true" {
		return nil, true, errBootstrapInvalid
	}
	if exp := data("expiration"); exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		now := time.Now
		if b.Now != nil {
			now = b.Now
		}
		if err != nil || !now().Before(t) {
			return nil, true, errBootstrapInvalid
		}
	}
	groups := []string{BootstrapGroup}
	for _, g := range strings.Split(data("auth-extra-groups"), ",") {
		if g = strings.TrimSpace(g); strings.HasPrefix(g, "system:bootstrappers:") {
			groups = append(groups, g)
		}
	}
	return &auth.User{Name: bootstrapUserPrefix + id, Groups: groups}, true, nil
}
