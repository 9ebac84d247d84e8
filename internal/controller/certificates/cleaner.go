package certificates

import (
	"context"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Upstream's ages: how long a request is kept once it is done with.
const (
	approvedExpiration = time.Hour
	deniedExpiration   = time.Hour
	failedExpiration   = time.Hour
	pendingExpiration  = 24 * time.Hour
	// cleanInterval is how often the cleaner looks.
	cleanInterval = time.Hour
)

// CleanerConfig holds what a Cleaner needs; Client and CSRs are required.
type CleanerConfig struct {
	Client kubernetes.Interface
	CSRs   certinformers.CertificateSigningRequestInformer
	Clock  clock.WithTicker
	Logger *slog.Logger
	// Interval between passes (default one hour).
	Interval time.Duration
}

// Cleaner deletes old requests.
type Cleaner struct {
	cfg    CleanerConfig
	lister certlisters.CertificateSigningRequestLister
	log    *slog.Logger
}

// NewCleaner builds a Cleaner; it starts nothing.
func NewCleaner(cfg CleanerConfig) *Cleaner {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = cleanInterval
	}
	return &Cleaner{cfg: cfg, lister: cfg.CSRs.Lister(), log: cfg.Logger.With("controller", "csrcleaner")}
}

// Run cleans once the cache has synced, then every Interval, until ctx
// ends.
func (c *Cleaner) Run(ctx context.Context) error {
	if !cache.WaitForNamedCacheSync("csrcleaner", ctx.Done(), c.cfg.CSRs.Informer().HasSynced) {
		return ctx.Err()
	}
	t := c.cfg.Clock.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.Clean(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// Clean deletes every request that Expired says is done with.
func (c *Cleaner) Clean(ctx context.Context) {
	csrs, err := c.lister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing", "err", err)
		return
	}
	now := c.cfg.Clock.Now()
	for _, csr := range csrs {
		why := Expired(csr, now)
		if why == "" {
			continue
		}
		uid := csr.UID
		err := c.cfg.Client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		switch {
		case err == nil:
			c.log.Info("deleted", "csr", csr.Name, "reason", why)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			c.log.Error("deleting", "csr", csr.Name, "err", err)
		}
	}
}

// Expired says why csr is done with at now, or "" if it is not: issued
// and approved over an hour ago, denied or failed over an hour ago,
// pending for over a day, or issued with a certificate that has expired.
func Expired(csr *certificatesv1.CertificateSigningRequest, now time.Time) string {
	past := func(t metav1.Time, d time.Duration) bool { return !t.IsZero() && now.After(t.Add(d)) }
	approved, denied := approval(csr)
	for _, cond := range csr.Status.Conditions {
		switch {
		case cond.Type == certificatesv1.CertificateApproved && len(csr.Status.Certificate) > 0 && past(cond.LastUpdateTime, approvedExpiration):
			return "issued and approved over an hour ago"
		case cond.Type == certificatesv1.CertificateDenied && past(cond.LastUpdateTime, deniedExpiration):
			return "denied over an hour ago"
		case cond.Type == certificatesv1.CertificateFailed && past(cond.LastUpdateTime, failedExpiration):
			return "failed over an hour ago"
		}
	}
	if !approved && !denied && past(csr.CreationTimestamp, pendingExpiration) {
		return "pending for over a day"
	}
	if len(csr.Status.Certificate) > 0 {
		if cert, err := parseCertificate(csr.Status.Certificate); err == nil && now.After(cert.NotAfter) {
			return "its certificate has expired"
		}
	}
	return ""
}
