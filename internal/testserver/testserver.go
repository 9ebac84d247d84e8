// Package testserver runs a real Skiff control plane (API server on an
// embedded etcd in a temporary directory, loopback, random port) inside a
// test process, for integration tests that talk to it through client-go.
//
// Start registers a cleanup that stops the server; Stop and Restart may be
// called by the test too (Stop is safe twice).
package testserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/server"
)

// Server is a running in-process control plane.
type Server struct {
	t   testing.TB
	cfg server.Config
	// cancel stops the current run; done is closed when it has returned.
	cancel context.CancelFunc
	done   chan struct{}
	srv    *server.Server
	// Config is the admin client config of the current run.
	Config *rest.Config
	// Client is a clientset for Config.
	Client kubernetes.Interface
}

// Options adjust the server started; the zero value is the default.
type Options struct {
	// DatastoreEndpoints points the server at an external etcd.
	DatastoreEndpoints []string
	// DataDir reuses a directory (for tests that restart a server across
	// processes); default a fresh t.TempDir().
	DataDir string
	// CompactInterval and BookmarkInterval override the storage defaults
	// (see server.Config); zero keeps them.
	CompactInterval  time.Duration
	BookmarkInterval time.Duration
	// ControllerManager runs the controllers in the server, as
	// `skiff server` does; off by default so tests of the API alone (or
	// of one controller they start themselves) see no other writers.
	ControllerManager bool
	// Scheduler runs the scheduler in the server; off by default.
	Scheduler bool
	// AllAdmissionPlugins keeps every admission plugin on. By default the
	// test server disables ServiceAccount and TaintNodesByCondition, as
	// upstream's integration test server does: their controllers (service
	// accounts, node lifecycle) do not run in it.
	AllAdmissionPlugins bool
}

// Start starts a server and waits until it is ready.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := opts.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Server{t: t, cfg: server.Config{
		DataDir:                  dir,
		BindAddress:              "127.0.0.1",
		AdvertiseAddress:         "127.0.0.1",
		DatastoreEndpoints:       opts.DatastoreEndpoints,
		CompactInterval:          opts.CompactInterval,
		BookmarkInterval:         opts.BookmarkInterval,
		DisableControllerManager: !opts.ControllerManager,
		DisableScheduler:         !opts.Scheduler,
		DisableAgent:             true,
		DisableAdmissionPlugins:  disabledPlugins(opts),
		Logger:                   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	// Listen here so the port is ours: the first start takes any free
	// port, a restart the same one again.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.HTTPSPort)))
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	s.cfg.HTTPSPort = ln.Addr().(*net.TCPAddr).Port
	sc := s.cfg
	sc.Listener = ln
	srv, err := server.New(sc)
	if err != nil {
		s.t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(done)
		errc <- srv.Run(ctx)
	}()
	select {
	case <-srv.Ready():
	case err := <-errc:
		cancel()
		s.t.Fatalf("server exited before ready: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		s.t.Fatalf("server not ready after 60s")
	}
	s.srv, s.cancel, s.done = srv, cancel, done
	cfg, err := srv.AdminConfig()
	if err != nil {
		s.t.Fatalf("admin config: %v", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	s.Config = cfg
	s.Client = kubernetes.NewForConfigOrDie(cfg)
}

// UserConfig returns a client config of the current run that
// authenticates as user in groups (a client certificate from the cluster
// CA).
func (s *Server) UserConfig(user string, groups ...string) *rest.Config {
	s.t.Helper()
	cfg, err := s.srv.ClientConfig(user, groups)
	if err != nil {
		s.t.Fatalf("client config for %s: %v", user, err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// Stop stops the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// Restart stops the server and starts it again on the same data directory
// and port; Config and Client are replaced.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

func disabledPlugins(opts Options) []string {
	if opts.AllAdmissionPlugins {
		return nil
	}
	return []string{"ServiceAccount", "TaintNodesByCondition"}
}
