package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Upstream's defaults (kube-scheduler and kube-controller-manager
// --leader-elect-lease-duration, -renew-deadline, -retry-period).
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Lease client budget: a renewal every RetryPeriod needs far less, the
// rest is headroom for the Get before each Update.
const (
	clientQPS   = 10
	clientBurst = 20
)

// ErrNoClient is returned by Run when Config.Client is nil.
var ErrNoClient = errors.New("leader: no Lease client")

// Config names the Lease and sets its timing; zero durations take the
// defaults above.
type Config struct {
	// Namespace and Name of the Lease; Identity of this candidate.
	Namespace, Name, Identity string
	// Client reads and writes the Lease; build it with NewClient.
	Client kubernetes.Interface

	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// Logger; nil: slog.Default().
	Logger *slog.Logger
}

// NewClient returns a clientset for the Lease only: cfg's server and
// credentials, but its own connection (an HTTP/2 connection shared with a
// busy component can have every stream taken) and its own rate limit.
func NewClient(cfg *rest.Config) (kubernetes.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst, c.RateLimiter = clientQPS, clientBurst, nil
	c.UserAgent = rest.DefaultKubernetesUserAgent() + "/leader-election"
	if cfg.UserAgent != "" {
		c.UserAgent = cfg.UserAgent + "/leader-election"
	}
	// client-go shares one transport between configs with the same TLS
	// settings unless a proxy function is set. This is its default proxy
	// function: set explicitly, it gives the client a transport of its own.
	if c.Proxy == nil {
		c.Proxy = utilnet.NewProxierWithNoProxyCIDR(http.ProxyFromEnvironment)
	}
	return kubernetes.NewForConfig(c)
}

// Run campaigns for the Lease and calls lead with a context that ends when
// the Lease is lost or ctx ends. When lead returns after a lost Lease, Run
// campaigns again; when ctx ends it releases the Lease and returns nil.
// lead must return soon after its context ends; if it returns while still
// leading, Run releases the Lease and returns what lead returned.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context) error) error {
	if cfg.Client == nil {
		return ErrNoClient
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	// acquired receives each term's leading context; buffered so the
	// elector's callback never blocks.
	acquired := make(chan context.Context, 1)
	elCfg := leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
			Client:     cfg.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
		},
		LeaseDuration:   orDefault(cfg.LeaseDuration, DefaultLeaseDuration),
		RenewDeadline:   orDefault(cfg.RenewDeadline, DefaultRenewDeadline),
		RetryPeriod:     orDefault(cfg.RetryPeriod, DefaultRetryPeriod),
		ReleaseOnCancel: true,
		Name:            cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) { acquired <- lctx },
			OnStoppedLeading: func() {},
		},
	}
	// One elector for every term: it remembers when it first saw the
	// Lease's current holder, so after a loss it takes the Lease back as
	// soon as that holder's term runs out, not a full LeaseDuration after
	// the next campaign starts.
	elector, err := leaderelection.NewLeaderElector(elCfg)
	if err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	for {
		lost, err := term(ctx, elector, acquired, log, lead)
		if err != nil || !lost || ctx.Err() != nil {
			return err
		}
		log.Warn("lost leadership; campaigning again")
	}
}

// term runs one campaign: it waits for the Lease, runs lead while holding
// it, and returns once the elector and lead have both stopped. lost reports
// that the Lease was lost (not given up because ctx ended).
func term(ctx context.Context, elector *leaderelection.LeaderElector, acquired <-chan context.Context, log *slog.Logger, lead func(context.Context) error) (lost bool, err error) {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	// electorDone is closed when the elector has stopped (and released
	// the Lease if ctx ended while it held it).
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		elector.Run(ectx)
	}()
	log.Info("waiting for leadership")
	select {
	case lctx := <-acquired:
		log.Info("became leader")
		err = lead(lctx)
		ended := lctx.Err() != nil
		lost = ended && ctx.Err() == nil
		cancel()
		<-electorDone
		if ended {
			// The term ended (Lease lost or ctx done): what lead
			// returned is the work stopping, not a failure.
			err = nil
		}
		return lost, err
	case <-electorDone:
		// ctx ended before the Lease was won.
		return false, nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
