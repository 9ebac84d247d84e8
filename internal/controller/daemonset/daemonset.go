package daemonset

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Config holds what a Controller needs; Client and the informers are
// required.
type Config struct {
	Client     kubernetes.Interface
	DaemonSets appsinformers.DaemonSetInformer
	Pods       coreinformers.PodInformer
	Nodes      coreinformers.NodeInformer
	Revisions  appsinformers.ControllerRevisionInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client,
	// started by Run.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of sets synced at once (default 2).
	Workers int
	// MaxRetryDelay caps the per-set backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller reconciles DaemonSets; see the package doc.
type Controller struct {
	client    kubernetes.Interface
	informers []cache.SharedIndexInformer
	sets      appslisters.DaemonSetLister
	pods      corelisters.PodLister
	nodes     corelisters.NodeLister
	revisions appslisters.ControllerRevisionLister
	expect    *expectations
	recorder  ctrlutil.Events
	clock     clock.WithTicker
	log       *slog.Logger
	workers   int
	maxDelay  time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client: cfg.Client,
		informers: []cache.SharedIndexInformer{
			cfg.DaemonSets.Informer(), cfg.Pods.Informer(), cfg.Nodes.Informer(), cfg.Revisions.Informer(),
		},
		sets:      cfg.DaemonSets.Lister(),
		pods:      cfg.Pods.Lister(),
		nodes:     cfg.Nodes.Lister(),
		revisions: cfg.Revisions.Lister(),
		expect:    newExpectations(),
		clock:     cfg.Clock,
		log:       cfg.Logger,
		workers:   cfg.Workers,
		maxDelay:  cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "daemonset")
	if c.workers <= 0 {
		c.workers = 2
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "daemonset-controller")
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("daemonset", c.clock, 0, c.maxDelay)
	defer c.recorder.Start(ctx)()
	handlers := []cache.ResourceEventHandler{
		ctrlutil.EnqueueHandler(queue),
		cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { c.podEvent(queue, obj, true, false) },
			UpdateFunc: func(old, obj any) {
				c.podEvent(queue, old, false, false)
				c.podEvent(queue, obj, false, false)
			},
			DeleteFunc: func(obj any) { c.podEvent(queue, obj, false, true) },
		},
		cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { c.enqueueAll(queue) },
			UpdateFunc: func(old, obj any) {
				if nodeChanged(old, obj) {
					c.enqueueAll(queue)
				}
			},
			DeleteFunc: func(any) { c.enqueueAll(queue) },
		},
		cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.podEvent(queue, obj, false, false) },
			DeleteFunc: func(obj any) { c.podEvent(queue, obj, false, false) },
		},
	}
	var synced []cache.InformerSynced
	for i, inf := range c.informers {
		reg, err := inf.AddEventHandler(handlers[i])
		if err != nil {
			return err
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, inf.HasSynced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync("daemonset", ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// podEvent enqueues the DaemonSet controlling obj (a pod or revision),
// recording an observed creation (added) or deletion (deleted) of a pod.
// A newly added orphan pod enqueues every set whose selector matches it.
func (c *Controller) podEvent(q workqueue.TypedInterface[string], obj any, added, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	_, isPod := obj.(*corev1.Pod)
	if ref := metav1.GetControllerOf(m); ref != nil {
		if ref.Kind != kind.Kind || ref.APIVersion != kind.GroupVersion().String() {
			return
		}
		key := m.GetNamespace() + "/" + ref.Name
		if isPod && (added || deleted) {
			c.expect.observed(key, added)
		}
		q.Add(key)
		return
	}
	if !isPod || !added {
		return
	}
	sets, err := c.sets.DaemonSets(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(m.GetLabels())) {
			q.Add(s.Namespace + "/" + s.Name)
		}
	}
}

func (c *Controller) enqueueAll(q workqueue.TypedInterface[string]) {
	sets, err := c.sets.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		q.Add(s.Namespace + "/" + s.Name)
	}
}

// nodeChanged reports whether a node update can change where daemons
// run: labels, taints, or its ready condition (for status).
func nodeChanged(old, obj any) bool {
	a, ok1 := old.(*corev1.Node)
	b, ok2 := obj.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !reflect.DeepEqual(a.Labels, b.Labels) || !reflect.DeepEqual(a.Spec.Taints, b.Spec.Taints) ||
		a.Spec.Unschedulable != b.Spec.Unschedulable
}
