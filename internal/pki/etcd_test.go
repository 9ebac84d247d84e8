package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEnsureEtcd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	f, err := EnsureEtcd(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, k := range []string{filepath.Join(dir, caKeyFile), f.ServerKey, f.PeerKey, f.ClientKey} {
		if fi, err := os.Stat(k); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", k, fi.Mode().Perm(), err)
		}
	}
	ca := readCert(t, f.CACert)
	if !ca.IsCA {
		t.Fatalf("%s is not a CA", f.CACert)
	}
	cases := []struct {
		file     string
		cn       string
		usage    []x509.ExtKeyUsage
		loopback bool
	}{
		{f.ServerCert, "etcd-server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true},
		{f.PeerCert, "etcd-peer", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true},
		{f.ClientCert, "kube-apiserver-etcd-client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false},
	}
	for _, tc := range cases {
		c := readCert(t, tc.file)
		if err := c.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: not signed by the etcd CA: %v", tc.file, err)
		}
		if c.Subject.CommonName != tc.cn || !slices.Equal(c.ExtKeyUsage, tc.usage) {
			t.Errorf("%s: CN %q usage %v; want %q %v", tc.file, c.Subject.CommonName, c.ExtKeyUsage, tc.cn, tc.usage)
		}
		if tc.loopback && c.VerifyHostname("127.0.0.1") != nil {
			t.Errorf("%s: not valid for 127.0.0.1", tc.file)
		}
	}

	// A second call reuses everything.
	before, _ := os.ReadFile(f.ServerCert)
	if _, err := EnsureEtcd(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(f.ServerCert); string(after) != string(before) {
		t.Error("second EnsureEtcd re-issued the server certificate")
	}
}

// TestWriteKubeconfigAtomic checks an existing, too open kubeconfig is
// replaced by a 0600 file and no temporary file is left behind.
func TestWriteKubeconfigAtomic(t *testing.T) {
	b := mustEnsure(t, filepath.Join(t.TempDir(), "tls"), Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteKubeconfig(path, "https://127.0.0.1:6443", b, AdminUser); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only the kubeconfig", len(entries))
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCertPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
