package datastore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ErrStartTimeout is returned by StartEmbedded when etcd does not become
// ready within EmbeddedOptions.StartTimeout.
var ErrStartTimeout = errors.New("datastore: embedded etcd did not become ready in time")

// EmbeddedOptions tune StartEmbedded. The zero value is a good default.
type EmbeddedOptions struct {
	// ClientURL is the loopback URL the client port listens on; default
	// "http://127.0.0.1:0" (a random free port).
	ClientURL string
	// PeerURL is the peer listener; default "http://127.0.0.1:0". A single
	// member never talks to peers, but etcd requires the listener.
	PeerURL string
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
	// Endpoint is the client URL the server listens on (http://127.0.0.1:PORT).
	Endpoint string

	closeOnce sync.Once
	closeErr  error
}

// StartEmbedded starts a single-member etcd with its data in dir (created if
// missing) and returns once it serves requests. A fresh or small database
// starts in well under half a second.
func StartEmbedded(ctx context.Context, dir string, opts EmbeddedOptions) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datastore: %w", err)
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
	cfg.QuotaBackendBytes = opts.QuotaBackendBytes
	if cfg.QuotaBackendBytes == 0 {
		cfg.QuotaBackendBytes = 2 << 30
	}
	// Single member: short ticks make the first election fast.
	cfg.TickMs = 10
	cfg.ElectionMs = 100

	clientURL := opts.ClientURL
	if clientURL == "" {
		clientURL = "http://127.0.0.1:0"
	}
	peerURL := opts.PeerURL
	if peerURL == "" {
		peerURL = "http://127.0.0.1:0"
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("datastore: client url: %w", err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, fmt.Errorf("datastore: peer url: %w", err)
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

	endpoint := "http://" + e.Clients[0].Addr().String()
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      lg,
		// Objects up to etcd's request limit (1.5 MiB) plus framing.
		MaxCallSendMsgSize: 2 << 20,
		MaxCallRecvMsgSize: 0, // unlimited: large ranges are paginated anyway
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("datastore: client: %w", err)
	}
	return &Embedded{etcd: e, client: client, Endpoint: endpoint}, nil
}

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
