package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustEnsure(t *testing.T, dir string, opts Options) *Bundle {
	t.Helper()
	b, err := Ensure(dir, opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

func servingLeaf(t *testing.T, b *Bundle) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(b.ServingCert().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	b := mustEnsure(t, dir, Options{
		SANs:     []string{"skiff.example.com", "192.0.2.10", "2001:db8::1"},
		Hostname: "node-a",
		Now:      clock(t0),
	})

	if got, want := b.CACert().Subject.CommonName, "skiff-ca@1767323045"; got != want {
		t.Errorf("CA CN = %q; want %q", got, want)
	}
	if !b.CACert().IsCA || b.CACert().NotAfter.Before(t0.Add(9*365*24*time.Hour)) {
		t.Errorf("CA: IsCA=%v NotAfter=%v; want a CA valid ~10 years", b.CACert().IsCA, b.CACert().NotAfter)
	}

	leaf := servingLeaf(t, b)
	if err := leaf.CheckSignatureFrom(b.CACert()); err != nil {
		t.Errorf("serving cert not signed by CA: %v", err)
	}
	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", "localhost", "node-a", "skiff.example.com"}
	if got := normalizeDNS(leaf.DNSNames); !slices.Equal(got, wantDNS) {
		t.Errorf("DNS SANs = %v; want %v", got, wantDNS)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.43.0.1", "192.0.2.10", "2001:db8::1"} {
		if !slices.ContainsFunc(leaf.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("IP SANs %v lack %s", leaf.IPAddresses, ip)
		}
	}
	if len(leaf.IPAddresses) != 5 {
		t.Errorf("IP SANs = %v; want 5 addresses", leaf.IPAddresses)
	}

	admin, err := parseCertPEM(b.AdminKeyPair().CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Subject.CommonName != AdminUser || !slices.Equal(admin.Subject.Organization, []string{MastersGroup}) {
		t.Errorf("admin subject = %v; want CN=%s O=%s", admin.Subject, AdminUser, MastersGroup)
	}
	if got, want := admin.NotAfter, t0.Add(LeafValidity); !got.Equal(want) {
		t.Errorf("admin NotAfter = %v; want %v", got, want)
	}

	for _, tc := range []struct {
		file string
		mode os.FileMode
	}{
		{caCertFile, 0o644}, {caKeyFile, 0o600},
		{servingCertFile, 0o644}, {servingKeyFile, 0o600},
		{adminCertFile, 0o644}, {adminKeyFile, 0o600},
	} {
		fi, err := os.Stat(filepath.Join(dir, tc.file))
		if err != nil {
			t.Errorf("stat %s: %v", tc.file, err)
			continue
		}
		if got := fi.Mode().Perm(); got != tc.mode {
			t.Errorf("%s mode = %o; want %o", tc.file, got, tc.mode)
		}
	}
}

func TestEnsureReuseAndRegenerate(t *testing.T) {
	base := Options{SANs: []string{"a.example.com"}, Hostname: "node-a", Now: clock(t0)}
	tests := []struct {
		name        string
		change      func(o *Options)
		wantNewServ bool
	}{
		{name: "same options", change: func(o *Options) {}},
		{name: "same SANs in another order and case", change: func(o *Options) {
			o.SANs = []string{"A.example.com", "a.example.com"}
		}},
		{name: "a few months later", change: func(o *Options) { o.Now = clock(t0.Add(200 * 24 * time.Hour)) }},
		{name: "SAN added", change: func(o *Options) { o.SANs = append(o.SANs, "10.0.0.5") }, wantNewServ: true},
		{name: "SAN removed", change: func(o *Options) { o.SANs = nil }, wantNewServ: true},
		{name: "hostname changed", change: func(o *Options) { o.Hostname = "node-b" }, wantNewServ: true},
		{name: "service CIDR changed", change: func(o *Options) {
			_, c, _ := net.ParseCIDR("10.96.0.0/12")
			o.ServiceCIDRs = []*net.IPNet{c}
		}, wantNewServ: true},
		{name: "near expiry", change: func(o *Options) { o.Now = clock(t0.Add(300 * 24 * time.Hour)) }, wantNewServ: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := mustEnsure(t, dir, base)
			opts := base
			opts.SANs = slices.Clone(base.SANs)
			tc.change(&opts)
			second := mustEnsure(t, dir, opts)

			if !bytes.Equal(first.CACertPEM(), second.CACertPEM()) {
				t.Fatalf("CA changed on reload")
			}
			newServ := !bytes.Equal(first.ServingCert().Certificate[0], second.ServingCert().Certificate[0])
			if newServ != tc.wantNewServ {
				t.Errorf("serving cert re-issued = %v; want %v", newServ, tc.wantNewServ)
			}
			if err := servingLeaf(t, second).CheckSignatureFrom(first.CACert()); err != nil {
				t.Errorf("serving cert not signed by the original CA: %v", err)
			}
			// A third start with the same options changes nothing.
			third := mustEnsure(t, dir, opts)
			if !bytes.Equal(second.ServingCert().Certificate[0], third.ServingCert().Certificate[0]) {
				t.Errorf("serving cert re-issued without a change")
			}
		})
	}
}

func TestEnsureAdminRenewal(t *testing.T) {
	dir := t.TempDir()
	first := mustEnsure(t, dir, Options{Now: clock(t0)})
	later := mustEnsure(t, dir, Options{Now: clock(t0.Add(300 * 24 * time.Hour))})
	if bytes.Equal(first.AdminKeyPair().CertPEM, later.AdminKeyPair().CertPEM) {
		t.Errorf("admin cert not renewed near expiry")
	}
}

func TestEnsureErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		opts    Options
		wantErr error
	}{
		{
			name: "CA key missing",
			prepare: func(t *testing.T, dir string) {
				mustEnsure(t, dir, Options{})
				if err := os.Remove(filepath.Join(dir, caKeyFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrCAKeyMissing,
		},
		{name: "bad SAN", opts: Options{SANs: []string{"not a name"}}, wantErr: ErrInvalidSAN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			if _, err := Ensure(dir, tc.opts); !errors.Is(err, tc.wantErr) {
				t.Errorf("Ensure error = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

func TestEnsureReplacesBrokenLeaf(t *testing.T) {
	dir := t.TempDir()
	first := mustEnsure(t, dir, Options{})
	if err := os.WriteFile(filepath.Join(dir, servingKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	second := mustEnsure(t, dir, Options{})
	if bytes.Equal(first.ServingCert().Certificate[0], second.ServingCert().Certificate[0]) {
		t.Errorf("serving cert with a broken key was reused")
	}
}

// whoami answers with the client identity verified against roots, as the
// API server's authenticator does, "anonymous" without a certificate, and
// 401 for a certificate roots did not sign.
func whoami(roots *x509.CertPool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		certs := r.TLS.PeerCertificates
		if len(certs) == 0 {
			io.WriteString(w, "anonymous")
			return
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "unauthorized")
			return
		}
		io.WriteString(w, certs[0].Subject.CommonName+"/"+strings.Join(certs[0].Subject.Organization, ","))
	}
}

func TestTLSHandshake(t *testing.T) {
	b := mustEnsure(t, t.TempDir(), Options{})
	other := mustEnsure(t, t.TempDir(), Options{}) // a foreign CA

	srv := httptest.NewUnstartedServer(whoami(b.CAPool()))
	srv.TLS = b.ServerTLSConfig()
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	fromKubeconfig := func(t *testing.T, bundle *Bundle, user string, groups ...string) *rest.Config {
		path := filepath.Join(t.TempDir(), "nested", "kubeconfig.yaml")
		if err := WriteKubeconfig(path, srv.URL, bundle, user, groups...); err != nil {
			t.Fatalf("WriteKubeconfig: %v", err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("kubeconfig mode = %o; want 600", fi.Mode().Perm())
		}
		raw, err := clientcmd.LoadFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if raw.CurrentContext != "default" || raw.Contexts["default"].Cluster != "default" || raw.Contexts["default"].AuthInfo != "default" {
			t.Errorf("kubeconfig names = %+v; want context/cluster/user \"default\"", raw.Contexts)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	fromRest := func(t *testing.T, bundle *Bundle, cn string, groups ...string) *rest.Config {
		cfg, err := bundle.RestConfig(srv.URL, cn, groups)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	tests := []struct {
		name      string
		config    func(t *testing.T) *rest.Config
		forceCert bool
		want      string
		wantErr   string
	}{
		{
			name:   "admin kubeconfig",
			config: func(t *testing.T) *rest.Config { return fromKubeconfig(t, b, AdminUser) },
			want:   "system:admin/system:masters",
		},
		{
			name:   "kubeconfig for another user",
			config: func(t *testing.T) *rest.Config { return fromKubeconfig(t, b, "alice", "dev", "ops") },
			want:   "alice/dev,ops",
		},
		{
			name:   "in-process rest config",
			config: func(t *testing.T) *rest.Config { return fromRest(t, b, "system:kube-scheduler") },
			want:   "system:kube-scheduler/",
		},
		{
			name: "no client certificate",
			config: func(t *testing.T) *rest.Config {
				return &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: b.CACertPEM()}}
			},
			want: "anonymous",
		},
		{
			name: "client certificate from a foreign CA",
			config: func(t *testing.T) *rest.Config {
				cfg := fromRest(t, other, AdminUser, MastersGroup)
				cfg.CAData = b.CACertPEM()
				return cfg
			},
			// Go clients offer a certificate only to a server naming its
			// issuer; this one offers it anyway.
			forceCert: true,
			want:      "unauthorized",
		},
		{
			name:    "client does not trust the server",
			config:  func(t *testing.T) *rest.Config { return fromKubeconfig(t, other, AdminUser) },
			wantErr: "certificate signed by unknown authority",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config(t)
			// HTTP/1.1 surfaces the TLS alert itself; over HTTP/2 it can
			// arrive as a generic "client conn could not be established".
			cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
			hc, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.forceCert {
				hc = forcedCertClient(t, cfg)
			}
			resp, err := hc.Get(srv.URL)
			if tc.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET succeeded; want error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("GET error = %v; want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tc.want {
				t.Errorf("identity = %q; want %q", body, tc.want)
			}
			if resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS version %x; want >= 1.2", resp.TLS.Version)
			}
		})
	}
}

// forcedCertClient is an HTTP client that presents cfg's client certificate
// whatever issuers the server asks for.
func forcedCertClient(t *testing.T, cfg *rest.Config) *http.Client {
	pair, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cfg.CAData)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:              roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}}}
}
