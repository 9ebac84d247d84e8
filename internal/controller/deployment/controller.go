package deployment

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

// Config holds what a Controller needs; Client, Deployments, ReplicaSets
// and Pods are required.
type Config struct {
	Client      kubernetes.Interface
	Deployments appsinformers.DeploymentInformer
	ReplicaSets appsinformers.ReplicaSetInformer
	Pods        coreinformers.PodInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client,
	// started by Run.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of Deployments synced at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-Deployment backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client      kubernetes.Interface
	dInformer   cache.SharedIndexInformer
	dLister     appslisters.DeploymentLister
	rsInformer  cache.SharedIndexInformer
	rsLister    appslisters.ReplicaSetLister
	podInformer cache.SharedIndexInformer
	podLister   corelisters.PodLister
	recorder    ctrlutil.Events
	clock       clock.WithTicker
	log         *slog.Logger
	workers     int
	maxDelay    time.Duration

	// queue is built by Run; handlers enqueue through enqueue, which
	// drops keys until then (tests call Sync directly).
	queue workqueue.TypedRateLimitingInterface[string]
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:      cfg.Client,
		dInformer:   cfg.Deployments.Informer(),
		dLister:     cfg.Deployments.Lister(),
		rsInformer:  cfg.ReplicaSets.Informer(),
		rsLister:    cfg.ReplicaSets.Lister(),
		podInformer: cfg.Pods.Informer(),
		podLister:   cfg.Pods.Lister(),
		clock:       cfg.Clock,
		log:         cfg.Logger,
		workers:     cfg.Workers,
		maxDelay:    cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "deployment")
	if c.workers <= 0 {
		c.workers = 5
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "deployment-controller")
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	c.queue = ctrlutil.NewQueue[string]("deployment", c.clock, 0, c.maxDelay)
	defer c.recorder.Start(ctx)()
	type reg struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}
	regs := []reg{
		{c.dInformer, cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueObj,
			UpdateFunc: func(_, cur any) { c.enqueueObj(cur) },
			DeleteFunc: c.enqueueObj,
		}},
		{c.rsInformer, cache.ResourceEventHandlerFuncs{
			AddFunc:    c.rsAdded,
			UpdateFunc: c.rsUpdated,
			DeleteFunc: c.rsDeleted,
		}},
		{c.podInformer, cache.ResourceEventHandlerFuncs{
			DeleteFunc: c.podDeleted,
		}},
	}
	synced := []cache.InformerSynced{}
	for _, r := range regs {
		h, err := r.inf.AddEventHandler(r.h)
		if err != nil {
			return err
		}
		defer func() { _ = r.inf.RemoveEventHandler(h) }()
		synced = append(synced, r.inf.HasSynced, h.HasSynced)
	}
	if !cache.WaitForNamedCacheSync("deployment", ctx.Done(), synced...) {
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

// owner returns the key of the Deployment ref points at, if it is in the
// cache with the same UID.
func (c *Controller) owner(ns string, ref *metav1.OwnerReference) (string, bool) {
	if ref == nil || ref.Kind != "Deployment" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return "", false
	}
	d, err := c.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return "", false
	}
	return ns + "/" + d.Name, true
}

// enqueueMatching enqueues the Deployments whose selector matches an orphan
// ReplicaSet.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	ds, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		if sel, ok := selectorOf(d); ok && sel.Matches(labels.Set(rs.Labels)) {
			c.enqueue(d.Namespace + "/" + d.Name)
		}
	}
}

func (c *Controller) rsAdded(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.DeletionTimestamp != nil {
		c.rsDeleted(rs)
		return
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if key, ok := c.owner(rs.Namespace, ref); ok {
			c.enqueue(key)
		}
		return
	}
	c.enqueueMatching(rs)
}

func (c *Controller) rsUpdated(oldObj, curObj any) {
	old, ok1 := oldObj.(*appsv1.ReplicaSet)
	cur, ok2 := curObj.(*appsv1.ReplicaSet)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	refChanged := (curRef == nil) != (oldRef == nil) || (curRef != nil && curRef.UID != oldRef.UID)
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
	if refChanged || !labels.Equals(old.Labels, cur.Labels) {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) rsDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if key, ok := c.owner(rs.Namespace, metav1.GetControllerOf(rs)); ok {
		c.enqueue(key)
	}
}

// podDeleted wakes a Recreate Deployment waiting for its old pods to go.
func (c *Controller) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	key, ok := c.owner(rs.Namespace, metav1.GetControllerOf(rs))
	if !ok {
		return
	}
	if d, err := c.dLister.Deployments(rs.Namespace).Get(keyName(key)); err == nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(key)
	}
}

func keyName(key string) string {
	_, name, _ := cache.SplitMetaNamespaceKey(key)
	return name
}

// selectorOf is the Deployment's selector; false if it is empty or
// invalid, which must select nothing.
func selectorOf(d *appsv1.Deployment) (labels.Selector, bool) {
	if d.Spec.Selector == nil {
		return labels.Nothing(), false
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return labels.Nothing(), false
	}
	return sel, true
}
