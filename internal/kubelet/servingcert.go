package kubelet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// The serving certificate through the certificates API (upstream's
// kubelet with --rotate-server-certificates): the agent makes an ECDSA key,
// asks for a certificate with a CertificateSigningRequest for signer
// kubernetes.io/kubelet-serving (subject system:node:NAME in system:nodes,
// the Node's names and addresses as subjectAltNames, usages digital
// signature and server auth), waits for status.certificate and hands the
// certificate to the HTTPS server. It renews at a jittered 70–90% of the
// certificate's lifetime. The CSR is made only once the Node has
// addresses, since the approver grants only names and addresses the Node
// has. The current key and certificate are kept in Dir so that a restart
// serves with them instead of asking again.

// ServingCertConfig configures a ServingCertManager. Client and NodeName
// are required.
type ServingCertConfig struct {
	Client   kubernetes.Interface
	NodeName string
	// Dir, if set, keeps the current certificate and key
	// (kubelet-server-current.pem).
	Dir string
	// SetCertificate receives each new certificate.
	SetCertificate func(*tls.Certificate)
	// RequestTimeout is how long a CSR may go without a certificate
	// before a new one is made (default 15 min); RetryInterval is the
	// first wait after a failure, doubled up to 5 min (default 5 s).
	RequestTimeout time.Duration
	RetryInterval  time.Duration
	Logger         *slog.Logger
	Clock          clock.Clock
}

// ServingCertManager gets and rotates the serving certificate.
type ServingCertManager struct {
	cfg ServingCertConfig
	log *slog.Logger

	mu       sync.Mutex
	current  *tls.Certificate
	rotateAt time.Time
}

// NewServingCertManager returns a manager; Run starts it.
func NewServingCertManager(cfg ServingCertConfig) *ServingCertManager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 15 * time.Minute
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	return &ServingCertManager{cfg: cfg, log: cfg.Logger.With("component", "serving-cert")}
}

// Current is the certificate in use, nil before the first.
func (m *ServingCertManager) Current() *tls.Certificate {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current
}

// RotateAt is when the current certificate is to be renewed (zero before
// the first).
func (m *ServingCertManager) RotateAt() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rotateAt
}

const servingCertFile = "kubelet-server-current.pem"

// Run gets a certificate, then renews it before it expires, until ctx
// ends.
func (m *ServingCertManager) Run(ctx context.Context) {
	if c := m.load(); c != nil {
		m.install(c)
	}
	backoff := m.cfg.RetryInterval
	for {
		if at := m.RotateAt(); !at.IsZero() {
			if d := at.Sub(m.cfg.Clock.Now()); d > 0 {
				if !m.sleep(ctx, d) {
					return
				}
			}
		}
		c, err := m.request(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.log.Warn("requesting a serving certificate", "err", err, "retry", backoff)
			if !m.sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = m.cfg.RetryInterval
		m.install(c)
		m.save(c)
		m.log.Info("serving certificate", "notAfter", c.Leaf.NotAfter, "rotateAt", m.RotateAt())
	}
}

func (m *ServingCertManager) sleep(ctx context.Context, d time.Duration) bool {
	t := m.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// install makes c current and schedules its renewal.
func (m *ServingCertManager) install(c *tls.Certificate) {
	m.mu.Lock()
	m.current = c
	m.rotateAt = rotationDeadline(c.Leaf)
	m.mu.Unlock()
	if m.cfg.SetCertificate != nil {
		m.cfg.SetCertificate(c)
	}
}

// rotationDeadline is a random point at 70–90% of the certificate's
// lifetime, as upstream's certificate manager.
func rotationDeadline(leaf *x509.Certificate) time.Time {
	total := leaf.NotAfter.Sub(leaf.NotBefore)
	f := 0.7 + 0.2*mathrand.Float64()
	return leaf.NotBefore.Add(time.Duration(float64(total) * f))
}

// request waits for the Node's addresses, creates a CSR and waits for
// its certificate.
func (m *ServingCertManager) request(ctx context.Context) (*tls.Certificate, error) {
	dnsNames, ips, err := m.nodeNames(ctx)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:" + m.cfg.NodeName, Organization: []string{"system:nodes"}},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	}, key)
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-serving-" + m.cfg.NodeName + "-" + hex.EncodeToString(suffix)},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeletServingSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}
	csrs := m.cfg.Client.CertificatesV1().CertificateSigningRequests()
	csr, err = csrs.Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating a CSR: %w", err)
	}
	m.log.Info("requested a serving certificate", "csr", csr.Name, "dnsNames", dnsNames, "ips", ips)
	certPEM, err := m.waitForCertificate(ctx, csr.Name)
	if err != nil {
		return nil, fmt.Errorf("CSR %s: %w", csr.Name, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return nil, fmt.Errorf("CSR %s: %w", csr.Name, err)
	}
	return &c, nil
}

// nodeNames waits until the Node has addresses and returns its names
// (its name, Hostname and DNS addresses) and IPs.
func (m *ServingCertManager) nodeNames(ctx context.Context) ([]string, []net.IP, error) {
	for {
		node, err := m.cfg.Client.CoreV1().Nodes().Get(ctx, m.cfg.NodeName, metav1.GetOptions{})
		if err == nil && len(node.Status.Addresses) > 0 {
			names := []string{m.cfg.NodeName}
			var ips []net.IP
			for _, a := range node.Status.Addresses {
				switch a.Type {
				case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
					if !slices.Contains(names, a.Address) {
						names = append(names, a.Address)
					}
				case corev1.NodeInternalIP, corev1.NodeExternalIP:
					if ip := net.ParseIP(a.Address); ip != nil && !slices.ContainsFunc(ips, ip.Equal) {
						ips = append(ips, ip)
					}
				}
			}
			return names, ips, nil
		}
		if !m.sleep(ctx, m.cfg.RetryInterval) {
			return nil, nil, ctx.Err()
		}
	}
}

var errCSRDenied = errors.New("denied or failed")

// waitForCertificate watches the CSR until it has a certificate, is denied
// or failed, or RequestTimeout passes.
func (m *ServingCertManager) waitForCertificate(ctx context.Context, name string) ([]byte, error) {
	timeout := m.cfg.Clock.NewTimer(m.cfg.RequestTimeout)
	defer timeout.Stop()
	csrs := m.cfg.Client.CertificatesV1().CertificateSigningRequests()
	for {
		w, err := csrs.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			return nil, err
		}
		// The CSR may have been signed before the watch began.
		csr, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			w.Stop()
			return nil, err
		}
		cert, err := csrResult(csr)
		if cert != nil || err != nil {
			w.Stop()
			return cert, err
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				w.Stop()
				return nil, ctx.Err()
			case <-timeout.C():
				w.Stop()
				return nil, errors.New("no certificate in time")
			case ev, ok := <-w.ResultChan():
				if !ok {
					done = true // watch ended: start again
					break
				}
				if ev.Type == watch.Deleted {
					w.Stop()
					return nil, errors.New("deleted")
				}
				csr, isCSR := ev.Object.(*certificatesv1.CertificateSigningRequest)
				if !isCSR || csr.Name != name {
					continue
				}
				if cert, err := csrResult(csr); cert != nil || err != nil {
					w.Stop()
					return cert, err
				}
			}
		}
		w.Stop()
	}
}

func csrResult(csr *certificatesv1.CertificateSigningRequest) ([]byte, error) {
	for _, c := range csr.Status.Conditions {
		if (c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed) && c.Status != corev1.ConditionFalse {
			return nil, fmt.Errorf("%w: %s %s", errCSRDenied, c.Reason, c.Message)
		}
	}
	if len(csr.Status.Certificate) > 0 {
		return csr.Status.Certificate, nil
	}
	return nil, nil
}

// load reads the kept certificate if it is still valid.
func (m *ServingCertManager) load() *tls.Certificate {
	if m.cfg.Dir == "" {
		return nil
	}
	p := filepath.Join(m.cfg.Dir, servingCertFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	c, err := tls.X509KeyPair(data, data)
	if err != nil || c.Leaf == nil {
		m.log.Warn("ignoring the kept serving certificate", "file", p, "err", err)
		return nil
	}
	now := m.cfg.Clock.Now()
	if now.After(c.Leaf.NotAfter) || now.Before(c.Leaf.NotBefore) {
		return nil
	}
	return &c
}

// save keeps c (certificate chain, then key) in Dir.
func (m *ServingCertManager) save(c *tls.Certificate) {
	if m.cfg.Dir == "" {
		return
	}
	var data []byte
	for _, der := range c.Certificate {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err == nil {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
		err = os.MkdirAll(m.cfg.Dir, 0o700)
	}
	if err == nil {
		tmp := filepath.Join(m.cfg.Dir, servingCertFile+".tmp")
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, filepath.Join(m.cfg.Dir, servingCertFile))
		}
	}
	if err != nil {
		m.log.Warn("keeping the serving certificate", "err", err)
	}
}
