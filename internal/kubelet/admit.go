package kubelet

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
)

// Admission on the node. Before a pod's first sandbox is created its
// requests are checked against the node's allocatable minus the requests
// of the pods already admitted (as the scheduler should have done; this
// catches pods bound directly with spec.nodeName and races). A pod that
// does not fit is failed at once with upstream's reason (OutOfcpu,
// OutOfmemory, OutOfpods, OutOf<resource>) and message. Pods that already
// have a sandbox (an agent restart) are admitted without a check.
//
// Eviction uses the same way out: both record a stop order (reason and
// message) that the pod's worker carries out by stopping the pod and
// posting phase Failed.

// stopOrder is why the agent has failed a pod.
type stopOrder struct{ reason, message string }

// admission holds which pods were admitted and which must stop.
type admission struct {
	// mu guards both maps. It is held across one admission decision
	// (which reads only caches) so two pods cannot both take the last
	// room on the node.
	mu       sync.Mutex
	admitted map[types.UID]bool
	stops    map[types.UID]stopOrder
}

func newAdmission() *admission {
	return &admission{admitted: map[types.UID]bool{}, stops: map[types.UID]stopOrder{}}
}

func (a *admission) lock()   { a.mu.Lock() }
func (a *admission) unlock() { a.mu.Unlock() }

// stopFor returns the stop order for uid, if any.
func (a *admission) stopFor(uid types.UID) (stopOrder, bool) {
	a.lock()
	defer a.unlock()
	s, ok := a.stops[uid]
	return s, ok
}

// order records a stop order for uid (the first one wins).
func (a *admission) order(uid types.UID, s stopOrder) {
	a.lock()
	defer a.unlock()
	if _, ok := a.stops[uid]; !ok {
		a.stops[uid] = s
	}
	delete(a.admitted, uid)
}

// forget drops everything known about uid (its worker has finished).
func (a *admission) forget(uid types.UID) {
	a.lock()
	defer a.unlock()
	delete(a.admitted, uid)
	delete(a.stops, uid)
}

// allocatable is the node's allocatable resources: the machine's capacity
// minus the eviction reservations.
func (k *Kubelet) allocatable() corev1.ResourceList {
	if k.cfg.Allocatable != nil {
		return k.cfg.Allocatable
	}
	_, alloc := k.machineResources()
	return alloc
}

// machineResources returns the machine's capacity and allocatable: as
// upstream, allocatable memory and ephemeral storage leave room for the
// memory.available and nodefs.available hard eviction thresholds.
func (k *Kubelet) machineResources() (capacity, allocatable corev1.ResourceList) {
	cfg := &k.eviction.cfg
	return machineResources(k.cfg.RootDir, cfg.threshold(SignalMemoryAvailable), cfg.threshold(SignalNodeFsAvailable))
}

func machineResources(rootDir string, memoryReserve, diskReserve Threshold) (capacity, allocatable corev1.ResourceList) {
	capacity = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods:   *resource.NewQuantity(MaxPods, resource.DecimalSI),
		"hugepages-1Gi":       resource.MustParse("0"),
		"hugepages-2Mi":       resource.MustParse("0"),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
	}
	if disk := diskTotal(rootDir); disk > 0 {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(disk, resource.BinarySI)
	}
	allocatable = capacity.DeepCopy()
	reserve := func(name corev1.ResourceName, t Threshold) {
		c, ok := capacity[name]
		if !ok {
			return
		}
		var left int64
		if q := t.quantity(c.Value()); q != nil {
			left = max(0, c.Value()-q.Value())
		} else {
			left = c.Value()
		}
		allocatable[name] = *resource.NewQuantity(left, resource.BinarySI)
	}
	reserve(corev1.ResourceMemory, memoryReserve)
	reserve(corev1.ResourceEphemeralStorage, diskReserve)
	return capacity, allocatable
}

// admit decides whether pod may start on this node. It returns nil when
// the pod is admitted (and records it), or the stop order that rejects it.
// hasSandbox says the runtime already runs the pod (it is adopted).
func (k *Kubelet) admit(pod *corev1.Pod, hasSandbox bool) *stopOrder {
	a := k.admission
	a.lock()
	defer a.unlock()
	if a.admitted[pod.UID] {
		return nil
	}
	if hasSandbox || pod.Status.Phase == corev1.PodRunning {
		a.admitted[pod.UID] = true
		return nil
	}
	var others []*corev1.Pod
	for _, p := range k.activePods() {
		if p.UID != pod.UID && a.admitted[p.UID] {
			// What a pod was allocated, not a resize it asks for.
			others = append(others, k.allocations.view(p))
		}
	}
	if s := pressureRejects(pod, k.eviction.memoryPressure.Load(), k.eviction.diskPressure.Load()); s != nil {
		return s
	}
	if s := fitsNode(pod, others, k.allocatable()); s != nil {
		return s
	}
	a.admitted[pod.UID] = true
	return nil
}

// pressureRejects is upstream's eviction admission: under node pressure
// only critical pods are admitted, except that under MemoryPressure alone
// pods that are not BestEffort (or tolerate the memory-pressure taint)
// are too. The rejection's reason is Evicted.
func pressureRejects(pod *corev1.Pod, memory, disk bool) *stopOrder {
	if !memory && !disk {
		return nil
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority >= systemCriticalPriority {
		return nil
	}
	var conds []corev1.NodeConditionType
	if memory {
		conds = append(conds, corev1.NodeMemoryPressure)
		taint := &corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}
		if !disk && (qosClass(pod) != corev1.PodQOSBestEffort || nodematch.Tolerated(pod.Spec.Tolerations, taint)) {
			return nil
		}
	}
	if disk {
		conds = append(conds, corev1.NodeDiskPressure)
	}
	return &stopOrder{reason: "Evicted", message: fmt.Sprintf("The node had condition: %v. ", conds)}
}

// activePods returns the node's pods that are not terminal: API pods
// (mirror pods excluded) and static pods. They must not be modified.
func (k *Kubelet) activePods() []*corev1.Pod {
	var out []*corev1.Pod
	if k.podLister != nil {
		pods, _ := k.podLister.List(everything())
		for _, p := range pods {
			if !isMirrorPod(p) {
				out = append(out, p)
			}
		}
	}
	out = append(out, k.staticPodList()...)
	active := out[:0]
	for _, p := range out {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			active = append(active, p)
		}
	}
	return active
}

// fitsNode checks pod against allocatable minus what others request, in
// upstream's order: pods, cpu, memory, ephemeral-storage, then every other
// requested resource by name. It returns the first shortage as a stop
// order, or nil.
func fitsNode(pod *corev1.Pod, others []*corev1.Pod, allocatable corev1.ResourceList) *stopOrder {
	reject := func(name corev1.ResourceName, requested, used, capacity int64) *stopOrder {
		return &stopOrder{
			reason: fmt.Sprintf("OutOf%s", name),
			message: fmt.Sprintf("Pod was rejected: Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
				name, requested, used, capacity),
		}
	}
	if maxPods, ok := allocatable[corev1.ResourcePods]; ok && int64(len(others))+1 > maxPods.Value() {
		return reject(corev1.ResourcePods, 1, int64(len(others)), maxPods.Value())
	}
	want := podRequests(pod)
	used := corev1.ResourceList{}
	for _, o := range others {
		for name, q := range podRequests(o) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	value := func(name corev1.ResourceName, q resource.Quantity) int64 {
		if name == corev1.ResourceCPU {
			return q.MilliValue()
		}
		return q.Value()
	}
	names := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}
	var extra []corev1.ResourceName
	for name := range want {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
			extra = append(extra, name)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, name := range append(names, extra...) {
		req, ok := want[name]
		if !ok || req.IsZero() {
			continue
		}
		capQ, known := allocatable[name]
		if !known && name == corev1.ResourceEphemeralStorage {
			continue // the node does not report its disk: nothing to check
		}
		r, u, c := value(name, req), value(name, used[name]), value(name, capQ)
		if r+u > c {
			return reject(name, r, u, c)
		}
	}
	return nil
}

// podRequests is what the pod asks of the node: the larger of its app
// containers' (plus sidecars') requests and any one init container's
// (plus the sidecars started before it), plus the pod overhead.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	add := func(into, l corev1.ResourceList) {
		for name, q := range l {
			sum := into[name]
			sum.Add(q)
			into[name] = sum
		}
	}
	apps := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		add(apps, c.Resources.Requests)
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			add(sidecars, c.Resources.Requests)
			add(apps, c.Resources.Requests)
			continue
		}
		here := sidecars.DeepCopy()
		add(here, c.Resources.Requests)
		for name, q := range here {
			if cur, ok := initMax[name]; !ok || q.Cmp(cur) > 0 {
				initMax[name] = q
			}
		}
	}
	for name, q := range initMax {
		if cur, ok := apps[name]; !ok || q.Cmp(cur) > 0 {
			apps[name] = q
		}
	}
	add(apps, pod.Spec.Overhead)
	return apps
}

// failPod carries out a stop order: the pod's containers are stopped, its
// sandbox released, and its status posted with phase Failed and the
// order's reason and message. It returns when to look again.
func (w *podWorker) failPod(ctx context.Context, pod *corev1.Pod, state *podRuntime, s stopOrder) time.Duration {
	w.killContainers(ctx, state, pod, gracePeriod(pod))
	w.stopSandboxes(ctx, state)
	if st, err := w.runtimeState(ctx); err == nil {
		state = st
	}
	status := w.podStatus(pod, state)
	status.Phase = corev1.PodFailed
	status.Reason, status.Message = s.reason, s.message
	for i := range status.Conditions {
		if status.Conditions[i].Type == corev1.PodReady || status.Conditions[i].Type == corev1.ContainersReady {
			status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if err := w.postStatus(ctx, pod, status); err != nil {
		if ctx.Err() == nil {
			w.log.Warn("posting the failed pod's status", "err", err)
		}
		return retryDelay
	}
	return 0
}
