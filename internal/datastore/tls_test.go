package datastore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/skiff-sh/skiff/internal/pki"
)

// dialWith returns a client of endpoint with tlsCfg (nil: plaintext) and a
// short deadline for each call.
func dialWith(t *testing.T, endpoint string, tlsCfg *tls.Config) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsCfg, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestEmbeddedDemandsClientCertificate checks that the client port only
// serves a client presenting a certificate from etcd's own CA.
func TestEmbeddedDemandsClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := StartEmbedded(ctx, filepath.Join(dir, "db"), EmbeddedOptions{TLSDir: filepath.Join(dir, "tls", "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !strings.HasPrefix(e.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("endpoint %q; want https://127.0.0.1:PORT", e.Endpoint)
	}
	if _, err := e.Client().Put(ctx, "/registry/secrets/default/s", "secret"); err != nil {
		t.Fatalf("own client: %v", err)
	}

	caPEM, err := os.ReadFile(e.Files.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	other, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tls.X509KeyPair(other.AdminKeyPair().CertPEM, other.AdminKeyPair().KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The API server's CA is not etcd's: its certificates are refused too.
	cases := []struct {
		name     string
		endpoint string
		tls      *tls.Config
	}{
		{"plaintext", strings.Replace(e.Endpoint, "https://", "http://", 1), nil},
		{"TLS without a certificate", e.Endpoint, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
		{"certificate from another CA", e.Endpoint, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{foreign}, MinVersion: tls.VersionTLS12}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWith(t, tc.endpoint, tc.tls)
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if resp, err := c.Get(cctx, "/registry/secrets/default/s"); err == nil {
				t.Fatalf("Get: got %v; want an error", resp.Kvs)
			}
			cctx, cancel = context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if _, err := c.Put(cctx, "/registry/secrets/default/s", "stolen"); err == nil {
				t.Fatal("Put: got nil error; want an error")
			}
		})
	}
	resp, err := e.Client().Get(ctx, "/registry/secrets/default/s")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "secret" {
		t.Fatalf("after the attempts: %v %v; want the value unchanged", resp, err)
	}

	// The peer port demands a certificate of etcd's CA as well.
	peer := e.etcd.Peers[0].Addr().String()
	for _, cfg := range []*tls.Config{cases[1].tls, cases[2].tls} {
		conn, err := tls.Dial("tcp", peer, cfg)
		if err == nil {
			// TLS 1.3 reports a refused client certificate on first read.
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("peer port with %d certificates: got %v; want a TLS error", len(cfg.Certificates), err)
		}
	}
}

// TestEmbeddedFileModes checks the data and TLS directories are 0700 and
// the keys 0600.
func TestEmbeddedFileModes(t *testing.T) {
	dir := t.TempDir()
	db, tlsDir := filepath.Join(dir, "db"), filepath.Join(dir, "tls", "etcd")
	// An earlier version may have left the data directory open.
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := StartEmbedded(context.Background(), db, EmbeddedOptions{TLSDir: tlsDir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, d := range []string{db, tlsDir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	for _, k := range []string{"ca.key", "server.key", "peer.key", "client.key"} {
		if fi, err := os.Stat(filepath.Join(tlsDir, k)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", k, fi.Mode().Perm(), err)
		}
	}
	err = filepath.WalkDir(db, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v; want no group or other access", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedUpgradeFromPlaintext starts on a data directory written as
// earlier versions ran etcd (plaintext, no TLS directory) and finds the
// data.
func TestEmbeddedUpgradeFromPlaintext(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	ctx := context.Background()

	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "skiff", db
	cfg.TickMs, cfg.ElectionMs = 10, 100
	u, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*u}, []url.URL{*u}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*u}, []url.URL{*u}
	cfg.InitialCluster = "skiff=" + u.String()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	old, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("plaintext etcd not ready")
	}
	c := dialWith(t, "http://"+old.Clients[0].Addr().String(), nil)
	if _, err := c.Put(ctx, "/registry/k", "v"); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	old.Close()

	e, err := StartEmbedded(ctx, db, EmbeddedOptions{TLSDir: filepath.Join(dir, "tls", "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := e.Client().Get(ctx, "/registry/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after upgrade: %v %v; want /registry/k=v", resp, err)
	}
	if _, err := e.Client().Put(ctx, "/registry/k2", "v2"); err != nil {
		t.Fatalf("write after upgrade: %v", err)
	}
	members, err := e.Client().MemberList(ctx)
	if err != nil || len(members.Members) != 1 || !strings.HasPrefix(members.Members[0].PeerURLs[0], "https://") {
		t.Fatalf("members after upgrade: %v %v; want one with an https peer URL", members, err)
	}
}
