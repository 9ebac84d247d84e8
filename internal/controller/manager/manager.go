package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/certificates"
	"github.com/skiff-sh/skiff/internal/leader"
)

// Options configure Run; the zero value runs every controller without
// leader election.
type Options struct {
	// LeaderElect runs the controllers only while holding the Lease
	// LeaderElection names.
	LeaderElect    bool
	LeaderElection LeaderElection
	// Controllers names the controllers to run (see Names); nil runs all.
	Controllers []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock is given to the controllers (default the real clock).
	Clock clock.WithTicker
	// ResyncPeriod of the shared informers (default 0: no resync).
	ResyncPeriod time.Duration
	// MaxRetryDelay caps controllers' per-item backoff (default 30s).
	MaxRetryDelay time.Duration
	// RediscoveryPeriod is how often discovery-driven controllers (the
	// garbage collector) look for new kinds (default 30s).
	RediscoveryPeriod time.Duration
	// RootCACert is the cluster CA bundle (PEM) the root-ca-cert-publisher
	// puts in every namespace as kube-root-ca.crt. Empty means the CA the
	// manager's rest.Config trusts (CAData, else CAFile); if that is empty
	// too, the publisher fails to start.
	RootCACert []byte
	// ClusterCIDR is the pod network node-ipam carves per-node pod CIDRs
	// from: one CIDR, or an IPv4 and an IPv6 one separated by a comma
	// (default 10.42.0.0/16; /24 per IPv4 node, /64 per IPv6 node).
	ClusterCIDR string
	// NodeMonitorGracePeriod is how long a node may go without a
	// heartbeat before node-lifecycle marks it Unknown (default 40s).
	NodeMonitorGracePeriod time.Duration
	// UseServiceAccountCredentials runs each controller as the
	// kube-system service account its Entry names (created if missing,
	// with tokens from the TokenRequest API), as upstream's
	// --use-service-account-credentials; the identity of the rest.Config
	// given to Run then only elects the leader, feeds the shared
	// informers and asks for those tokens. Off, every controller uses that
	// identity.
	UseServiceAccountCredentials bool
	// SigningCA issues the certificates of approved
	// CertificateSigningRequests; without it csrsigning does not start.
	SigningCA certificates.CA
	// TerminatedPodGCThreshold is how many finished pods may exist
	// before pod-garbage-collector deletes the oldest (default 12500;
	// negative disables it).
	TerminatedPodGCThreshold int
}

// LeaderElection names the Lease and sets its timing; zero fields take the
// defaults shown.
type LeaderElection struct {
	Namespace     string        // kube-system
	Name          string        // skiff-controller-manager
	Identity      string        // hostname_<random>
	LeaseDuration time.Duration // 15s
	RenewDeadline time.Duration // 10s
	RetryPeriod   time.Duration // 2s
}

// Controller is one control loop: Run blocks until ctx ends and returns
// after everything it started has stopped.
type Controller interface {
	Run(ctx context.Context) error
}

// Entry is one line of the controller list: a name, the kube-system
// service account the controller acts as (upstream's name for it), and a
// constructor.
type Entry struct {
	Name           string
	ServiceAccount string
	New            func(*Context) (Controller, error)
}

// Context is what constructors get: clients and informer factories shared
// by all controllers. Factories are started by the manager after every
// constructor ran, so constructors only ask for informers.
type Context struct {
	Client            kubernetes.Interface
	Metadata          metadata.Interface
	Dynamic           dynamic.Interface
	Discovery         discovery.DiscoveryInterface
	Mapper            meta.ResettableRESTMapper
	Informers         informers.SharedInformerFactory
	MetadataInformers metadatainformer.SharedInformerFactory
	Clock             clock.WithTicker
	Logger            *slog.Logger
	Options           Options
	// RootCACert is Options.RootCACert or its default (see there).
	RootCACert []byte
}

// Names lists the controllers Run knows, in start order.
func Names() []string {
	out := make([]string, 0, len(controllers))
	for _, e := range controllers {
		out = append(out, e.Name)
	}
	return out
}

// Run runs the controller manager against the API server cfg points at
// until ctx ends (nil error). With leader election the controllers run only
// while the Lease is held; losing it stops them and campaigning starts
// again.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	for _, name := range opts.Controllers {
		if !slices.Contains(Names(), name) {
			return fmt.Errorf("manager: unknown controller %q", name)
		}
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "skiff-controller-manager"
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 200, 400
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if !opts.LeaderElect {
		return runControllers(ctx, cfg, client, opts)
	}
	return runElected(ctx, cfg, client, opts)
}

// runElected runs the controllers while this process holds the lease, and
// campaigns again whenever it loses it: each term builds the controllers
// and informers afresh and stops them all before the next campaign. The
// lease is renewed on a client of its own (leader.NewClient), so a busy
// manager's requests never delay a renewal.
func runElected(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, opts Options) error {
	le := opts.LeaderElection
	if le.Namespace == "" {
		le.Namespace = metav1.NamespaceSystem
	}
	if le.Name == "" {
		le.Name = "skiff-controller-manager"
	}
	if le.Identity == "" {
		host, _ := os.Hostname()
		le.Identity = host + "_" + string(uuid.NewUUID())
	}
	leaseClient, err := leader.NewClient(cfg)
	if err != nil {
		return err
	}
	return leader.Run(ctx, leader.Config{
		Namespace: le.Namespace, Name: le.Name, Identity: le.Identity, Client: leaseClient,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		Logger: opts.Logger,
	}, func(lctx context.Context) error {
		return runControllers(lctx, cfg, client, opts)
	})
}

// rootCACert is the bundle the root CA publisher publishes: the one given,
// else the CA cfg trusts; nil if neither is set (or the file is unreadable).
func rootCACert(cfg *rest.Config, opts Options) []byte {
	if len(opts.RootCACert) > 0 {
		return opts.RootCACert
	}
	if len(cfg.CAData) > 0 {
		return cfg.CAData
	}
	if cfg.CAFile != "" {
		if b, err := os.ReadFile(cfg.CAFile); err == nil {
			return b
		}
	}
	return nil
}

// runControllers builds the enabled controllers, starts the informers and
// runs the controllers until ctx ends.
func runControllers(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, opts Options) error {
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc := memory.NewMemCacheClient(client.Discovery())
	c := &Context{
		Client:            client,
		Metadata:          md,
		Dynamic:           dyn,
		Discovery:         client.Discovery(),
		Mapper:            restmapper.NewDeferredDiscoveryRESTMapper(disc),
		Informers:         informers.NewSharedInformerFactory(client, opts.ResyncPeriod),
		MetadataInformers: metadatainformer.NewSharedInformerFactory(md, opts.ResyncPeriod),
		Clock:             opts.Clock,
		Logger:            opts.Logger,
		Options:           opts,
		RootCACert:        rootCACert(cfg, opts),
	}
	type running struct {
		name string
		c    Controller
	}
	var list []running
	for _, e := range controllers {
		if opts.Controllers != nil && !slices.Contains(opts.Controllers, e.Name) {
			continue
		}
		ec, err := c.forController(ctx, cfg, e)
		if err != nil {
			return fmt.Errorf("controller %s: %w", e.Name, err)
		}
		ctrl, err := e.New(ec)
		if err != nil {
			return fmt.Errorf("controller %s: %w", e.Name, err)
		}
		list = append(list, running{e.Name, ctrl})
	}
	c.Informers.Start(ctx.Done())
	c.MetadataInformers.Start(ctx.Done())
	defer c.Informers.Shutdown()
	defer c.MetadataInformers.Shutdown()

	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, r := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("controller %s panicked: %v", r.name, p)
				}
			}()
			opts.Logger.Info("starting controller", "controller", r.name)
			if err := r.c.Run(ctx); err != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("controller %s: %w", r.name, err)
				opts.Logger.Error("controller stopped", "controller", r.name, "err", err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// forController returns the Context a controller is built with: c
// itself, or with UseServiceAccountCredentials a copy whose clients act as
// the entry's service account (the informer factories stay shared).
func (c *Context) forController(ctx context.Context, root *rest.Config, e Entry) (*Context, error) {
	if !c.Options.UseServiceAccountCredentials {
		return c, nil
	}
	cfg, err := serviceAccountConfig(ctx, root, c.Client, e.ServiceAccount, c.Clock)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ec := *c
	ec.Client, ec.Metadata, ec.Dynamic, ec.Discovery = client, md, dyn, client.Discovery()
	return &ec, nil
}
