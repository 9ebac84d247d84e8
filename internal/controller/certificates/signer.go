package certificates

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// CA is the certificate authority the signer issues with.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// SignerConfig holds what a Signer needs; Client, CSRs and CA are
// required.
type SignerConfig struct {
	Client kubernetes.Interface
	CSRs   certinformers.CertificateSigningRequestInformer
	CA     CA
	// Duration is the longest certificate issued (default one year,
	// upstream's --cluster-signing-duration).
	Duration      time.Duration
	Clock         clock.WithTicker
	Logger        *slog.Logger
	Workers       int
	MaxRetryDelay time.Duration
}

// Signer issues the certificates of approved requests to the built-in
// signers.
type Signer struct {
	cfg    SignerConfig
	lister certlisters.CertificateSigningRequestLister
	log    *slog.Logger
}

// Upstream's signing policy: certificates start five minutes in the past
// (clocks differ) and, unless short-lived, end as much earlier.
const (
	backdate     = 5 * time.Minute
	shortLived   = 8 * time.Hour
	minDuration  = 10 * time.Minute
	yearDuration = 365 * 24 * time.Hour
)

// NewSigner builds a Signer; it starts nothing.
func NewSigner(cfg SignerConfig) *Signer {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Duration <= 0 {
		cfg.Duration = yearDuration
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	return &Signer{cfg: cfg, lister: cfg.CSRs.Lister(), log: cfg.Logger.With("controller", "csrsigning")}
}

// Run signs until ctx ends.
func (s *Signer) Run(ctx context.Context) error {
	return runQueue(ctx, "csrsigning", s.cfg.CSRs.Informer(), s.cfg.Clock, s.log, s.cfg.MaxRetryDelay, s.cfg.Workers, s.Sync)
}

// Sync signs the named request if it is approved, not failed, not yet
// issued and for a built-in signer; a request its signer refuses gets a
// Failed condition instead.
func (s *Signer) Sync(ctx context.Context, name string) (ctrlutil.Result, error) {
	cached, err := s.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if approved, denied := approval(cached); !approved || denied || hasTrue(cached, certificatesv1.CertificateFailed) || len(cached.Status.Certificate) > 0 {
		return ctrlutil.Result{}, nil
	}
	req, err := ParseRequest(cached.Spec.Request)
	if err != nil {
		return ctrlutil.Result{}, nil // validation let it in; nothing to retry
	}
	known, verr := checkForSigner(cached.Spec.SignerName, req, cached.Spec.Usages)
	if !known {
		return ctrlutil.Result{}, nil
	}
	csr := cached.DeepCopy()
	if verr != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue,
			Reason: ReasonSignerValidationFailure, Message: verr.Error(),
			LastUpdateTime: metav1.NewTime(s.cfg.Clock.Now()),
		})
		_, err = s.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
		return ctrlutil.Result{}, ignoreGone(err)
	}
	certPEM, err := s.sign(req, csr.Spec.Usages, csr.Spec.ExpirationSeconds)
	if err != nil {
		return ctrlutil.Result{}, fmt.Errorf("signing %s: %w", name, err)
	}
	csr.Status.Certificate = certPEM
	_, err = s.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
	if err == nil {
		s.log.Info("issued certificate", "csr", name, "signer", csr.Spec.SignerName)
	}
	return ctrlutil.Result{}, ignoreGone(err)
}

// duration is the requested duration within [10m, the configured maximum].
func (s *Signer) duration(expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return s.cfg.Duration
	}
	d := time.Duration(*expirationSeconds) * time.Second
	return min(max(d, minDuration), s.cfg.Duration)
}

// sign issues a certificate for req with the CA.
func (s *Signer) sign(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, expirationSeconds *int32) ([]byte, error) {
	ku, eku, err := keyUsages(usages)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now, ttl, caEnd := s.cfg.Clock.Now(), s.duration(expirationSeconds), s.cfg.CA.Cert.NotAfter
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: req.Subject,
		DNSNames: req.DNSNames, IPAddresses: req.IPAddresses, EmailAddresses: req.EmailAddresses, URIs: req.URIs,
		KeyUsage: ku, ExtKeyUsage: eku, BasicConstraintsValid: true,
		NotBefore: now.Add(-backdate), NotAfter: now.Add(ttl - backdate),
	}
	if ttl < shortLived {
		tmpl.NotAfter = now.Add(ttl)
	}
	if !now.Before(caEnd) {
		return nil, fmt.Errorf("refusing to sign a certificate that expired in the past: NotAfter=%v", caEnd)
	}
	if !tmpl.NotAfter.Before(caEnd) {
		tmpl.NotAfter = caEnd
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cfg.CA.Cert, req.PublicKey, s.cfg.CA.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ignoreGone treats a request deleted meanwhile as done; a conflict is
// retried through the informer's next event.
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
