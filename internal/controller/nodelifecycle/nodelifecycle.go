package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
	"github.com/skiff-sh/skiff/internal/resources/nodematch"
)

// Taint keys and texts, as in Kubernetes.
const (
	TaintNotReady      = "node.kubernetes.io/not-ready"
	TaintUnreachable   = "node.kubernetes.io/unreachable"
	TaintUnschedulable = "node.kubernetes.io/unschedulable"

	TaintMemoryPressure     = corev1.TaintNodeMemoryPressure     // node.kubernetes.io/memory-pressure
	TaintDiskPressure       = corev1.TaintNodeDiskPressure       // node.kubernetes.io/disk-pressure
	TaintPIDPressure        = corev1.TaintNodePIDPressure        // node.kubernetes.io/pid-pressure
	TaintNetworkUnavailable = corev1.TaintNodeNetworkUnavailable // node.kubernetes.io/network-unavailable

	// LeaseNamespace holds the node heartbeats.
	LeaseNamespace = "kube-node-lease"

	ReasonUnknown      = "NodeStatusUnknown"
	MessageUnknown     = "Kubelet stopped posting node status."
	ReasonNeverUpdated = "NodeStatusNeverUpdated"
	MessageNeverUpdate = "Kubelet never posted node status."

	// DefaultGracePeriod is how long a node may be silent before it is
	// considered unreachable.
	DefaultGracePeriod = 40 * time.Second

	byNodeIndex = "spec.nodeName"
)

// Config holds what a Controller needs; Client and the informers are
// required.
type Config struct {
	Client kubernetes.Interface
	Nodes  coreinformers.NodeInformer
	Leases coordinformers.LeaseInformer
	Pods   coreinformers.PodInformer
	// GracePeriod defaults to DefaultGracePeriod.
	GracePeriod time.Duration
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers per queue (default 3).
	Workers int
	// MaxRetryDelay caps the per-key backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller is the node lifecycle controller.
type Controller struct {
	client      kubernetes.Interface
	nodes       cache.SharedIndexInformer
	nodeLister  corelisters.NodeLister
	leases      cache.SharedIndexInformer
	leaseLister coordlisters.LeaseLister
	pods        cache.SharedIndexInformer
	podLister   corelisters.PodLister
	grace       time.Duration
	clock       clock.WithTicker
	log         *slog.Logger
	workers     int
	maxDelay    time.Duration

	// nodeQ and podQ are built by Run before the handlers are added.
	nodeQ, podQ workqueue.TypedRateLimitingInterface[string]

	mu sync.Mutex // guards health
	// health is what was last seen of each node's heartbeats and when
	// (on c.clock) it last changed.
	health map[string]*nodeHealth
}

type nodeHealth struct {
	readyHeartbeat time.Time
	leaseRenew     time.Time
	probe          time.Time
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:      cfg.Client,
		nodes:       cfg.Nodes.Informer(),
		nodeLister:  cfg.Nodes.Lister(),
		leases:      cfg.Leases.Informer(),
		leaseLister: cfg.Leases.Lister(),
		pods:        cfg.Pods.Informer(),
		podLister:   cfg.Pods.Lister(),
		grace:       cfg.GracePeriod,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		workers:     cfg.Workers,
		maxDelay:    cfg.MaxRetryDelay,
		health:      map[string]*nodeHealth{},
	}
	if c.grace <= 0 {
		c.grace = DefaultGracePeriod
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "node-lifecycle")
	if c.workers <= 0 {
		c.workers = 3
	}
	_ = c.pods.AddIndexers(cache.Indexers{byNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	return c
}

// Run registers the handlers, waits for the caches and runs the workers
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	nodeQ := ctrlutil.NewQueue[string]("node-lifecycle", c.clock, 0, c.maxDelay)
	podQ := ctrlutil.NewQueue[string]("taint-eviction", c.clock, 0, c.maxDelay)
	c.nodeQ, c.podQ = nodeQ, podQ
	onNode := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if n, ok := obj.(*corev1.Node); ok {
			nodeQ.Add(n.Name)
			c.enqueuePodsOn(n.Name)
		}
	}
	onLease := func(obj any) {
		if l, ok := obj.(*coordinationv1.Lease); ok && l.Namespace == LeaseNamespace {
			nodeQ.Add(l.Name)
		}
	}
	onPod := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			podQ.Add(p.Namespace + "/" + p.Name)
		}
	}
	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandlerFuncs
	}{
		{c.nodes, cache.ResourceEventHandlerFuncs{AddFunc: onNode, UpdateFunc: func(_, o any) { onNode(o) }, DeleteFunc: onNode}},
		{c.leases, cache.ResourceEventHandlerFuncs{AddFunc: onLease, UpdateFunc: func(_, o any) { onLease(o) }}},
		{c.pods, cache.ResourceEventHandlerFuncs{AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }}},
	}
	synced := []cache.InformerSynced{c.nodes.HasSynced, c.leases.HasSynced, c.pods.HasSynced}
	for _, r := range regs {
		reg, err := r.inf.AddEventHandler(r.h)
		if err != nil {
			return err
		}
		defer func() { _ = r.inf.RemoveEventHandler(reg) }()
		synced = append(synced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync("node-lifecycle", ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "gracePeriod", c.grace)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctrlutil.RunWorkers(ctx, c.log, podQ, c.workers, c.SyncPod)
	}()
	ctrlutil.RunWorkers(ctx, c.log, nodeQ, c.workers, c.SyncNode)
	wg.Wait()
	return nil
}

// enqueuePodsOn queues every pod bound to node for the eviction check.
func (c *Controller) enqueuePodsOn(node string) {
	if c.podQ == nil {
		return
	}
	objs, _ := c.pods.GetIndexer().ByIndex(byNodeIndex, node)
	for _, o := range objs {
		p := o.(*corev1.Pod)
		c.podQ.Add(p.Namespace + "/" + p.Name)
	}
}

// SyncNode checks the heartbeats of the node named key, marks it Unknown
// when they stopped, and reconciles its taints. It requeues itself for the
// moment the grace period would run out.
func (c *Controller) SyncNode(ctx context.Context, key string) (ctrlutil.Result, error) {
	cached, err := c.nodeLister.Get(key)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.health, key)
		c.mu.Unlock()
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	node := cached.DeepCopy()
	now := c.clock.Now()
	probe := c.observe(node, now)
	var requeue time.Duration
	ready := readyCondition(node)
	if silent := now.Sub(probe); silent >= c.grace {
		if ready == nil || ready.Status != corev1.ConditionUnknown {
			if err := c.markUnknown(ctx, node, now); err != nil {
				return ctrlutil.Result{}, err
			}
			ready = readyCondition(node)
		}
	} else {
		requeue = c.grace - silent
	}
	if err := c.reconcileTaints(ctx, node, now); err != nil {
		return ctrlutil.Result{}, err
	}
	return ctrlutil.Result{RequeueAfter: requeue}, nil
}

// observe records the node's heartbeats and returns when, on c.clock,
// one of them last changed.
func (c *Controller) observe(node *corev1.Node, now time.Time) time.Time {
	var hb, renew time.Time
	if r := readyCondition(node); r != nil {
		hb = r.LastHeartbeatTime.Time
	}
	if l, err := c.leaseLister.Leases(LeaseNamespace).Get(node.Name); err == nil && l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.Time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health[node.Name]
	if h == nil {
		h = &nodeHealth{readyHeartbeat: hb, leaseRenew: renew, probe: now}
		c.health[node.Name] = h
		return now
	}
	if !hb.Equal(h.readyHeartbeat) || !renew.Equal(h.leaseRenew) {
		h.readyHeartbeat, h.leaseRenew, h.probe = hb, renew, now
	}
	return h.probe
}

// markUnknown sets Ready and the pressure conditions to Unknown and marks
// the node's pods NotReady.
func (c *Controller) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) error {
	ready := readyCondition(node)
	reason, msg := ReasonUnknown, MessageUnknown
	if ready == nil {
		reason, msg = ReasonNeverUpdated, MessageNeverUpdate
	}
	ts := metav1.NewTime(now)
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := findCondition(node, t)
		if cond == nil {
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: reason, Message: msg,
				LastTransitionTime: ts,
			})
			continue
		}
		if cond.Status == corev1.ConditionUnknown {
			continue
		}
		cond.Status, cond.Reason, cond.Message = corev1.ConditionUnknown, ReasonUnknown, MessageUnknown
		cond.LastTransitionTime = ts
	}
	updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*node = *updated
	c.log.Info("node stopped posting status", "node", node.Name)
	objs, _ := c.pods.GetIndexer().ByIndex(byNodeIndex, node.Name)
	for _, o := range objs {
		if err := c.markPodNotReady(ctx, o.(*corev1.Pod), now); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) markPodNotReady(ctx context.Context, cached *corev1.Pod, now time.Time) error {
	if cached.Status.Phase == corev1.PodSucceeded || cached.Status.Phase == corev1.PodFailed {
		return nil
	}
	pod := cached.DeepCopy()
	changed := false
	for i := range pod.Status.Conditions {
		cond := &pod.Status.Conditions[i]
		if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
			cond.Status = corev1.ConditionFalse
			cond.LastTransitionTime = metav1.NewTime(now)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// wantTaints is the set of controller-owned taints node should carry.
func wantTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	ready := readyCondition(node)
	switch {
	case ready == nil:
		// The node has not reported yet: keep it from being scheduled to,
		// but do not evict anything until it is found silent.
		out = append(out, corev1.Taint{Key: TaintNotReady, Effect: corev1.TaintEffectNoSchedule})
	case ready.Status == corev1.ConditionFalse:
		out = append(out,
			corev1.Taint{Key: TaintNotReady, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: TaintNotReady, Effect: corev1.TaintEffectNoExecute})
	case ready.Status == corev1.ConditionUnknown:
		out = append(out,
			corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute})
	}
	for _, c := range conditionTaints {
		if cond := findCondition(node, c.condition); cond != nil && cond.Status == corev1.ConditionTrue {
			out = append(out, corev1.Taint{Key: c.key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: TaintUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// conditionTaints are the NoSchedule taints a node gets while it reports
// the condition True, as upstream's taint-nodes-by-condition does. A node
// found silent has these conditions set to Unknown, so it loses them.
var conditionTaints = []struct {
	condition corev1.NodeConditionType
	key       string
}{
	{corev1.NodeMemoryPressure, TaintMemoryPressure},
	{corev1.NodeDiskPressure, TaintDiskPressure},
	{corev1.NodePIDPressure, TaintPIDPressure},
	{corev1.NodeNetworkUnavailable, TaintNetworkUnavailable},
}

func owned(t corev1.Taint) bool {
	switch t.Key {
	case TaintNotReady, TaintUnreachable, TaintUnschedulable,
		TaintMemoryPressure, TaintDiskPressure, TaintPIDPressure, TaintNetworkUnavailable:
		return true
	}
	return false
}

// reconcileTaints makes the controller-owned taints of node match
// wantTaints, keeping the timeAdded of those that stay.
func (c *Controller) reconcileTaints(ctx context.Context, node *corev1.Node, now time.Time) error {
	want := wantTaints(node)
	var next []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		if !owned(t) {
			next = append(next, t)
			continue
		}
		if i := indexTaint(want, t); i >= 0 {
			next = append(next, t)
			want = append(want[:i], want[i+1:]...)
			continue
		}
		changed = true
	}
	for _, t := range want {
		if t.Effect == corev1.TaintEffectNoExecute {
			ts := metav1.NewTime(now)
			t.TimeAdded = &ts
		}
		next = append(next, t)
		changed = true
	}
	if !changed {
		return nil
	}
	node.Spec.Taints = next
	_, err := c.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func indexTaint(list []corev1.Taint, t corev1.Taint) int {
	for i, w := range list {
		if w.Key == t.Key && w.Effect == t.Effect {
			return i
		}
	}
	return -1
}

// SyncPod deletes the pod named key if its node's NoExecute taints say so,
// or requeues it for when its tolerations run out.
func (c *Controller) SyncPod(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if pod.DeletionTimestamp != nil || pod.Spec.NodeName == "" {
		return ctrlutil.Result{}, nil
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	now := c.clock.Now()
	wait, evict := evictionDelay(pod, node, now)
	if !evict {
		return ctrlutil.Result{}, nil
	}
	if wait > 0 {
		return ctrlutil.Result{RequeueAfter: wait}, nil
	}
	err = c.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	switch {
	case err == nil:
		c.log.Info("evicted pod from tainted node", "pod", key, "node", node.Name)
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
	default:
		return ctrlutil.Result{}, err
	}
	return ctrlutil.Result{}, nil
}

// evictionDelay says whether pod must leave node because of its NoExecute
// taints, and how long from now: zero for at once.
func evictionDelay(pod *corev1.Pod, node *corev1.Node, now time.Time) (time.Duration, bool) {
	evict := false
	var deadline time.Time
	for _, taint := range node.Spec.Taints {
		if taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		evict = true
		added := now
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		var until time.Time
		tolerated := false
		forever := false
		for i := range pod.Spec.Tolerations {
			tol := &pod.Spec.Tolerations[i]
			if !nodematch.Toleration(tol, &taint) {
				continue
			}
			if tol.TolerationSeconds == nil {
				forever = true
				break
			}
			end := added.Add(time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second)
			if !tolerated || end.Before(until) {
				until = end
			}
			tolerated = true
		}
		switch {
		case forever:
			continue
		case !tolerated:
			return 0, true
		}
		if deadline.IsZero() || until.Before(deadline) {
			deadline = until
		}
	}
	if !evict || deadline.IsZero() {
		return 0, false
	}
	if d := deadline.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition { return findCondition(n, corev1.NodeReady) }

func findCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
