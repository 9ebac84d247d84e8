package scheduler

import (
	"container/heap"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// ClusterEvent is a kind of change that can make an unschedulable pod
// schedulable. Events are bits so a plugin can name the set it cares about.
type ClusterEvent uint32

const (
	EventNodeAdd ClusterEvent = 1 << iota
	// EventNodeUpdate is any change of a node's labels, taints,
	// allocatable, images or unschedulable flag.
	EventNodeUpdate
	EventAssignedPodAdd
	EventAssignedPodUpdate
	EventAssignedPodDelete
	EventPVCChange
	EventPVChange
	EventNamespaceChange
	// EventDRAChange is any change of a ResourceClaim or DeviceClass.
	EventDRAChange
	// EventAll matches every plugin (used by the periodic flush).
	EventAll ClusterEvent = 1<<iota - 1
)

// QueuedPod is a pending pod and its scheduling history.
type QueuedPod struct {
	Pod *corev1.Pod
	Key string
	// Attempts counts the cycles that tried this pod.
	Attempts int
	// Added is when the pod entered the queue (its last (re)queue time).
	Added time.Time
	// UnschedulablePlugins names the filters that rejected the pod in its
	// last cycle; only events they care about move it back.
	UnschedulablePlugins sets.Set[string]

	backoffUntil time.Time
	seq          uint64
	index        int
	heap         *podHeap // the heap holding the pod, nil if none
	deleted      bool
}

func (p *QueuedPod) priority() int32 { return podPriority(p.Pod) }

func podPriority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// QueueOptions configure a Queue; zero durations take the upstream defaults.
type QueueOptions struct {
	Clock clock.WithTicker
	// InitialBackoff doubles per attempt up to MaxBackoff (1 s and 10 s).
	InitialBackoff, MaxBackoff time.Duration
	// UnschedulableTimeout flushes pods left in the unschedulable pool this
	// long (5 min).
	UnschedulableTimeout time.Duration
	// Relevant reports whether ev may help a pod rejected by plugins; nil
	// means every event is relevant.
	Relevant func(plugins sets.Set[string], ev ClusterEvent) bool
}

// Queue holds pending pods: an active heap (highest priority, then oldest
// creation, first), a backoff heap (earliest expiry first) and an
// unschedulable pool. Pop blocks; everything else never blocks. Safe for
// concurrent use.
type Queue struct {
	opts QueueOptions

	// mu guards every field below; cond (on mu) wakes Pop.
	mu   sync.Mutex
	cond *sync.Cond
	// active and backoff are heaps of pods; unschedulable is keyed by pod
	// key; inFlight holds popped pods whose cycle has not ended.
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*QueuedPod
	inFlight      map[string]*QueuedPod
	// queued indexes the pods in active and backoff by key.
	queued map[string]*QueuedPod
	// schedulingCycle counts Pops; moveRequestCycle is the cycle number at
	// the last MoveAll, so a pod whose cycle overlapped a move goes to
	// backoff rather than waiting for another event.
	schedulingCycle  int64
	moveRequestCycle int64
	seq              uint64
	closed           bool
}

// NewQueue returns an empty queue.
func NewQueue(opts QueueOptions) *Queue {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.UnschedulableTimeout <= 0 {
		opts.UnschedulableTimeout = 5 * time.Minute
	}
	q := &Queue{
		opts:          opts,
		active:        podHeap{less: activeLess},
		backoff:       podHeap{less: backoffLess},
		unschedulable: map[string]*QueuedPod{},
		inFlight:      map[string]*QueuedPod{},
		queued:        map[string]*QueuedPod{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func activeLess(a, b *QueuedPod) bool {
	if pa, pb := a.priority(), b.priority(); pa != pb {
		return pa > pb
	}
	ca, cb := a.Pod.CreationTimestamp.Time, b.Pod.CreationTimestamp.Time
	if !ca.Equal(cb) {
		return ca.Before(cb)
	}
	return a.seq < b.seq
}

func backoffLess(a, b *QueuedPod) bool {
	if !a.backoffUntil.Equal(b.backoffUntil) {
		return a.backoffUntil.Before(b.backoffUntil)
	}
	return a.seq < b.seq
}

// Run moves pods out of backoff once it expires and flushes long-unschedulable
// pods, every second, until ctx ends; then it closes the queue.
func (q *Queue) Run(done <-chan struct{}) {
	t := q.opts.Clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			q.Close()
			return
		case <-t.C():
			q.Flush()
		}
	}
}

// reopen undoes Close for a new leader term; the pods queued meanwhile are
// kept.
func (q *Queue) reopen() {
	q.mu.Lock()
	q.closed = false
	q.mu.Unlock()
}

// Close wakes Pop, which then returns false. Safe twice.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// Add queues a new pending pod; if the pod is already queued its object is
// replaced.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp := q.findLocked(key); qp != nil {
		qp.Pod = pod
		q.fixLocked(qp)
		return
	}
	q.seq++
	qp := &QueuedPod{Pod: pod, Key: key, Added: q.opts.Clock.Now(), seq: q.seq}
	q.pushLocked(&q.active, qp)
	q.cond.Signal()
}

// Update replaces a queued pod's object. A pod waiting in the unschedulable
// pool is given another try, since its spec or labels may have changed.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	key := podKey(pod)
	if qp, ok := q.unschedulable[key]; ok {
		delete(q.unschedulable, key)
		qp.Pod = pod
		q.requeueLocked(qp)
		q.mu.Unlock()
		return
	}
	if qp := q.findLocked(key); qp != nil {
		qp.Pod = pod
		q.fixLocked(qp)
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	q.Add(pod)
}

// Refresh replaces the object of a queued or in-flight pod; it never adds.
func (q *Queue) Refresh(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp := q.findLocked(podKey(pod)); qp != nil {
		qp.Pod = pod
		q.fixLocked(qp)
	}
}

// Delete removes a pod from the queue; a pod in flight is marked so Requeue
// drops it.
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.inFlight[key]; ok {
		qp.deleted = true
	}
	delete(q.unschedulable, key)
	if qp, ok := q.queued[key]; ok {
		heap.Remove(qp.heap, qp.index)
		qp.heap = nil
		delete(q.queued, key)
	}
}

// Pop blocks until a pod is active (or the queue is closed: ok false) and
// returns it with the number of its scheduling cycle. The pod is in flight
// until Done or Requeue.
func (q *Queue) Pop() (qp *QueuedPod, cycle int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0, false
	}
	qp = q.popLocked(&q.active)
	qp.Attempts++
	q.schedulingCycle++
	q.inFlight[qp.Key] = qp
	return qp, q.schedulingCycle, true
}

// Done ends a pod's flight after it was assumed onto a node.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, key)
}

// Requeue returns a pod whose cycle (number cycle) failed. Unschedulable pods
// wait in the unschedulable pool for a relevant event, unless an event
// arrived during their cycle; errors and binding failures back off.
func (q *Queue) Requeue(qp *QueuedPod, cycle int64, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, qp.Key)
	if qp.deleted || q.findLocked(qp.Key) != nil {
		return
	}
	now := q.opts.Clock.Now()
	qp.backoffUntil = now.Add(q.backoffFor(qp.Attempts))
	qp.Added = now
	if unschedulable && q.moveRequestCycle < cycle {
		q.unschedulable[qp.Key] = qp
		return
	}
	q.seq++
	qp.seq = q.seq
	q.pushLocked(&q.backoff, qp)
}

func (q *Queue) backoffFor(attempts int) time.Duration {
	d := q.opts.InitialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= q.opts.MaxBackoff {
			return q.opts.MaxBackoff
		}
	}
	return d
}

// MoveAll gives every unschedulable pod that ev may help another try (to
// backoff if its backoff has not expired, else to active).
func (q *Queue) MoveAll(ev ClusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveRequestCycle = q.schedulingCycle
	for key, qp := range q.unschedulable {
		if ev != EventAll && q.opts.Relevant != nil && !q.opts.Relevant(qp.UnschedulablePlugins, ev) {
			continue
		}
		delete(q.unschedulable, key)
		q.requeueLocked(qp)
	}
}

// requeueLocked puts a pod taken from the unschedulable pool in backoff or
// active, depending on its backoff expiry.
func (q *Queue) requeueLocked(qp *QueuedPod) {
	q.seq++
	qp.seq = q.seq
	if q.opts.Clock.Now().Before(qp.backoffUntil) {
		q.pushLocked(&q.backoff, qp)
		return
	}
	q.pushLocked(&q.active, qp)
	q.cond.Signal()
}

// Flush moves pods whose backoff expired to active and pods unschedulable for
// longer than the timeout back into play.
func (q *Queue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Clock.Now()
	for q.backoff.Len() > 0 {
		qp := q.backoff.items[0]
		if now.Before(qp.backoffUntil) {
			break
		}
		q.popLocked(&q.backoff)
		q.pushLocked(&q.active, qp)
		q.cond.Signal()
	}
	for key, qp := range q.unschedulable {
		if now.Sub(qp.Added) >= q.opts.UnschedulableTimeout {
			delete(q.unschedulable, key)
			q.requeueLocked(qp)
		}
	}
}

// Len returns the number of pods in each part: active, backoff,
// unschedulable.
func (q *Queue) Len() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

func (q *Queue) findLocked(key string) *QueuedPod {
	if qp, ok := q.unschedulable[key]; ok {
		return qp
	}
	if qp, ok := q.inFlight[key]; ok {
		return qp
	}
	return q.queued[key]
}

func (q *Queue) fixLocked(qp *QueuedPod) {
	if qp.heap != nil {
		heap.Fix(qp.heap, qp.index)
	}
}

func (q *Queue) pushLocked(h *podHeap, qp *QueuedPod) {
	qp.heap = h
	q.queued[qp.Key] = qp
	heap.Push(h, qp)
}

func (q *Queue) popLocked(h *podHeap) *QueuedPod {
	qp := heap.Pop(h).(*QueuedPod)
	qp.heap = nil
	delete(q.queued, qp.Key)
	return qp
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// podHeap is a container/heap of queued pods ordered by less.
type podHeap struct {
	items []*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h podHeap) Len() int           { return len(h.items) }
func (h podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = i
	h.items[j].index = j
}
func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items)
	qp := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	return qp
}
