package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/leader"
)

// Options configure a Scheduler; the zero value is upstream's defaults.
type Options struct {
	// Config is the parsed configuration (LoadConfig); nil: DefaultConfig.
	Config *Config
	// Clock drives backoff and timestamps; nil: the real clock.
	Clock clock.WithTicker
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Recorder emits events; nil: an events.k8s.io broadcaster on the
	// client, reporting as default-scheduler (started by Run).
	Recorder events.EventRecorder
	// BindWorkers bounds the bindings in flight (default 256: a binding
	// mostly waits on the datastore's commit, so many overlap cheaply).
	BindWorkers int
	// Identity names this instance in the leader Lease (default
	// hostname_uuid).
	Identity string
	// LeaseClient reads and renews the leader Lease; nil: the scheduler's
	// client. Give it one of its own (leader.NewClient) so renewals never
	// wait behind the scheduler's own requests.
	LeaseClient kubernetes.Interface
}

// Scheduler assigns pending pods to nodes. Build it with New, then call Run.
type Scheduler struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	cfg     *Config
	clock   clock.WithTicker
	log     *slog.Logger

	cache  *Cache
	queue  *Queue
	chains map[string]*chain // by scheduler name

	podLister corelisters.PodLister
	nsLister  corelisters.NamespaceLister
	pdbLister policylisters.PodDisruptionBudgetLister
	synced    []cache.InformerSynced

	recorder    events.EventRecorder
	broadcaster events.EventBroadcasterAdapter // nil when Options.Recorder was given
	bindSlots   chan struct{}
	identity    string
	leaseClient kubernetes.Interface

	// wg tracks binding and status goroutines; Run waits for them.
	wg sync.WaitGroup

	// mu guards the fields below.
	mu sync.Mutex
	// nominated maps a node to the pods nominated to it by preemption,
	// keyed by pod UID.
	nominated map[string]map[string]*PodInfo
	// explanations holds the latest explanation per pod key.
	explanations map[string]*Explanation

	// next is where the next cycle starts scanning nodes; rnd breaks score
	// ties. Both are used only by the scheduling goroutine.
	next int
	rnd  *rand.Rand
}

// New builds a scheduler on client and registers its event handlers on
// factory (pods, nodes, namespaces, PVCs, PVs, PDBs; Services,
// ReplicationControllers, ReplicaSets and StatefulSets for default topology
// spreading). It starts nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Scheduler, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if len(cfg.Profiles) == 0 {
		return nil, fmt.Errorf("%w: no profiles", ErrConfig)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BindWorkers <= 0 {
		opts.BindWorkers = 256
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		opts.Identity = host + "_" + string(uuid.NewUUID())
	}
	s := &Scheduler{
		client: client, factory: factory, cfg: cfg, clock: opts.Clock,
		log:          opts.Logger.With("component", "scheduler"),
		cache:        NewCache(),
		chains:       map[string]*chain{},
		recorder:     opts.Recorder,
		bindSlots:    make(chan struct{}, opts.BindWorkers),
		identity:     opts.Identity,
		leaseClient:  opts.LeaseClient,
		nominated:    map[string]map[string]*PodInfo{},
		explanations: map[string]*Explanation{},
		rnd:          rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
	}
	s.queue = NewQueue(QueueOptions{
		Clock: opts.Clock, InitialBackoff: cfg.PodInitialBackoff, MaxBackoff: cfg.PodMaxBackoff,
		Relevant: relevant,
	})
	if s.recorder == nil {
		s.broadcaster = events.NewEventBroadcasterAdapter(client)
		s.recorder = s.broadcaster.NewRecorder(DefaultSchedulerName)
	}

	core := factory.Core().V1()
	podInf, nodeInf := core.Pods(), core.Nodes()
	nsInf, pvcInf, pvInf := core.Namespaces(), core.PersistentVolumeClaims(), core.PersistentVolumes()
	pdbInf := factory.Policy().V1().PodDisruptionBudgets()
	s.podLister, s.nsLister, s.pdbLister = podInf.Lister(), nsInf.Lister(), pdbInf.Lister()
	svcInf, rcInf := core.Services(), core.ReplicationControllers()
	rsInf, ssInf := factory.Apps().V1().ReplicaSets(), factory.Apps().V1().StatefulSets()
	sel := &selectors{services: svcInf.Lister(), rcs: rcInf.Lister(), rss: rsInf.Lister(), sss: ssInf.Lister()}
	claimInf, classInf := factory.Resource().V1().ResourceClaims(), factory.Resource().V1().DeviceClasses()
	env := pluginEnv{nsLabels: s.namespaceLabels, pvcs: pvcInf.Lister(), pvs: pvInf.Lister(), spreadSelector: sel.forPod,
		claims: claimInf.Lister(), deviceClasses: classInf.Lister()}
	for _, p := range cfg.Profiles {
		s.chains[p.SchedulerName] = newChain(p, env)
	}

	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete}},
		{nsInf.Informer(), s.moveOn(EventNamespaceChange)},
		{pvcInf.Informer(), s.moveOn(EventPVCChange)},
		{pvInf.Informer(), s.moveOn(EventPVChange)},
		{claimInf.Informer(), s.moveOn(EventDRAChange)},
		{classInf.Informer(), s.moveOn(EventDRAChange)},
		{pdbInf.Informer(), cache.ResourceEventHandlerFuncs{}},
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{}},
		{rcInf.Informer(), cache.ResourceEventHandlerFuncs{}},
		{rsInf.Informer(), cache.ResourceEventHandlerFuncs{}},
		{ssInf.Informer(), cache.ResourceEventHandlerFuncs{}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("scheduler: add event handler: %w", err)
		}
		s.synced = append(s.synced, reg.HasSynced)
	}
	return s, nil
}

// Run starts the informer factory (harmless if the caller already did) and
// the event broadcaster, waits for the caches, and schedules until ctx ends.
// With leader election it schedules only while holding the Lease: losing it
// stops scheduling (in-flight bindings finish, the pods of unfinished cycles
// go back to the queue) and campaigning starts again, as the process
// restart upstream relies on would. It returns after in-flight bindings
// finish.
func (s *Scheduler) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	if s.broadcaster != nil {
		s.broadcaster.StartRecordingToSink(ctx.Done())
		defer s.broadcaster.Shutdown()
	}
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return ctx.Err()
	}
	le := s.cfg.LeaderElection
	if !le.Enabled {
		s.run(ctx)
		return nil
	}
	client := s.leaseClient
	if client == nil {
		client = s.client
	}
	err := leader.Run(ctx, leader.Config{
		Namespace: le.Namespace, Name: le.Name, Identity: s.identity, Client: client,
		LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
		Logger: s.log,
	}, func(lctx context.Context) error {
		s.run(lctx)
		return nil
	})
	if err != nil {
		return fmt.Errorf("scheduler: leader election: %w", err)
	}
	return nil
}

// run schedules until ctx ends.
// It may run again after it returned (a new leader term): the queue, closed
// when ctx ends, is opened again first.
func (s *Scheduler) run(ctx context.Context) {
	s.queue.reopen()
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		s.queue.Run(ctx.Done())
	}()
	for s.scheduleOne(ctx) {
	}
	<-qdone
	s.wg.Wait()
}

// Explain returns the latest explanation for the pod namespace/name: kept
// for pending pods and, trimmed to the best nodes, for scheduled ones until
// they are deleted.
func (s *Scheduler) Explain(namespace, name string) (*Explanation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.explanations[namespace+"/"+name]
	return e, ok
}

// ExplainPod runs the filters and scores for pod against the current cache
// without assuming or binding anything, and returns the full explanation.
func (s *Scheduler) ExplainPod(ctx context.Context, pod *corev1.Pod) (*Explanation, error) {
	ch, ok := s.chains[pod.Spec.SchedulerName]
	if !ok {
		return nil, fmt.Errorf("scheduler: no profile for schedulerName %q", pod.Spec.SchedulerName)
	}
	var res *result
	s.cache.ViewIndexed(string(pod.UID), func(nodes []*NodeInfo, idx *podIndex) {
		if pod.Spec.NodeName != "" {
			// withoutPod changes one node: the index would not match.
			idx = nil
		}
		nodes, pod = withoutPod(nodes, pod)
		res, _ = ch.findNode(ctx, pod, nodes, idx, 0, 100, s.nominatedPods, rand.New(rand.NewPCG(1, 2)), true)
		if res.node == "" {
			res.expl.Message = fitMessage(res, "")
			if res.total == 0 {
				res.expl.Message = "no nodes available to schedule pods"
			}
		}
	})
	return res.expl, nil
}

// withoutPod prepares a dry run for a pod that may already be bound or
// assumed: it returns nodes with the pod taken off the node it is counted on
// (a clone of that one node info; the others are shared, read-only) and a
// copy of the pod with spec.nodeName cleared, so the run answers "where
// would it go now" rather than finding the pod in its own way.
func withoutPod(nodes []*NodeInfo, pod *corev1.Pod) ([]*NodeInfo, *corev1.Pod) {
	if pod.Spec.NodeName == "" {
		return nodes, pod
	}
	name := pod.Spec.NodeName
	pod = pod.DeepCopy()
	pod.Spec.NodeName = ""
	i, ok := slices.BinarySearchFunc(nodes, name, func(n *NodeInfo, name string) int { return strings.Compare(n.Node.Name, name) })
	if !ok {
		return nodes, pod
	}
	n := nodes[i].Clone()
	if !n.RemovePod(string(pod.UID)) {
		return nodes, pod
	}
	nodes = slices.Clone(nodes)
	nodes[i] = n
	return nodes, pod
}

// WaitForCacheSync starts the informer factory and waits until the cache
// reflects the cluster, without scheduling anything: it lets a process that
// is not the scheduler (`skiff explain`) dry-run ExplainPod. Stopping the
// factory is the caller's.
func (s *Scheduler) WaitForCacheSync(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return fmt.Errorf("scheduler: waiting for caches: %w", context.Cause(ctx))
	}
	return nil
}

func (s *Scheduler) namespaceLabels(ns string) labels.Set {
	n, err := s.nsLister.Get(ns)
	if err != nil {
		return nil
	}
	return n.Labels
}

// scheduleOne runs one cycle; false when the queue is closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	qp, cycle, ok := s.queue.Pop()
	if !ok {
		return false
	}
	pod := qp.Pod
	ch := s.chains[pod.Spec.SchedulerName]
	if ch == nil || pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		s.queue.Done(qp.Key)
		return true
	}
	if _, counted := s.cache.Pod(string(pod.UID)); counted {
		// Already assumed or bound; a stale copy was requeued.
		s.queue.Done(qp.Key)
		return true
	}
	pct := s.cfg.PercentageOfNodesToScore
	if p := ch.profile.PercentageOfNodesToScore; p != nil {
		pct = *p
	}
	var res *result
	var pre preemption
	s.cache.ViewIndexed(string(pod.UID), func(nodes []*NodeInfo, idx *podIndex) {
		res, s.next = ch.findNode(ctx, pod, nodes, idx, s.next, pct, s.nominatedPods, s.rnd, false)
		if res.node == "" && ch.profile.Preemption && len(nodes) > 0 {
			pdbs, _ := s.pdbLister.List(labels.Everything())
			pre = ch.preempt(ctx, pod, nodes, res, pdbs)
		}
	})
	if res.node == "" {
		s.unschedulable(ctx, qp, cycle, res, pre)
		return true
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = res.node
	if !s.cache.Assume(assumed) {
		s.queue.Requeue(qp, cycle, false)
		return true
	}
	s.remember(res.expl)
	s.unnominate(pod)
	select {
	case s.bindSlots <- struct{}{}:
	case <-ctx.Done():
		// The term ended before binding: the pod stays pending, so
		// the next term (here or in another process) must see it.
		s.cache.Forget(assumed)
		s.queue.Requeue(qp, cycle, false)
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.bindSlots }()
		s.bind(ctx, qp, cycle, assumed)
	}()
	return true
}

// bind POSTs the binding; on failure the assumption is undone and the pod
// backs off, unless it was bound or deleted meanwhile (409, 404).
func (s *Scheduler) bind(ctx context.Context, qp *QueuedPod, cycle int64, assumed *corev1.Pod) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: assumed.Spec.NodeName},
	}
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err == nil {
		s.queue.Done(qp.Key)
		s.recorder.Eventf(qp.Pod, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
			"Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, assumed.Spec.NodeName)
		return
	}
	s.cache.Forget(assumed)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		s.queue.Done(qp.Key)
		return
	}
	if ctx.Err() != nil {
		// The term ended mid-binding. If the binding landed the pod's
		// update takes it out of the queue; otherwise the next term
		// binds it.
		s.queue.Requeue(qp, cycle, false)
		return
	}
	s.log.Warn("binding failed", "pod", qp.Key, "node", assumed.Spec.NodeName, "err", err)
	s.recorder.Eventf(qp.Pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "Binding rejected: %v", err)
	s.queue.Requeue(qp, cycle, false)
	s.queue.MoveAll(EventAssignedPodDelete)
}

// unschedulable records a failed cycle: preemption's evictions, the
// FailedScheduling event, the PodScheduled condition, and the requeue.
func (s *Scheduler) unschedulable(ctx context.Context, qp *QueuedPod, cycle int64, res *result, pre preemption) {
	pod := qp.Pod
	msg := fitMessage(res, pre.msg)
	if res.total == 0 {
		msg = "no nodes available to schedule pods"
	}
	res.expl.Message = msg
	s.remember(res.expl)
	qp.UnschedulablePlugins = res.plugins
	s.queue.Requeue(qp, cycle, true)
	s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", msg)
	s.log.Debug("pod unschedulable", "pod", qp.Key, "message", msg)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if pre.node != "" {
			s.evict(ctx, pod, pre)
		}
		s.setCondition(ctx, pod, msg, pre.node)
	}()
}

// evict nominates pod to pre.node and deletes the victims gracefully, each
// first marked with a DisruptionTarget condition.
func (s *Scheduler) evict(ctx context.Context, pod *corev1.Pod, pre preemption) {
	s.nominate(pod, pre.node)
	for _, v := range pre.victims {
		patch := map[string]any{"status": map[string]any{"conditions": []any{map[string]any{
			"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
			"message":            fmt.Sprintf("%s: preempting to accommodate a higher priority pod", pod.Spec.SchedulerName),
			"lastTransitionTime": metav1.NewTime(s.clock.Now()).Rfc3339Copy(),
		}}}}
		s.patchStatus(ctx, v, patch)
		err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &v.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("deleting preemption victim", "pod", podKey(v), "err", err)
			continue
		}
		s.recorder.Eventf(v, pod, corev1.EventTypeNormal, "Preempted", "Preempting", "Preempted by pod %v on node %v", pod.UID, pre.node)
	}
	s.log.Info("preempted", "pod", podKey(pod), "node", pre.node, "victims", len(pre.victims))
}

// setCondition writes PodScheduled=False/Unschedulable with msg (and the
// nominated node) unless the pod already says exactly that.
func (s *Scheduler) setCondition(ctx context.Context, pod *corev1.Pod, msg, nominated string) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg && nominated == "" {
			return
		}
	}
	status := map[string]any{"conditions": []any{map[string]any{
		"type": string(corev1.PodScheduled), "status": string(corev1.ConditionFalse),
		"reason": corev1.PodReasonUnschedulable, "message": msg, "lastProbeTime": nil,
		"lastTransitionTime": metav1.NewTime(s.clock.Now()).Rfc3339Copy(),
	}}}
	if nominated != "" {
		status["nominatedNodeName"] = nominated
	}
	s.patchStatus(ctx, pod, map[string]any{"status": status})
}

func (s *Scheduler) patchStatus(ctx context.Context, pod *corev1.Pod, patch map[string]any) {
	data, err := json.Marshal(patch)
	if err != nil {
		return
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Warn("updating pod status", "pod", podKey(pod), "err", err)
	}
}

// remember stores the latest explanation and logs it at debug level.
func (s *Scheduler) remember(e *Explanation) {
	s.mu.Lock()
	s.explanations[e.Pod] = e
	s.mu.Unlock()
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("scheduling explanation", "pod", e.Pod, "node", e.Node, "explanation", e.String())
	}
}

func (s *Scheduler) nominate(pod *corev1.Pod, node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unnominateLocked(pod)
	if s.nominated[node] == nil {
		s.nominated[node] = map[string]*PodInfo{}
	}
	s.nominated[node][string(pod.UID)] = newPodInfo(pod)
}

func (s *Scheduler) unnominate(pod *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unnominateLocked(pod)
}

func (s *Scheduler) unnominateLocked(pod *corev1.Pod) {
	for node, m := range s.nominated {
		delete(m, string(pod.UID))
		if len(m) == 0 {
			delete(s.nominated, node)
		}
	}
}

// nominatedPods returns the pods nominated to node with at least priority,
// other than the pod with UID except.
func (s *Scheduler) nominatedPods(node string, priority int32, except string) []*PodInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*PodInfo
	for uid, p := range s.nominated[node] {
		if uid != except && podPriority(p.Pod) >= priority {
			out = append(out, p)
		}
	}
	return out
}

// Event handlers: they only update the cache and the queue.

func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	_, ok := s.chains[pod.Spec.SchedulerName]
	return ok
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName != "" {
		s.cache.AddPod(pod)
		s.queue.MoveAll(EventAssignedPodAdd)
		return
	}
	if s.responsible(pod) && !terminal(pod) && pod.DeletionTimestamp == nil {
		if nn := pod.Status.NominatedNodeName; nn != "" {
			s.nominate(pod, nn)
		}
		s.queue.Add(pod)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == pod.ResourceVersion {
		return
	}
	if pod.Spec.NodeName != "" {
		s.cache.AddPod(pod)
		if old.Spec.NodeName == "" {
			s.queue.Delete(pod)
			s.unnominate(pod)
			s.trimExplanation(podKey(pod))
			s.queue.MoveAll(EventAssignedPodAdd)
		} else if !reflect.DeepEqual(old.Labels, pod.Labels) || terminal(pod) != terminal(old) {
			s.queue.MoveAll(EventAssignedPodUpdate)
		}
		return
	}
	if !s.responsible(pod) || terminal(pod) || pod.DeletionTimestamp != nil {
		s.queue.Delete(pod)
		return
	}
	// Status writes (including our own condition) must not retrigger the
	// pod; only what scheduling reads does.
	if reflect.DeepEqual(old.Spec, pod.Spec) && reflect.DeepEqual(old.Labels, pod.Labels) &&
		old.Status.NominatedNodeName == pod.Status.NominatedNodeName {
		s.queue.Refresh(pod)
		return
	}
	s.queue.Update(pod)
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.explanations, podKey(pod))
	s.mu.Unlock()
	s.unnominate(pod)
	if pod.Spec.NodeName != "" {
		s.cache.RemovePod(pod)
		s.queue.MoveAll(EventAssignedPodDelete)
		return
	}
	s.queue.Delete(pod)
}

// trimExplanation drops the rejected-node details of a pod now bound.
func (s *Scheduler) trimExplanation(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.explanations[key]
	if !ok || e.Node != "" {
		return
	}
	delete(s.explanations, key)
}

func (s *Scheduler) onNodeAdd(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		s.cache.AddNode(n)
		s.queue.MoveAll(EventNodeAdd)
	}
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Node)
	n, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.AddNode(n)
	if !reflect.DeepEqual(old.Labels, n.Labels) || !reflect.DeepEqual(old.Spec.Taints, n.Spec.Taints) ||
		old.Spec.Unschedulable != n.Spec.Unschedulable || !reflect.DeepEqual(old.Status.Allocatable, n.Status.Allocatable) ||
		!reflect.DeepEqual(old.Status.Images, n.Status.Images) {
		s.queue.MoveAll(EventNodeUpdate)
	}
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if n, ok := obj.(*corev1.Node); ok {
		s.cache.RemoveNode(n.Name)
	}
}

func (s *Scheduler) moveOn(ev ClusterEvent) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.MoveAll(ev) },
		UpdateFunc: func(any, any) { s.queue.MoveAll(ev) },
		DeleteFunc: func(any) { s.queue.MoveAll(ev) },
	}
}

// NodeCount returns how many nodes the scheduler's cache holds.
func (s *Scheduler) NodeCount() int { return s.cache.NodeCount() }
