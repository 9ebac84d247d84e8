package resourcequota

import (
	"context"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Defaults of the Config fields of the same names.
const (
	DefaultResyncPeriod = 5 * time.Minute
	DefaultDebounce     = time.Second
)

// Config holds what a Controller needs; Client, Quotas and Sources are
// required.
type Config struct {
	Client kubernetes.Interface
	Quotas coreinformers.ResourceQuotaInformer
	// Sources are the informers objects are measured from, by resource
	// (pods, services, persistentvolumeclaims, configmaps, ...). Each must
	// have the cache.NamespaceIndex index, as the shared factory's do,
	// and hold typed objects (admission.QuotaEvaluatorFor measures them).
	Sources map[schema.GroupResource]cache.SharedIndexInformer
	// Metadata and Mapper count the objects of count/<resource>.<group>
	// names no Source covers. Without them such names are left alone.
	Metadata metadata.Interface
	Mapper   meta.RESTMapper
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of quotas synced at once (default 3).
	Workers int
	// MaxRetryDelay caps the per-quota backoff (default 30s).
	MaxRetryDelay time.Duration
	// ResyncPeriod is how often every quota is recalculated even without
	// events (default DefaultResyncPeriod).
	ResyncPeriod time.Duration
	// Debounce is how long after an object change its namespace's quotas
	// are synced, so that a burst of changes costs one sync (default
	// DefaultDebounce).
	Debounce time.Duration
}

// Controller keeps ResourceQuota status in line with spec and with the
// objects in each namespace.
type Controller struct {
	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	lister   corelisters.ResourceQuotaLister
	sources  map[schema.GroupResource]source
	metadata metadata.Interface
	mapper   meta.RESTMapper
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
	resync   time.Duration
	debounce time.Duration
}

// source is one informer-backed kind and the evaluator measuring it.
type source struct {
	informer cache.SharedIndexInformer
	eval     admission.QuotaEvaluator
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:   cfg.Client,
		informer: cfg.Quotas.Informer(),
		lister:   cfg.Quotas.Lister(),
		sources:  map[schema.GroupResource]source{},
		metadata: cfg.Metadata,
		mapper:   cfg.Mapper,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		workers:  cfg.Workers,
		maxDelay: cfg.MaxRetryDelay,
		resync:   cfg.ResyncPeriod,
		debounce: cfg.Debounce,
	}
	for gr, inf := range cfg.Sources {
		c.sources[gr] = source{informer: inf, eval: admission.QuotaEvaluatorFor(gr.Group, gr.Resource)}
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "resourcequota")
	if c.workers <= 0 {
		c.workers = 3
	}
	if c.resync <= 0 {
		c.resync = DefaultResyncPeriod
	}
	if c.debounce <= 0 {
		c.debounce = DefaultDebounce
	}
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("resourcequota", c.clock, 0, c.maxDelay)
	synced := []cache.InformerSynced{c.informer.HasSynced}
	reg, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { enqueueQuota(queue, obj) },
		UpdateFunc: func(oldObj, obj any) {
			old, ok1 := oldObj.(*corev1.ResourceQuota)
			q, ok2 := obj.(*corev1.ResourceQuota)
			if ok1 && ok2 && (!equality.Semantic.DeepEqual(old.Spec, q.Spec) || statusIncomplete(q)) {
				enqueueQuota(queue, q)
			}
		},
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.informer.RemoveEventHandler(reg) }()
	synced = append(synced, reg.HasSynced)
	for gr, src := range c.sources {
		reg, err := src.informer.AddEventHandler(c.sourceHandler(queue, gr, src))
		if err != nil {
			return err
		}
		defer func() { _ = src.informer.RemoveEventHandler(reg) }()
		synced = append(synced, src.informer.HasSynced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync("resourcequota", ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers, "resync", c.resync)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

func enqueueQuota(queue workqueue.TypedRateLimitingInterface[string], obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		queue.Add(key)
	}
}

// statusIncomplete reports whether the quota's status does not reflect
// its spec yet: admission refuses what such a quota limits.
func statusIncomplete(q *corev1.ResourceQuota) bool {
	if !equality.Semantic.DeepEqual(q.Spec.Hard, q.Status.Hard) {
		return true
	}
	for name := range q.Spec.Hard {
		if _, ok := q.Status.Used[name]; !ok {
			return true
		}
	}
	return false
}

// sourceHandler enqueues, after the debounce, the quotas of an object's
// namespace that limit something of its kind, when the object is added or
// deleted or its usage changes.
func (c *Controller) sourceHandler(queue workqueue.TypedRateLimitingInterface[string], gr schema.GroupResource, src source) cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		m, err := meta.Accessor(obj)
		if err != nil || m.GetNamespace() == "" {
			return
		}
		quotas, err := c.lister.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
		if err != nil {
			return
		}
		for _, q := range quotas {
			if tracksAny(src.eval, q.Spec.Hard) {
				queue.AddAfter(q.Namespace+"/"+q.Name, c.debounce)
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		DeleteFunc: enqueue,
		UpdateFunc: func(oldObj, obj any) {
			if usageChanged(src.eval, oldObj, obj) {
				enqueue(obj)
			}
		},
	}
}

func tracksAny(ev admission.QuotaEvaluator, hard corev1.ResourceList) bool {
	for name := range hard {
		if ev.Tracks(name) {
			return true
		}
	}
	return false
}

// usageChanged reports whether an update can change what the object
// counts for: its usage, or (for pods) the start of its deletion, after
// which it stops counting once its grace period is over.
func usageChanged(ev admission.QuotaEvaluator, oldObj, obj any) bool {
	if op, ok := oldObj.(*corev1.Pod); ok {
		if p, ok := obj.(*corev1.Pod); ok && (op.DeletionTimestamp == nil) != (p.DeletionTimestamp == nil) {
			return true
		}
	}
	ou, err1 := ev.Usage(oldObj)
	nu, err2 := ev.Usage(obj)
	return err1 != nil || err2 != nil || !equality.Semantic.DeepEqual(ou, nu)
}

// Sync recalculates the quota named by key ("namespace/name") and writes
// its status if it changed. It is level-based: everything comes from the
// caches (and, for kinds without one, a metadata list). An error means
// retry with backoff, a Conflict included; on success the quota is
// looked at again after the resync period, or sooner when a deleting pod
// will stop counting before then.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil // not a key we made: drop it
	}
	cached, err := c.lister.ResourceQuotas(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	used, next, err := c.calculate(ctx, cached)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	res := ctrlutil.Result{RequeueAfter: c.resync}
	if next > 0 && next < res.RequeueAfter {
		res.RequeueAfter = next
	}
	hard := cached.Spec.Hard.DeepCopy()
	if hard == nil {
		hard = corev1.ResourceList{}
	}
	if equality.Semantic.DeepEqual(orEmpty(cached.Status.Hard), hard) && equality.Semantic.DeepEqual(orEmpty(cached.Status.Used), used) {
		return res, nil
	}
	q := cached.DeepCopy()
	q.Status.Hard, q.Status.Used = hard, used
	if _, err := c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrlutil.Result{}, nil
		}
		return ctrlutil.Result{}, err
	}
	c.log.Debug("updated quota status", "namespace", ns, "name", name)
	return res, nil
}

func orEmpty(l corev1.ResourceList) corev1.ResourceList {
	if l == nil {
		return corev1.ResourceList{}
	}
	return l
}

// calculate returns q's new status.used: for every name of spec.hard that
// some kind measures, the total over the objects q selects; other names
// keep their current value. next, when positive, is how long until a
// deleting pod stops counting.
func (c *Controller) calculate(ctx context.Context, q *corev1.ResourceQuota) (used corev1.ResourceList, next time.Duration, err error) {
	hard := q.Spec.Hard
	fresh := corev1.ResourceList{}
	now := c.clock.Now()
	for _, src := range c.sources {
		names := trackedNames(src.eval, hard)
		if len(names) == 0 {
			continue
		}
		for _, n := range names {
			if _, ok := fresh[n]; !ok {
				fresh[n] = resource.Quantity{Format: resource.DecimalSI}
			}
		}
		objs, err := src.informer.GetIndexer().ByIndex(cache.NamespaceIndex, q.Namespace)
		if err != nil {
			return nil, 0, err
		}
		for _, obj := range objs {
			if pod, ok := obj.(*corev1.Pod); ok {
				left, counts := graceLeft(pod, now)
				if !counts {
					continue
				}
				if left > 0 && (next == 0 || left < next) {
					next = left
				}
			}
			ok, err := src.eval.MatchesScopes(q, obj)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				continue
			}
			u, err := src.eval.Usage(obj)
			if err != nil {
				return nil, 0, err
			}
			for _, n := range names {
				if v, ok := u[n]; ok {
					sum := fresh[n]
					sum.Add(v)
					fresh[n] = sum
				}
			}
		}
	}
	for name := range hard {
		if _, done := fresh[name]; done {
			continue
		}
		n, ok, err := c.countOther(ctx, q.Namespace, name)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			fresh[name] = *resource.NewQuantity(n, resource.DecimalSI)
		}
	}
	used = corev1.ResourceList{}
	for name := range hard {
		if v, ok := fresh[name]; ok {
			used[name] = v
		} else if v, ok := q.Status.Used[name]; ok {
			used[name] = v.DeepCopy()
		}
	}
	return used, next, nil
}

func trackedNames(ev admission.QuotaEvaluator, hard corev1.ResourceList) []corev1.ResourceName {
	var names []corev1.ResourceName
	for n := range hard {
		if ev.Tracks(n) {
			names = append(names, n)
		}
	}
	return names
}

// graceLeft reports whether a pod still counts, and for a deleting pod how
// long until it stops: as upstream, a pod whose deletion time plus grace
// period has passed no longer uses quota.
func graceLeft(pod *corev1.Pod, now time.Time) (left time.Duration, counts bool) {
	if pod.DeletionTimestamp == nil || pod.DeletionGracePeriodSeconds == nil {
		return 0, true
	}
	end := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
	if now.After(end) {
		return 0, false
	}
	// Wake just after the end, when now.After(end) holds.
	return end.Sub(now) + time.Millisecond, true
}

// countOther counts the objects behind a count/<resource>[.<group>] name
// no Source covers. ok is false when the name is not such a name or no
// namespaced kind is served under it.
func (c *Controller) countOther(ctx context.Context, ns string, name corev1.ResourceName) (n int64, ok bool, err error) {
	rest, isCount := strings.CutPrefix(string(name), "count/")
	if !isCount || c.metadata == nil || c.mapper == nil {
		return 0, false, nil
	}
	res, group, _ := strings.Cut(rest, ".")
	if _, covered := c.sources[schema.GroupResource{Group: group, Resource: res}]; covered {
		return 0, false, nil
	}
	gvk, err := c.mapper.KindFor(schema.GroupVersionResource{Group: group, Resource: res})
	if meta.IsNoMatchError(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return 0, false, nil
	}
	list, err := c.metadata.Resource(mapping.Resource).Namespace(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return int64(len(list.Items)), true, nil
}
