package statefulset

import (
	"context"
	"log/slog"
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

// kind is the group/version/kind of the objects this controller owns.
var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Config holds what a Controller needs; Client and the informers are
// required.
type Config struct {
	Client       kubernetes.Interface
	StatefulSets appsinformers.StatefulSetInformer
	Pods         coreinformers.PodInformer
	Claims       coreinformers.PersistentVolumeClaimInformer
	Revisions    appsinformers.ControllerRevisionInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client,
	// started by Run.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of sets synced at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-set backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller reconciles StatefulSets; see the package doc.
type Controller struct {
	client    kubernetes.Interface
	informers []cache.SharedIndexInformer
	sets      appslisters.StatefulSetLister
	pods      corelisters.PodLister
	claims    corelisters.PersistentVolumeClaimLister
	revisions appslisters.ControllerRevisionLister
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
			cfg.StatefulSets.Informer(), cfg.Pods.Informer(), cfg.Claims.Informer(), cfg.Revisions.Informer(),
		},
		sets:      cfg.StatefulSets.Lister(),
		pods:      cfg.Pods.Lister(),
		claims:    cfg.Claims.Lister(),
		revisions: cfg.Revisions.Lister(),
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
	c.log = c.log.With("controller", "statefulset")
	if c.workers <= 0 {
		c.workers = 5
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "statefulset-controller")
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("statefulset", c.clock, 0, c.maxDelay)
	defer c.recorder.Start(ctx)()
	handlers := []cache.ResourceEventHandler{
		ctrlutil.EnqueueHandler(queue),
		cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueueOwner(queue, obj, true) },
			UpdateFunc: func(old, obj any) { c.enqueueOwner(queue, old, false); c.enqueueOwner(queue, obj, true) },
			DeleteFunc: func(obj any) { c.enqueueOwner(queue, obj, false) },
		},
		nil, // claims: read through the lister only
		cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.enqueueOwner(queue, obj, false) },
			DeleteFunc: func(obj any) { c.enqueueOwner(queue, obj, false) },
		},
	}
	synced := []cache.InformerSynced{}
	for i, inf := range c.informers {
		synced = append(synced, inf.HasSynced)
		if handlers[i] == nil {
			continue
		}
		reg, err := inf.AddEventHandler(handlers[i])
		if err != nil {
			return err
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync("statefulset", ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// enqueueOwner enqueues the StatefulSet controlling obj (a pod or a
// revision). An orphan pod enqueues every set whose selector matches it
// when orphans is set, so it can be adopted.
func (c *Controller) enqueueOwner(q workqueue.TypedInterface[string], obj any, orphans bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(m); ref != nil {
		if ref.Kind == kind.Kind && ref.APIVersion == kind.GroupVersion().String() {
			q.Add(m.GetNamespace() + "/" + ref.Name)
		}
		return
	}
	if _, isPod := obj.(*corev1.Pod); !isPod || !orphans {
		return
	}
	sets, err := c.sets.StatefulSets(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(m.GetLabels())) {
			q.Add(s.Namespace + "/" + s.Name)
		}
	}
}
