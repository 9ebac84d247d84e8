package datastore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/skiff-sh/skiff/internal/pki"
)

// Request limits, for the embedded etcd and every client of an etcd.
const (
	// MaxRequestBytes is the largest request etcd accepts (its default,
	// --max-request-bytes); a larger one fails with "etcdserver: request
	// is too large".
	MaxRequestBytes = embed.DefaultMaxRequestBytes
	// MaxCallSendMsgSize lets a client send whatever etcd's gRPC server
	// receives: the request limit plus etcd's allowance for gRPC framing
	// (512 KiB), so etcd, not the client, judges a request's size.
	MaxCallSendMsgSize = MaxRequestBytes + 512<<10
	// MaxCallRecvMsgSize is unlimited, as etcd's own default: a range's
	// size is bounded by its page limit, not by the transport.
	MaxCallRecvMsgSize = math.MaxInt32
)

// ErrStartTimeout is returned by StartEmbedded when etcd does not become
// ready within EmbeddedOptions.StartTimeout.
var ErrStartTimeout = errors.New("datastore: embedded etcd did not become ready in time")

// ErrPlaintextURL is returned by StartEmbedded for an http:// listen URL:
// the embedded etcd serves TLS only.
var ErrPlaintextURL = errors.New("datastore: embedded etcd listens with TLS only (https URLs)")

// EmbeddedOptions tune StartEmbedded. The zero value is a good default.
type EmbeddedOptions struct {
	// ClientURL is the loopback URL the client port listens on; default
	// "https://127.0.0.1:0" (a random free port).
	ClientURL string
	// PeerURL is the peer listener; default "https://127.0.0.1:0". A single
	// member never talks to peers, but etcd requires the listener.
	PeerURL string
	// TLSDir holds etcd's own CA and its server, peer and client
	// certificates (see pki.EnsureEtcd), created if missing; default
	// DIR/tls. The server keeps them in DATA-DIR/tls/etcd.
	TLSDir string
	// Logger receives etcd's logs; default: errors only, to stderr.
	Logger *zap.Logger
	// QuotaBackendBytes caps the database size; default 2 GiB.
	QuotaBackendBytes int64
	// SnapshotCount is the number of applied entries between raft snapshots;
	// default 10000 (small, to keep the in-memory raft log short).
	SnapshotCount uint64
	// StartTimeout bounds the wait for readiness; default 30s.
	StartTimeout time.Duration
}

// Embedded is a running in-process etcd and a client connected to it.
type Embedded struct {
	etcd   *embed.Etcd
	client *clientv3.Client
	// Endpoint is the client URL the server listens on (https://127.0.0.1:PORT).
	Endpoint string
	// Files are the PEM files of etcd's PKI; ClientCert and ClientKey are
	// what any other client of this etcd must present.
	Files pki.EtcdFiles
	// clientTLS is the configuration the client dials with.
	clientTLS *tls.Config

	closeOnce sync.Once
	closeErr  error
}

// StartEmbedded starts a single-member etcd with its data in dir (created if
// missing, mode 0700) and returns once it serves requests. A fresh or small
// database starts in well under half a second.
//
// As k3s and kubeadm run it, etcd serves TLS on its client and peer ports
// and requires a client certificate signed by its own CA on both
// (ClientCertAuth, PeerClientCertAuth): another local user's process can
// neither read nor write. A data directory written by an earlier plaintext
// version is kept as is; its member's peer URL is updated to the new one.
func StartEmbedded(ctx context.Context, dir string, opts EmbeddedOptions) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	// Earlier versions left the directory group- or world-readable.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	tlsDir := opts.TLSDir
	if tlsDir == "" {
		tlsDir = filepath.Join(dir, "tls")
	}
	files, err := pki.EnsureEtcd(tlsDir, pki.Options{})
	if err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
	}
	clientTLS, err := ExternalTLS{CAFile: files.CACert, CertFile: files.ClientCert, KeyFile: files.ClientKey}.Config()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	cfg.Dir = dir
	cfg.UnsafeNoFsync = false
	cfg.MemoryMlock = false
	cfg.EnablePprof = false
	cfg.Metrics = "basic"
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "0" // the storage layer compacts
	cfg.SnapshotCount = opts.SnapshotCount
	if cfg.SnapshotCount == 0 {
		cfg.SnapshotCount = 10000
	}
	cfg.SnapshotCatchUpEntries = 1000
	cfg.MaxRequestBytes = MaxRequestBytes
	cfg.QuotaBackendBytes = opts.QuotaBackendBytes
	if cfg.QuotaBackendBytes == 0 {
		cfg.QuotaBackendBytes = 2 << 30
	}
	// Single member: short ticks make the first election fast.
	cfg.TickMs = 10
	cfg.ElectionMs = 100

	clientURL := opts.ClientURL
	if clientURL == "" {
		clientURL = "https://127.0.0.1:0"
	}
	peerURL := opts.PeerURL
	if peerURL == "" {
		peerURL = "https://127.0.0.1:0"
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("datastore: client url: %w", err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, fmt.Errorf("datastore: peer url: %w", err)
	}
	if cu.Scheme != "https" || pu.Scheme != "https" {
		return nil, ErrPlaintextURL
	}
	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile:       files.ServerCert,
		KeyFile:        files.ServerKey,
		TrustedCAFile:  files.CACert,
		ClientCertAuth: true,
	}
	cfg.PeerTLSInfo = transport.TLSInfo{
		CertFile:       files.PeerCert,
		KeyFile:        files.PeerKey,
		TrustedCAFile:  files.CACert,
		ClientCertAuth: true,
	}
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	if _, err := os.Stat(dir + "/member"); err == nil {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}

	lg := opts.Logger
	if lg == nil {
		zc := zap.NewProductionConfig()
		zc.Level = zap.NewAtomicLevelAt(zapcore.ErrorLevel)
		zc.Sampling = nil
		lg, err = zc.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return quietCore{c} }))
		if err != nil {
			return nil, fmt.Errorf("datastore: logger: %w", err)
		}
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	cfg.LogLevel = "error"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("datastore: start embedded etcd: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("datastore: embedded etcd: %w", err)
	case <-timer.C:
		e.Close()
		return nil, ErrStartTimeout
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}

	endpoint := "https://" + e.Clients[0].Addr().String()
	client, err := clientv3.New(clientv3.Config{
		Endpoints:          []string{endpoint},
		DialTimeout:        5 * time.Second,
		Logger:             lg,
		TLS:                clientTLS,
		MaxCallSendMsgSize: MaxCallSendMsgSize,
		MaxCallRecvMsgSize: MaxCallRecvMsgSize,
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("datastore: client: %w", err)
	}
	if err := updatePeerURL(ctx, client, e); err != nil {
		_ = client.Close()
		e.Close()
		return nil, err
	}
	return &Embedded{etcd: e, client: client, Endpoint: endpoint, Files: files, clientTLS: clientTLS}, nil
}

// updatePeerURL records the peer URL this start listens on in the
// member's entry. The member keeps the URL it was created with (plaintext
// and a random port for data written by earlier versions); a single member
// never dials it, but the membership should say where it is.
func updatePeerURL(ctx context.Context, client *clientv3.Client, e *embed.Etcd) error {
	want := "https://" + e.Peers[0].Addr().String()
	id := uint64(e.Server.MemberID())
	resp, err := client.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("datastore: member list: %w", err)
	}
	for _, m := range resp.Members {
		if m.ID == id && (len(m.PeerURLs) != 1 || m.PeerURLs[0] != want) {
			if _, err := client.MemberUpdate(ctx, id, []string{want}); err != nil {
				return fmt.Errorf("datastore: update peer url: %w", err)
			}
		}
	}
	return nil
}

// ClientTLS returns a copy of the TLS configuration clients of this etcd
// dial with: etcd's CA and the client certificate.
func (e *Embedded) ClientTLS() *tls.Config { return e.clientTLS.Clone() }

// Client returns the client connected to the embedded server. It is closed
// by Close.
func (e *Embedded) Client() *clientv3.Client { return e.client }

// Err reports fatal server errors; it is never closed by Close.
func (e *Embedded) Err() <-chan error { return e.etcd.Err() }

// Close closes the client and stops the server, waiting for it to exit.
// It is safe to call more than once.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.client.Close()
		if errors.Is(e.closeErr, context.Canceled) {
			e.closeErr = nil
		}
		e.etcd.Close()
	})
	return e.closeErr
}

// quietCore drops the error logs etcd emits on every normal shutdown and on
// the first start of a fresh member, which would otherwise alarm users.
type quietCore struct{ zapcore.Core }

var benignMessages = map[string]bool{
	"setting up serving from embedded etcd failed.": true,
	"failed to update storage version":              true,
}

func (c quietCore) With(f []zapcore.Field) zapcore.Core { return quietCore{c.Core.With(f)} }

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if benignMessages[e.Message] {
		return ce
	}
	return c.Core.Check(e, ce)
}
