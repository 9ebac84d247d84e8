package rootcacert

import (
	"context"
	"errors"
	"log/slog"
	"maps"
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

// Names and texts clients see, as in Kubernetes.
const (
	// ConfigMapName is the ConfigMap published in every namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DataKey holds the PEM bundle.
	DataKey = "ca.crt"
	// DescriptionAnnotation documents the ConfigMap's purpose.
	DescriptionAnnotation = "kubernetes.io/description"
	// Description is the text of DescriptionAnnotation.
	Description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// ErrNoRootCA is returned by New when Config.RootCA is empty.
var ErrNoRootCA = errors.New("rootcacert: no root CA bundle")

// Config holds what a Controller needs; every field but Clock, Logger,
// Workers and MaxRetryDelay is required.
type Config struct {
	Client     kubernetes.Interface
	Namespaces coreinformers.NamespaceInformer
	ConfigMaps coreinformers.ConfigMapInformer
	// RootCA is the PEM bundle to publish.
	RootCA []byte
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of namespaces handled at once (default 3).
	Workers int
	// MaxRetryDelay caps the per-namespace backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller publishes the root CA bundle in every active namespace.
type Controller struct {
	client     kubernetes.Interface
	nsInformer cache.SharedIndexInformer
	nsLister   corelisters.NamespaceLister
	cmInformer cache.SharedIndexInformer
	cmLister   corelisters.ConfigMapLister
	rootCA     string
	clock      clock.WithTicker
	log        *slog.Logger
	workers    int
	maxDelay   time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if len(cfg.RootCA) == 0 {
		return nil, ErrNoRootCA
	}
	c := &Controller{
		client:     cfg.Client,
		nsInformer: cfg.Namespaces.Informer(),
		nsLister:   cfg.Namespaces.Lister(),
		cmInformer: cfg.ConfigMaps.Informer(),
		cmLister:   cfg.ConfigMaps.Lister(),
		rootCA:     string(cfg.RootCA),
		clock:      cfg.Clock,
		log:        cfg.Logger,
		workers:    cfg.Workers,
		maxDelay:   cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "root-ca-cert-publisher")
	if c.workers <= 0 {
		c.workers = 3
	}
	return c, nil
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("root-ca-cert-publisher", c.clock, 0, c.maxDelay)
	enqueueNS := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			queue.Add(ns.Name)
		}
	}
	enqueueCM := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
			queue.Add(cm.Namespace)
		}
	}
	nsReg, err := c.nsInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, obj any) { enqueueNS(obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.nsInformer.RemoveEventHandler(nsReg) }()
	cmReg, err := c.cmInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { enqueueCM(obj) },
		DeleteFunc: enqueueCM,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.cmInformer.RemoveEventHandler(cmReg) }()
	if !cache.WaitForNamedCacheSync("root-ca-cert-publisher", ctx.Done(),
		c.nsInformer.HasSynced, c.cmInformer.HasSynced, nsReg.HasSynced, cmReg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// Sync makes the namespace named by key hold an up-to-date
// kube-root-ca.crt. A missing or terminating namespace is done; an error
// means retry.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, err := c.nsLister.Get(key)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return ctrlutil.Result{}, nil
	}
	want := map[string]string{DataKey: c.rootCA}
	cached, err := c.cmLister.ConfigMaps(key).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:   key,
				Name:        ConfigMapName,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: want,
		}
		_, err := c.client.CoreV1().ConfigMaps(key).Create(ctx, cm, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Info("published root CA", "namespace", key)
		case apierrors.IsAlreadyExists(err):
			// The cache was behind; the update event that follows (or
			// the next namespace event) checks its content.
		case apierrors.IsNotFound(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// The namespace went away or began terminating meanwhile.
		default:
			return ctrlutil.Result{}, err
		}
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	// As upstream, the description only has to be present: a user may
	// reword it without the controller fighting over it.
	if maps.Equal(cached.Data, want) && cached.Annotations[DescriptionAnnotation] != "" {
		return ctrlutil.Result{}, nil
	}
	cm := cached.DeepCopy()
	cm.Data = want
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	if cm.Annotations[DescriptionAnnotation] == "" {
		cm.Annotations[DescriptionAnnotation] = Description
	}
	_, err = c.client.CoreV1().ConfigMaps(key).Update(ctx, cm, metav1.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Info("restored root CA", "namespace", key)
	case apierrors.IsNotFound(err):
		// Deleted meanwhile; its delete event brings us back.
	default:
		// A Conflict means a newer version exists; retry against it.
		return ctrlutil.Result{}, err
	}
	return ctrlutil.Result{}, nil
}
