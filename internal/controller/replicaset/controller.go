package replicaset

import (
	"context"
	"errors"
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
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// DefaultBurstReplicas is how many pods one sync creates or deletes at
// most.
const DefaultBurstReplicas = 500

// ErrNoWorkload is returned by New when Config names neither ReplicaSets
// nor ReplicationControllers, or both.
var ErrNoWorkload = errors.New("replicaset: set exactly one of ReplicaSets and ReplicationControllers")

// Config holds what a Controller needs. Client, Pods and exactly one of
// ReplicaSets and ReplicationControllers are required.
type Config struct {
	Client kubernetes.Interface
	Pods   coreinformers.PodInformer
	// ReplicaSets makes this the ReplicaSet controller.
	ReplicaSets appsinformers.ReplicaSetInformer
	// ReplicationControllers makes this the ReplicationController
	// controller.
	ReplicationControllers coreinformers.ReplicationControllerInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client,
	// started by Run.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of workloads synced at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-workload backoff (default 30s).
	MaxRetryDelay time.Duration
	// BurstReplicas bounds creations or deletions per sync (default 500).
	BurstReplicas int
}

// Controller keeps the pods of ReplicaSets (or ReplicationControllers) at
// their desired count.
type Controller struct {
	client      kubernetes.Interface
	kind        workload
	name        string // "replicaset" or "replicationcontroller"
	podInformer cache.SharedIndexInformer
	podLister   corelisters.PodLister
	// podIndex is the pod informer's indexer with controllerIndex, or nil
	// when the index could not be added (an informer already started):
	// then every sync lists the namespace's pods.
	podIndex cache.Indexer
	recorder ctrlutil.Events
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
	burst    int
	exp      *expectations

	// queue is built by Run; handlers enqueue through enqueue, which
	// drops keys until then (tests call Sync directly).
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds a Controller; it starts nothing.
func New(cfg Config) (*Controller, error) {
	c := &Controller{
		client:      cfg.Client,
		podInformer: cfg.Pods.Informer(),
		podLister:   cfg.Pods.Lister(),
		clock:       cfg.Clock,
		log:         cfg.Logger,
		workers:     cfg.Workers,
		maxDelay:    cfg.MaxRetryDelay,
		burst:       cfg.BurstReplicas,
	}
	switch {
	case cfg.ReplicaSets != nil && cfg.ReplicationControllers == nil:
		c.kind, c.name = replicaSets{client: cfg.Client, inf: cfg.ReplicaSets}, "replicaset"
	case cfg.ReplicationControllers != nil && cfg.ReplicaSets == nil:
		c.kind, c.name = replicationControllers{client: cfg.Client, inf: cfg.ReplicationControllers}, "replicationcontroller"
	default:
		return nil, ErrNoWorkload
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", c.name)
	if c.workers <= 0 {
		c.workers = 5
	}
	if c.burst <= 0 {
		c.burst = DefaultBurstReplicas
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, c.name+"-controller")
	c.exp = newExpectations(c.clock)
	c.podIndex = addControllerIndex(c.podInformer)
	return c, nil
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	c.queue = ctrlutil.NewQueue[string](c.name, c.clock, 0, c.maxDelay)
	defer c.recorder.Start(ctx)()
	wInf := c.kind.informer()
	wReg, err := wInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueObj,
		UpdateFunc: func(_, cur any) { c.enqueueObj(cur) },
		DeleteFunc: c.workloadDeleted,
	})
	if err != nil {
		return err
	}
	defer func() { _ = wInf.RemoveEventHandler(wReg) }()
	pReg, err := c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.podInformer.RemoveEventHandler(pReg) }()
	if !cache.WaitForNamedCacheSync(c.name, ctx.Done(), wInf.HasSynced, c.podInformer.HasSynced, wReg.HasSynced, pReg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, c.queue, c.workers, c.Sync)
	return nil
}

func (c *Controller) enqueue(key string) {
	if c.queue != nil {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueObj(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.enqueue(key)
	}
}

func (c *Controller) workloadDeleted(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.exp.forget(key)
	c.enqueue(key)
}

// owner returns the key of the workload ref points at, if it is one of
// ours in the cache with the same UID.
func (c *Controller) owner(ns string, ref *metav1.OwnerReference) (string, bool) {
	gvk := c.kind.gvk()
	if ref == nil || ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return "", false
	}
	rs, err := c.kind.get(ns, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return "", false
	}
	return ns + "/" + rs.Name, true
}

// enqueueMatching enqueues every workload whose selector matches the
// orphan pod, so one of them adopts it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, err := c.kind.list(pod.Namespace)
	if err != nil {
		return
	}
	for _, rs := range all {
		if sel := selectorOf(rs); !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.enqueue(pod.Namespace + "/" + rs.Name)
		}
	}
}

func (c *Controller) podAdded(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already terminating (a relist): the
		// pod counts as gone.
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if key, ok := c.owner(pod.Namespace, ref); ok {
			c.exp.creationObserved(key)
			c.enqueue(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) podUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := curObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !reflect.DeepEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A terminating pod is no longer counted: tell its owner now
		// rather than when the kubelet finally removes it.
		c.podDeleted(cur)
		if labelsChanged {
			c.podDeleted(old)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if key, ok := c.owner(old.Namespace, oldRef); ok {
			c.enqueue(key)
		}
	}
	if curRef != nil {
		if key, ok := c.owner(cur.Namespace, curRef); ok {
			c.enqueue(key)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	if key, ok := c.owner(pod.Namespace, ref); ok {
		c.exp.deletionObserved(key, pod.Namespace+"/"+pod.Name)
		c.enqueue(key)
	}
}

// selectorOf is the workload's pod selector. An empty or invalid selector
// selects nothing: a controller must never claim every pod in a namespace.
func selectorOf(rs *appsv1.ReplicaSet) labels.Selector {
	if rs.Spec.Selector == nil {
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		return labels.Nothing()
	}
	return sel
}
