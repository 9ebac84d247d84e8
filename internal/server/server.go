package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/allocator"
	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/audit"
	"github.com/skiff-sh/skiff/internal/datastore"
	"github.com/skiff-sh/skiff/internal/encryption"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/resources"
	"github.com/skiff-sh/skiff/internal/resources/fieldsel"
	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/version"
)

// Config is filled from `skiff server` flags.
type Config struct {
	DataDir          string
	BindAddress      string
	HTTPSPort        int
	AdvertiseAddress string
	KubeconfigPath   string
	// DatastoreEndpoints selects an external etcd; empty runs an embedded one
	// in DataDir/db.
	DatastoreEndpoints []string
	DatastoreTLS       datastore.ExternalTLS
	TLSSANs            []string
	// DisableAdmissionPlugins names admission plugins to leave out
	// (--disable-admission-plugins).
	DisableAdmissionPlugins []string
	// AuditPolicyFile and AuditLogPath turn on the audit log when both are
	// set (--audit-policy-file, --audit-log-path; "-" is stdout).
	AuditPolicyFile string
	AuditLogPath    string
	// EncryptionProviderConfig encrypts resources at rest
	// (--encryption-provider-config).
	EncryptionProviderConfig string
	// Token is the cluster join secret (--token); empty keeps the one in
	// DATA-DIR/token or makes one.
	Token string
	// TokenAuthFile is a static token file (--token-auth-file).
	TokenAuthFile string
	ServiceCIDR   string
	// ClusterCIDR is the pod network range nodes get their podCIDR from.
	ClusterCIDR   string
	NodePortRange string
	// ClusterDNS is the cluster DNS Service's IP (--cluster-dns; default
	// the service range's tenth address, 10.43.0.10); ClusterDomain its
	// domain (--cluster-domain, default cluster.local).
	ClusterDNS    string
	ClusterDomain string
	// FlannelBackend routes pods between nodes: vxlan (default), host-gw
	// or none (--flannel-backend, k3s's flag).
	FlannelBackend string
	// Listener, when set, is the HTTPS listener to serve on instead of
	// listening on BindAddress:HTTPSPort (tests pass one on a free port).
	Listener net.Listener
	// CompactInterval between etcd compactions; 0 means the default.
	CompactInterval time.Duration
	// DisableControllerManager leaves the controllers out (k3s's
	// --disable-controller-manager).
	DisableControllerManager bool
	// DisableAgent leaves out the node agent for this machine
	// (--disable-agent); NodeName names its Node (default: the host name).
	DisableAgent bool
	NodeName     string
	// Eviction sets the local agent's node-pressure thresholds
	// (--eviction-hard).
	Eviction kubelet.EvictionConfig
	// DisableScheduler leaves the scheduler out (--disable-scheduler).
	DisableScheduler bool
	// SchedulerConfig is a KubeSchedulerConfiguration file; empty uses
	// upstream's defaults.
	SchedulerConfig string
	// BookmarkInterval between watch BOOKMARK events; 0 means the default.
	BookmarkInterval time.Duration
	Logger           *slog.Logger
}

// errStarting fails the readiness check until Run has finished starting.
var errStarting = errors.New("server: not finished starting")

// Server is one running control plane.
type Server struct {
	cfg Config
	// ready is closed once the API serves requests.
	ready chan struct{}
	// url is the HTTPS address clients use, set before ready closes.
	url    string
	bundle *pki.Bundle
	// cluster is what agents learn from the server, set at Run's start.
	cluster join.ClusterConfig
	// schedulerState and managerState say whether the in-process
	// scheduler and controller manager run, for componentstatuses.
	schedulerState, managerState componentRunning
}

// New checks cfg and fills in defaults. It starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "/var/lib/skiff"
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = 6443
	}
	if cfg.BindAddress == "" {
		cfg.BindAddress = "0.0.0.0"
	}
	if cfg.KubeconfigPath == "" {
		cfg.KubeconfigPath = filepath.Join(cfg.DataDir, "admin.kubeconfig")
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if cfg.NodePortRange == "" {
		cfg.NodePortRange = "30000-32767"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	switch cfg.FlannelBackend {
	case "":
		cfg.FlannelBackend = "vxlan"
	case "vxlan", "host-gw", "none":
	default:
		return nil, fmt.Errorf("--flannel-backend %q: want vxlan, host-gw or none", cfg.FlannelBackend)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdvertiseAddress == "" {
		cfg.AdvertiseAddress = defaultAdvertiseAddress(cfg.BindAddress)
	}
	return &Server{cfg: cfg, ready: make(chan struct{})}, nil
}

// Ready is closed once the server answers API requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// AdminConfig returns a client config with the admin identity; valid after
// Ready.
func (s *Server) AdminConfig() (*rest.Config, error) {
	return s.bundle.RestConfig(s.url, "system:admin", []string{"system:masters"})
}

// ClientConfig returns a client config authenticating as user in groups
// with a certificate from the cluster CA; valid after Ready.
func (s *Server) ClientConfig(user string, groups []string) (*rest.Config, error) {
	return s.bundle.RestConfig(s.url, user, groups)
}

// Run starts the control plane and serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context) error {
	log := s.cfg.Logger
	start := time.Now()
	_, serviceNet, err := net.ParseCIDR(s.cfg.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr: %w", err)
	}
	dnsIP, err := clusterDNSIP(s.cfg.ClusterDNS, serviceNet)
	if err != nil {
		return err
	}
	s.cluster = join.ClusterConfig{
		ClusterCIDR: s.cfg.ClusterCIDR, ServiceCIDR: s.cfg.ServiceCIDR, ClusterDNS: dnsIP.String(),
		ClusterDomain: s.cfg.ClusterDomain, FlannelBackend: s.cfg.FlannelBackend,
	}
	portBase, portSize, err := parsePortRange(s.cfg.NodePortRange)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return err
	}
	// It holds keys, tokens and the database: only its owner may look in,
	// whoever created it before.
	if err := os.Chmod(s.cfg.DataDir, 0o700); err != nil {
		return err
	}

	// Certificates are made while etcd starts.
	bundleCh := make(chan error, 1)
	go func() {
		exclude := []*net.IPNet{serviceNet}
		if _, pods, err := net.ParseCIDR(s.cfg.ClusterCIDR); err == nil {
			exclude = append(exclude, pods)
		}
		b, err := pki.Ensure(filepath.Join(s.cfg.DataDir, "tls"), pki.Options{
			SANs: servingSANs(s.cfg, hostAddresses(), exclude), ServiceCIDRs: []*net.IPNet{serviceNet},
		})
		s.bundle = b
		bundleCh <- err
	}()

	client, datastoreErr, closeDatastore, err := s.startDatastore(ctx)
	if err != nil {
		<-bundleCh
		return err
	}
	defer closeDatastore()
	if err := <-bundleCh; err != nil {
		return err
	}

	var enc *encryption.Transformers
	if s.cfg.EncryptionProviderConfig != "" {
		if enc, err = encryption.Load(s.cfg.EncryptionProviderConfig); err != nil {
			return err
		}
	}
	auditor, stopAudit, err := s.startAudit()
	if err != nil {
		return err
	}
	defer stopAudit()

	store, err := storage.New(storage.Config{Client: client, CompactInterval: s.cfg.CompactInterval, BookmarkInterval: s.cfg.BookmarkInterval, Logger: log})
	if err != nil {
		return err
	}
	infos := resources.All()
	stores := map[schema.GroupVersionKind]storage.Resource{}
	for _, info := range infos {
		gvk := info.Storage()
		if stores[gvk] != nil || info.Virtual {
			continue
		}
		stores[gvk] = store.Register(storage.ResourceConfig{
			GroupResource: schema.GroupResource{Group: gvk.Group, Resource: info.Resource},
			GVK:           gvk,
			Namespaced:    info.Namespaced,
			New:           func() runtime.Object { obj, _ := scheme.Scheme.New(gvk); return obj },
			Attrs:         fieldsel.Attrs,
			Transformer:   enc.For(schema.GroupResource{Group: gvk.Group, Resource: info.Resource}),
		})
	}
	if err := store.Start(ctx); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer store.Stop()

	ips, err := allocator.NewIPAllocator(client, "/registry/ranges/serviceips", serviceNet)
	if err != nil {
		return err
	}
	ports, err := allocator.NewPortAllocator(client, "/registry/ranges/servicenodeports", portBase, portSize)
	if err != nil {
		return err
	}

	if err := ips.Refresh(ctx); err != nil {
		return err
	}
	if err := ports.Refresh(ctx); err != nil {
		return err
	}
	if err := repairAllocators(ctx, stores[schema.GroupVersionKind{Version: "v1", Kind: "Service"}], ips, ports); err != nil {
		return fmt.Errorf("repair allocators: %w", err)
	}

	oa, err := openapi.New(infos, scheme.Scheme, version.Get().GitVersion)
	if err != nil {
		return err
	}
	sec, err := s.newSecurity(lookup{stores: stores})
	if err != nil {
		return err
	}
	kubeletClient, err := s.kubeletClient()
	if err != nil {
		return err
	}
	health := apiserver.NewHealth()
	health.Add("etcd", false, func(ctx context.Context) error {
		_, err := client.Get(ctx, "health", clientv3.WithCountOnly())
		return err
	})
	// Not ready until start-up is done: the bootstrap objects exist and
	// the admin kubeconfig is written (clients wait on /readyz, then read
	// the kubeconfig).
	health.Add("poststarthook/skiff-bootstrap", true, func(context.Context) error {
		select {
		case <-s.ready:
			return nil
		default:
			return errStarting
		}
	})
	api, err := apiserver.New(apiserver.Config{
		Resources: infos,
		Stores:    stores,
		Version:   version.Get(),
		OpenAPI:   oa,
		Services:  &apiserver.ServiceAllocator{IPs: ips, Ports: ports},
		Health:    health,

		Authenticator:      sec.authn,
		Authorizer:         sec.authz,
		TokenAuthenticator: sec.authn,
		Tokens:             sec.tokens,
		Rules:              sec.rbac,
		Admission:          sec.admit,
		Auditor:            auditor,
		RBACGuard:          sec.guard,
		Kubelet:            kubeletClient,
		Components:         s.componentChecks(client),
		JWKSURI:            s.jwksURI(),
	})
	if err != nil {
		return err
	}

	ln := s.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(s.cfg.HTTPSPort))); err != nil {
			return err
		}
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s.url = "https://" + net.JoinHostPort(clientHost(s.cfg.BindAddress), strconv.Itoa(port))
	serveCtx, stopServing := context.WithCancel(context.Background())
	ctx, stopComponents := context.WithCancel(ctx)
	defer stopComponents()
	defer stopServing()
	srv := &http.Server{
		Handler:           withJoin(api, &join.Handler{CA: s.bundle.CACertPEM(), Issuer: nodeIssuer{s.bundle}, Authenticator: sec.authn, Cluster: s.cluster}),
		TLSConfig:         s.bundle.ServerTLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return serveCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()

	tok, err := s.joinToken()
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("join token: %w", err)
	}
	if err := s.bootstrap(ctx, api, serviceNet, dnsIP, port); err != nil {
		_ = srv.Close()
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := ensureJoinSecret(ctx, api, tok); err != nil {
		_ = srv.Close()
		return fmt.Errorf("join token: %w", err)
	}
	if err := pki.WriteKubeconfig(s.cfg.KubeconfigPath, s.url, s.bundle, "system:admin", "system:masters"); err != nil {
		_ = srv.Close()
		return err
	}
	log.Info("skiff server ready", "url", s.url, "kubeconfig", s.cfg.KubeconfigPath, "startup", time.Since(start).Round(time.Millisecond))
	close(s.ready)
	components, err := s.startComponents(ctx)
	if err != nil {
		_ = srv.Close()
		return err
	}
	// The server's own reconcilers stop with the components.
	for _, l := range append(newFlowSchemaStatus(api, stores, log), newIPAddressMirror(api, stores, log)) {
		components.Add(1)
		go func() {
			defer components.Done()
			l.Run(ctx)
		}()
	}

	// The OpenAPI documents are large: build them now, off the start path.
	go func() {
		_ = oa.Warm()
		// Building them grows the heap well past what stays live; hand
		// the difference back to the OS so an idle server stays small.
		debug.FreeOSMemory()
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
	case err := <-datastoreErr:
		runErr = fmt.Errorf("embedded etcd: %w", err)
	}
	log.Info("shutting down")
	// The components are API clients: stop them while the API still
	// answers, then the API.
	stopComponents()
	components.Wait()
	if runErr != nil {
		_ = srv.Close()
		return runErr
	}
	health.ShuttingDown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Watches never finish on their own: end them with the base context.
	stopServing()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}

// startDatastore connects to the external etcd, or starts the embedded
// one; the error channel (nil for an external etcd) reports the embedded
// server failing.
func (s *Server) startDatastore(ctx context.Context) (*clientv3.Client, <-chan error, func(), error) {
	if len(s.cfg.DatastoreEndpoints) > 0 {
		tlsCfg, err := s.cfg.DatastoreTLS.Config()
		if err != nil {
			return nil, nil, nil, err
		}
		c, err := datastore.ConnectExternal(s.cfg.DatastoreEndpoints, tlsCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		return c, nil, func() { _ = c.Close() }, nil
	}
	e, err := datastore.StartEmbedded(ctx, filepath.Join(s.cfg.DataDir, "db"), datastore.EmbeddedOptions{
		TLSDir: filepath.Join(s.cfg.DataDir, "tls", pki.EtcdDir),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return e.Client(), e.Err(), func() { _ = e.Close() }, nil
}

func parsePortRange(s string) (int, int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a <= 0 || b < a || b > 65535 {
		return 0, 0, fmt.Errorf("--service-node-port-range %q: want FROM-TO", s)
	}
	return a, b - a + 1, nil
}

// withJoin serves the join endpoints beside the API.
func withJoin(api http.Handler, j *join.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, join.PathPrefix) {
			j.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// startAudit opens the audit log when it is configured; the returned stop
// function flushes it (after the API stops serving) and closes it.
func (s *Server) startAudit() (*audit.Auditor, func(), error) {
	if s.cfg.AuditPolicyFile == "" || s.cfg.AuditLogPath == "" {
		return nil, func() {}, nil
	}
	policy, err := audit.LoadPolicy(s.cfg.AuditPolicyFile)
	if err != nil {
		return nil, nil, err
	}
	out, err := audit.OpenLog(s.cfg.AuditLogPath)
	if err != nil {
		return nil, nil, err
	}
	w := audit.NewWriter(out, 0, s.cfg.Logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	stop := func() {
		cancel()
		<-done
		_ = out.Close()
	}
	return audit.New(policy, w, audit.Options{}), stop, nil
}

// clientHost is the host clients dial for a bind address.
func clientHost(bind string) string {
	if ip := net.ParseIP(bind); ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return bind
}

// defaultAdvertiseAddress is the address other nodes and pods reach the API
// at: the bind address, or the first non-loopback IPv4 of this host.
func defaultAdvertiseAddress(bind string) string {
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() {
		return bind
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
