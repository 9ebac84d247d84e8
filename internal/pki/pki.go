package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Well-known identities.
const (
	// AdminUser is the common name of the admin client certificate.
	AdminUser = "system:admin"
	// MastersGroup is the organization that grants cluster-admin via RBAC.
	MastersGroup = "system:masters"
)

// Validity periods and the renewal window.
const (
	CAValidity         = 10 * 365 * 24 * time.Hour
	LeafValidity       = 365 * 24 * time.Hour
	DefaultRenewBefore = 90 * 24 * time.Hour
	// backdate is subtracted from NotBefore to tolerate clock skew between
	// machines of one cluster.
	backdate = time.Hour
)

// File names inside the TLS directory.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "serving.crt"
	servingKeyFile  = "serving.key"
	adminCertFile   = "client-admin.crt"
	adminKeyFile    = "client-admin.key"
)

// Errors returned by this package.
var (
	// ErrCAKeyMissing: ca.crt exists but ca.key does not. The CA cannot be
	// replaced silently (existing kubeconfigs would break), so Ensure refuses.
	ErrCAKeyMissing = errors.New("pki: CA certificate present but its key is missing")
	// ErrInvalidSAN: an Options.SANs entry is neither an IP nor a DNS name.
	ErrInvalidSAN = errors.New("pki: invalid subject alternative name")
)

// Options configure Ensure. The zero value is usable.
type Options struct {
	// SANs are extra names for the serving certificate (--tls-san): IP
	// addresses or DNS names.
	SANs []string
	// ServiceCIDRs are the service IP ranges; the first address of each is
	// the ClusterIP of the "kubernetes" service and goes into the serving
	// certificate. Nil means 10.43.0.0/16.
	ServiceCIDRs []*net.IPNet
	// Hostname is added to the serving certificate. Empty means os.Hostname.
	Hostname string
	// RenewBefore re-issues leaf certificates that expire within this window.
	// Zero means DefaultRenewBefore.
	RenewBefore time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// DefaultServiceCIDR is the service range used when Options.ServiceCIDRs is nil.
var DefaultServiceCIDR = &net.IPNet{IP: net.IPv4(10, 43, 0, 0).To4(), Mask: net.CIDRMask(16, 32)}

// Bundle holds the CA and the API server's certificates. All fields are
// read-only after Ensure returns.
type Bundle struct {
	dir string
	// caName prefixes a new CA's common name; empty means "skiff-ca".
	caName  string
	now     func() time.Time
	caPEM   []byte
	caCert  *x509.Certificate
	caKey   *ecdsa.PrivateKey
	caPool  *x509.CertPool
	serving tls.Certificate
	admin   KeyPair
}

// KeyPair is a PEM-encoded certificate and its PEM-encoded private key.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// Ensure loads or creates the CA, the serving certificate and the admin
// client certificate in dir (created with mode 0700 if missing); see the
// package documentation for the rules.
func Ensure(dir string, opts Options) (*Bundle, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RenewBefore == 0 {
		opts.RenewBefore = DefaultRenewBefore
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	b := &Bundle{dir: dir, now: opts.Now}
	if err := b.ensureCA(); err != nil {
		return nil, err
	}
	dnsNames, ips, err := servingNames(opts)
	if err != nil {
		return nil, err
	}
	servingPair, err := b.ensureLeaf(servingCertFile, servingKeyFile, opts.RenewBefore,
		func(c *x509.Certificate) bool {
			return c.Subject.CommonName == "kube-apiserver" && slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) &&
				sameNames(c, dnsNames, ips)
		},
		func() (*x509.Certificate, error) { return b.servingTemplate(dnsNames, ips) })
	if err != nil {
		return nil, err
	}
	if b.serving, err = tls.X509KeyPair(servingPair.CertPEM, servingPair.KeyPEM); err != nil {
		return nil, fmt.Errorf("pki: serving key pair: %w", err)
	}
	b.admin, err = b.ensureLeaf(adminCertFile, adminKeyFile, opts.RenewBefore,
		func(c *x509.Certificate) bool {
			return c.Subject.CommonName == AdminUser && slices.Equal(c.Subject.Organization, []string{MastersGroup})
		},
		func() (*x509.Certificate, error) { return b.clientTemplate(AdminUser, []string{MastersGroup}) })
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ensureCA loads ca.crt/ca.key or creates them when neither exists.
func (b *Bundle) ensureCA() error {
	certPEM, certErr := os.ReadFile(filepath.Join(b.dir, caCertFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(b.dir, caKeyFile))
	switch {
	case certErr == nil && keyErr == nil:
		cert, err := parseCertPEM(certPEM)
		if err != nil {
			return fmt.Errorf("pki: %s: %w", caCertFile, err)
		}
		key, err := parseKeyPEM(keyPEM)
		if err != nil {
			return fmt.Errorf("pki: %s: %w", caKeyFile, err)
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			return fmt.Errorf("pki: %s does not match %s", caKeyFile, caCertFile)
		}
		b.setCA(certPEM, cert, key)
		return nil
	case certErr == nil && errors.Is(keyErr, fs.ErrNotExist):
		return ErrCAKeyMissing
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return fmt.Errorf("pki: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return fmt.Errorf("pki: %w", keyErr)
	}
	// No CA certificate: create a new CA (a stray key is overwritten).
	now := b.now()
	caName := b.caName
	if caName == "" {
		caName = "skiff-ca"
	}
	tmpl := &x509.Certificate{
		Subject:               pkixName(fmt.Sprintf("%s@%d", caName, now.Unix()), nil),
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	pair, cert, err := sign(tmpl, key, nil, nil)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(b.dir, caKeyFile), pair.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(b.dir, caCertFile), pair.CertPEM, 0o644); err != nil {
		return err
	}
	b.setCA(pair.CertPEM, cert, key)
	return nil
}

func (b *Bundle) setCA(certPEM []byte, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	b.caPEM, b.caCert, b.caKey = certPEM, cert, key
	b.caPool = x509.NewCertPool()
	b.caPool.AddCert(cert)
}

// ensureLeaf returns the key pair stored in certFile/keyFile if it is signed
// by the CA, matches its key, satisfies wanted and does not expire within
// renewBefore; otherwise it issues a new one from newTemplate and stores it.
func (b *Bundle) ensureLeaf(certFile, keyFile string, renewBefore time.Duration,
	wanted func(*x509.Certificate) bool, newTemplate func() (*x509.Certificate, error)) (KeyPair, error) {
	certPath, keyPath := filepath.Join(b.dir, certFile), filepath.Join(b.dir, keyFile)
	if pair, ok := b.loadLeaf(certPath, keyPath, renewBefore, wanted); ok {
		return pair, nil
	}
	tmpl, err := newTemplate()
	if err != nil {
		return KeyPair{}, err
	}
	pair, err := b.issue(tmpl)
	if err != nil {
		return KeyPair{}, err
	}
	if err := writeFile(keyPath, pair.KeyPEM, 0o600); err != nil {
		return KeyPair{}, err
	}
	if err := writeFile(certPath, pair.CertPEM, 0o644); err != nil {
		return KeyPair{}, err
	}
	return pair, nil
}

// loadLeaf reports whether the stored pair is usable as is. Any problem
// (missing, unreadable, mismatched, foreign CA) means "re-issue".
func (b *Bundle) loadLeaf(certPath, keyPath string, renewBefore time.Duration, wanted func(*x509.Certificate) bool) (KeyPair, bool) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return KeyPair{}, false
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return KeyPair{}, false
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return KeyPair{}, false
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return KeyPair{}, false
	}
	if cert.CheckSignatureFrom(b.caCert) != nil {
		return KeyPair{}, false
	}
	if b.now().Add(renewBefore).After(cert.NotAfter) {
		return KeyPair{}, false
	}
	if !wanted(cert) {
		return KeyPair{}, false
	}
	return KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, true
}

func (b *Bundle) servingTemplate(dnsNames []string, ips []net.IP) (*x509.Certificate, error) {
	now := b.now()
	return &x509.Certificate{
		Subject:     pkixName("kube-apiserver", nil),
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(LeafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	}, nil
}

func (b *Bundle) clientTemplate(cn string, groups []string) (*x509.Certificate, error) {
	if cn == "" {
		return nil, errors.New("pki: client certificate needs a common name")
	}
	now := b.now()
	return &x509.Certificate{
		Subject:     pkixName(cn, groups),
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(LeafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, nil
}

// issue creates a fresh key and signs tmpl with the CA.
func (b *Bundle) issue(tmpl *x509.Certificate) (KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return KeyPair{}, err
	}
	pair, _, err := sign(tmpl, key, b.caCert, b.caKey)
	return pair, err
}

// IssueClientCert returns a new client certificate (1 year) for user cn in
// the given groups (the certificate's organizations), signed by the CA. The
// pair is not stored; callers that need it across restarts write it
// themselves or issue a new one at each start.
func (b *Bundle) IssueClientCert(cn string, groups []string) (KeyPair, error) {
	tmpl, err := b.clientTemplate(cn, groups)
	if err != nil {
		return KeyPair{}, err
	}
	return b.issue(tmpl)
}

// AdminKeyPair returns the stored admin client certificate
// (CN=system:admin, O=system:masters).
func (b *Bundle) AdminKeyPair() KeyPair { return b.admin }

// CACertPEM returns the PEM-encoded CA certificate. Callers must not modify it.
// CAKey returns the CA's private key, for the controller manager's
// certificate signer.
func (b *Bundle) CAKey() crypto.Signer { return b.caKey }

func (b *Bundle) CACertPEM() []byte { return b.caPEM }

// CACert returns the parsed CA certificate. Callers must not modify it.
func (b *Bundle) CACert() *x509.Certificate { return b.caCert }

// CAPool returns a pool holding only the CA certificate; it verifies both
// the serving certificate and client certificates.
func (b *Bundle) CAPool() *x509.CertPool { return b.caPool }

// ServingCert returns the API server's serving certificate.
func (b *Bundle) ServingCert() tls.Certificate { return b.serving }

// Dir returns the directory the bundle was loaded from.
func (b *Bundle) Dir() string { return b.dir }

// ServerTLSConfig returns a new TLS configuration for the API server: the
// serving certificate, client certificates requested (the CA named as the
// acceptable issuer) but verified by the authenticator, not the handshake —
// as upstream, a certificate from another CA gets 401 rather than a TLS
// alert, and requests without one go on to other authenticators — TLS 1.2
// or later, and ALPN for HTTP/2 and HTTP/1.1.
// The caller owns the returned value.
func (b *Bundle) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{b.serving},
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    b.caPool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// RestConfig returns a client configuration for host (https://127.0.0.1:6443)
// that trusts the CA and authenticates with a freshly issued client
// certificate for cn in groups. Used by in-process components.
func (b *Bundle) RestConfig(host, cn string, groups []string) (*rest.Config, error) {
	pair, err := b.IssueClientCert(cn, groups)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   bytes.Clone(b.caPEM),
			CertData: pair.CertPEM,
			KeyData:  pair.KeyPEM,
		},
	}, nil
}

// servingNames returns the sorted, de-duplicated DNS names and IPs the
// serving certificate must carry.
func servingNames(opts Options) ([]string, []net.IP, error) {
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	cidrs := opts.ServiceCIDRs
	if cidrs == nil {
		cidrs = []*net.IPNet{DefaultServiceCIDR}
	}
	for _, c := range cidrs {
		ips = append(ips, firstIP(c))
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname() // best effort: a host without a name just lacks that SAN
	}
	if host != "" {
		if ip := net.ParseIP(host); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, host)
		}
	}
	for _, san := range opts.SANs {
		san = strings.TrimSpace(san)
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
			continue
		}
		if !validDNSName(san) {
			return nil, nil, fmt.Errorf("%w: %q", ErrInvalidSAN, san)
		}
		dns = append(dns, san)
	}
	return normalizeDNS(dns), normalizeIPs(ips), nil
}

// firstIP returns the network address of c plus one.
func firstIP(c *net.IPNet) net.IP {
	ip := c.IP.Mask(c.Mask)
	out := slices.Clone(ip)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			break
		}
	}
	return out
}

func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimPrefix(s, "*."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func normalizeDNS(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func normalizeIPs(ips []net.IP) []net.IP {
	strs := make([]string, 0, len(ips))
	for _, ip := range ips {
		strs = append(strs, ip.String())
	}
	slices.Sort(strs)
	strs = slices.Compact(strs)
	out := make([]net.IP, 0, len(strs))
	for _, s := range strs {
		ip := net.ParseIP(s)
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		out = append(out, ip)
	}
	return out
}

// sameNames reports whether c carries exactly the wanted names.
func sameNames(c *x509.Certificate, dnsNames []string, ips []net.IP) bool {
	if !slices.Equal(normalizeDNS(c.DNSNames), dnsNames) {
		return false
	}
	return slices.EqualFunc(normalizeIPs(c.IPAddresses), ips, net.IP.Equal)
}
