package serviceaccount

import (
	"context"
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// DefaultName is the account every namespace gets.
const DefaultName = "default"

// Config holds what a Controller needs; Client, Namespaces and
// ServiceAccounts are required.
type Config struct {
	Client          kubernetes.Interface
	Namespaces      coreinformers.NamespaceInformer
	ServiceAccounts coreinformers.ServiceAccountInformer
	// Names are the accounts kept in every namespace (default
	// ["default"]).
	Names []string
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of namespaces handled at once (default 3).
	Workers int
	// MaxRetryDelay caps the per-namespace backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller creates the managed ServiceAccounts in active namespaces.
type Controller struct {
	client     kubernetes.Interface
	nsInformer cache.SharedIndexInformer
	nsLister   corelisters.NamespaceLister
	saInformer cache.SharedIndexInformer
	saLister   corelisters.ServiceAccountLister
	names      []string
	clock      clock.WithTicker
	log        *slog.Logger
	workers    int
	maxDelay   time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:     cfg.Client,
		nsInformer: cfg.Namespaces.Informer(),
		nsLister:   cfg.Namespaces.Lister(),
		saInformer: cfg.ServiceAccounts.Informer(),
		saLister:   cfg.ServiceAccounts.Lister(),
		names:      cfg.Names,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		workers:    cfg.Workers,
		maxDelay:   cfg.MaxRetryDelay,
	}
	if len(c.names) == 0 {
		c.names = []string{DefaultName}
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "serviceaccount")
	if c.workers <= 0 {
		c.workers = 3
	}
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("serviceaccount", c.clock, 0, c.maxDelay)
	nsReg, err := c.nsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { enqueueNamespace(queue.Add, obj) },
		UpdateFunc: func(_, obj any) { enqueueNamespace(queue.Add, obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.nsInformer.RemoveEventHandler(nsReg) }()
	saReg, err := c.saInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if sa, ok := obj.(*corev1.ServiceAccount); ok && c.managed(sa.Name) {
				queue.Add(sa.Namespace)
			}
		},
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.saInformer.RemoveEventHandler(saReg) }()
	if !cache.WaitForNamedCacheSync("serviceaccount", ctx.Done(),
		c.nsInformer.HasSynced, c.saInformer.HasSynced, nsReg.HasSynced, saReg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers, "accounts", c.names)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

func enqueueNamespace(add func(string), obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		add(ns.Name)
	}
}

func (c *Controller) managed(name string) bool {
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

// Sync makes sure the namespace named by key holds every managed account.
// A missing or terminating namespace is done; an error means retry.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, err := c.nsLister.Get(key)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if terminating(ns) {
		return ctrlutil.Result{}, nil
	}
	var errs []error
	for _, name := range c.names {
		_, err := c.saLister.ServiceAccounts(key).Get(name)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key, Name: name}}
		_, err = c.client.CoreV1().ServiceAccounts(key).Create(ctx, sa, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Info("created service account", "namespace", key, "name", name)
		case apierrors.IsAlreadyExists(err):
			// The cache was behind; the account is there.
		case apierrors.IsNotFound(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// The namespace went away or began terminating meanwhile.
			return ctrlutil.Result{}, nil
		default:
			errs = append(errs, err)
		}
	}
	return ctrlutil.Result{}, errors.Join(errs...)
}

// terminating reports whether the namespace is being deleted.
func terminating(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}
