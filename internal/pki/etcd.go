package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// EtcdDir is the embedded etcd's TLS directory inside the API server's TLS
// directory (DATA-DIR/tls/etcd), as k3s keeps it.
const EtcdDir = "etcd"

// Etcd certificate common names. The client certificate's name is
// kubeadm's for the API server's etcd client.
const (
	etcdServerCN = "etcd-server"
	etcdPeerCN   = "etcd-peer"
	etcdClientCN = "kube-apiserver-etcd-client"
)

// EtcdFiles are the paths of the embedded etcd's PEM files.
type EtcdFiles struct {
	// CACert is the etcd CA, trusted for client and peer certificates.
	CACert string
	// ServerCert/ServerKey serve the client port. etcd also dials itself
	// with them (its gRPC gateway), so they carry client auth too.
	ServerCert, ServerKey string
	// PeerCert/PeerKey serve and dial the peer port.
	PeerCert, PeerKey string
	// ClientCert/ClientKey are the API server's (and any tool's) identity
	// towards etcd.
	ClientCert, ClientKey string
}

// EnsureEtcd loads or creates, in dir (mode 0700), a CA of its own for
// the embedded etcd and three certificates it signs: a server and a peer
// certificate for loopback (localhost, 127.0.0.1, ::1), and a client
// certificate for the API server. The rules are Ensure's: files are
// reused while valid, re-issued when missing, broken, foreign or close to
// expiry; keys are mode 0600, certificates 0644, each written atomically.
// Only opts.RenewBefore and opts.Now are used.
func EnsureEtcd(dir string, opts Options) (EtcdFiles, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RenewBefore == 0 {
		opts.RenewBefore = DefaultRenewBefore
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return EtcdFiles{}, fmt.Errorf("pki: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return EtcdFiles{}, fmt.Errorf("pki: %w", err)
	}
	b := &Bundle{dir: dir, now: opts.Now, caName: "skiff-etcd-ca"}
	if err := b.ensureCA(); err != nil {
		return EtcdFiles{}, err
	}
	f := EtcdFiles{
		CACert:     filepath.Join(dir, caCertFile),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		PeerCert: filepath.Join(dir, "peer.crt"), PeerKey: filepath.Join(dir, "peer.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	loopbackNames := []string{"localhost"}
	loopbackIPs := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	leaves := []struct {
		cert, key, cn string
		usage         []x509.ExtKeyUsage
		loopback      bool
	}{
		{f.ServerCert, f.ServerKey, etcdServerCN, both, true},
		{f.PeerCert, f.PeerKey, etcdPeerCN, both, true},
		{f.ClientCert, f.ClientKey, etcdClientCN, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false},
	}
	for _, l := range leaves {
		_, err := b.ensureLeaf(filepath.Base(l.cert), filepath.Base(l.key), opts.RenewBefore,
			func(c *x509.Certificate) bool {
				if c.Subject.CommonName != l.cn || !slices.Equal(c.ExtKeyUsage, l.usage) {
					return false
				}
				return !l.loopback || sameNames(c, loopbackNames, normalizeIPs(loopbackIPs))
			},
			func() (*x509.Certificate, error) {
				now := b.now()
				tmpl := &x509.Certificate{
					Subject:     pkixName(l.cn, nil),
					NotBefore:   now.Add(-backdate),
					NotAfter:    now.Add(LeafValidity),
					KeyUsage:    x509.KeyUsageDigitalSignature,
					ExtKeyUsage: l.usage,
				}
				if l.loopback {
					tmpl.DNSNames, tmpl.IPAddresses = loopbackNames, loopbackIPs
				}
				return tmpl, nil
			})
		if err != nil {
			return EtcdFiles{}, err
		}
	}
	return f, nil
}
