package manager

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Service-account credentials, as upstream's --use-service-account-credentials:
// each controller talks to the API server as kube-system/<its service
// account>, so it holds exactly its system:controller:<name> role. The
// manager's own identity only creates those service accounts and their
// tokens (and, elsewhere, holds the leader lease and feeds the shared
// informers).

// tokenTTL is how long a controller token is requested for; it is renewed
// once 80% of that has passed.
const tokenTTL = time.Hour

// serviceAccountConfig returns a copy of root that authenticates as
// kube-system/<name> with a bound token it renews itself, creating the
// service account first if it is missing. The first token is requested
// before it returns, so a controller that cannot get one fails to start.
func serviceAccountConfig(ctx context.Context, root *rest.Config, client kubernetes.Interface, name string, clk clock.Clock) (*rest.Config, error) {
	sas := client.CoreV1().ServiceAccounts(metav1.NamespaceSystem)
	if _, err := sas.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("service account %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("service account %s: %w", name, err)
	}
	src := &tokenSource{client: client, name: name, clock: clk}
	if _, err := src.token(ctx); err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(root)
	cfg.UserAgent = root.UserAgent + "/" + name
	cfg.QPS, cfg.Burst = root.QPS, root.Burst
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &bearer{src: src, next: rt} })
	return cfg, nil
}

// tokenSource requests and caches a service account's token.
type tokenSource struct {
	client kubernetes.Interface
	name   string
	clock  clock.Clock

	mu      sync.Mutex // guards current and refresh
	current string
	refresh time.Time
}

// token returns the cached token, requesting a new one once the old one
// is 80% through its life. If renewing fails while the old token is still
// valid, the old one is used.
func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.current != "" && now.Before(s.refresh) {
		return s.current, nil
	}
	secs := int64(tokenTTL / time.Second)
	tr, err := s.client.CoreV1().ServiceAccounts(metav1.NamespaceSystem).CreateToken(ctx, s.name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		if s.current != "" {
			return s.current, nil
		}
		return "", fmt.Errorf("token for service account %s: %w", s.name, err)
	}
	life := tr.Status.ExpirationTimestamp.Sub(now)
	if life <= 0 {
		life = tokenTTL
	}
	s.current, s.refresh = tr.Status.Token, now.Add(life*4/5)
	return s.current, nil
}

// bearer adds the service account's current token to each request.
type bearer struct {
	src  *tokenSource
	next http.RoundTripper
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.src.token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	return b.next.RoundTrip(req)
}
