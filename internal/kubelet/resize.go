package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// In-place resize, as upstream's kubelet does it. A pod's containers run
// with its *allocated* resources: what the agent admitted, kept per pod
// in a checkpoint (PODDIR/allocated.json) so an agent restart keeps them.
// When the spec (changed through pods/resize) asks for other cpu or
// memory than allocated, the worker decides:
//   - the pod alone would not fit the node's allocatable: PodResizePending
//     with reason Infeasible ("Node didn't have enough capacity: ...");
//   - it does not fit beside the other pods: PodResizePending, Deferred
//     (looked at again every deferredResizeRetry);
//   - it fits: the new resources become the allocation, and each running
//     container gets them through CRI UpdateContainerResources (or is
//     restarted when its resizePolicy says RestartContainer). Until every
//     running container has its allocation the pod has PodResizeInProgress
//     (reason Error with the runtime's message when an update failed).
//
// status.containerStatuses[].resources reports what was applied to each
// running container and allocatedResources its allocated requests.

// allocations is the node's view of every pod's allocated resources,
// by pod UID; workers publish theirs and admission reads them. mu guards
// byUID; the maps stored are never modified afterwards.
type allocations struct {
	mu    sync.Mutex
	byUID map[types.UID]map[string]corev1.ResourceRequirements
}

func (a *allocations) set(uid types.UID, alloc map[string]corev1.ResourceRequirements) {
	c := make(map[string]corev1.ResourceRequirements, len(alloc))
	for k, v := range alloc {
		c[k] = *v.DeepCopy()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byUID == nil {
		a.byUID = map[types.UID]map[string]corev1.ResourceRequirements{}
	}
	a.byUID[uid] = c
}

func (a *allocations) forget(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byUID, uid)
}

// view returns pod as allocated: pod itself when its allocation is not
// known, else a copy whose containers carry their allocated resources
// (a resize not accepted yet asks nothing of the node).
func (a *allocations) view(pod *corev1.Pod) *corev1.Pod {
	a.mu.Lock()
	alloc, ok := a.byUID[pod.UID]
	a.mu.Unlock()
	if !ok {
		return pod
	}
	p := pod.DeepCopy()
	for _, c := range allContainers(p) {
		if r, ok := alloc[c.Name]; ok {
			c.Resources = *r.DeepCopy()
		}
	}
	return p
}

// deferredResizeRetry is how often a deferred resize is tried again.
const deferredResizeRetry = 10 * time.Second

// resizeState is one pod's allocation and what was applied. It is owned
// by the pod's worker and saved as the pod's checkpoint.
type resizeState struct {
	// Allocated holds, by container name, the resources the agent
	// admitted for each app container and sidecar.
	Allocated map[string]corev1.ResourceRequirements `json:"allocated"`
	// Actuated holds, by runtime container ID, the resources the
	// container was created or last updated with.
	Actuated map[string]corev1.ResourceRequirements `json:"actuated"`

	// pending is the PodResizePending condition (reason, message), or
	// reason "" when no resize waits.
	pendingReason, pendingMessage string
	// actuateErr is the last failed update, for PodResizeInProgress.
	actuateErr error
	// loaded is set once the checkpoint was read (or found missing).
	loaded bool
}

// resizable reports whether c is resized in place: app containers and
// sidecars (regular init containers are done before any resize).
func resizable(pod *corev1.Pod, name string) bool {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return isSidecar(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return true
		}
	}
	return false
}

// specResources are the resources the spec asks for, by resizable
// container name.
func specResources(pod *corev1.Pod) map[string]corev1.ResourceRequirements {
	out := map[string]corev1.ResourceRequirements{}
	for _, c := range allContainers(pod) {
		if resizable(pod, c.Name) {
			out[c.Name] = *c.Resources.DeepCopy()
		}
	}
	return out
}

func (w *podWorker) checkpointPath() string {
	return filepath.Join(w.k.podDir(w.uid), "allocated.json")
}

// loadAllocation reads the pod's checkpoint once; without one the pod is
// allocated what its spec asks (it is being admitted now, or ran before
// resizes were tracked).
func (w *podWorker) loadAllocation(pod *corev1.Pod) {
	r := &w.resize
	if r.loaded {
		return
	}
	r.loaded = true
	if data, err := os.ReadFile(w.checkpointPath()); err == nil {
		var saved resizeState
		if err := json.Unmarshal(data, &saved); err == nil && saved.Allocated != nil {
			r.Allocated, r.Actuated = saved.Allocated, saved.Actuated
		}
	}
	if r.Allocated == nil {
		r.Allocated = specResources(pod)
	}
	if r.Actuated == nil {
		r.Actuated = map[string]corev1.ResourceRequirements{}
	}
	w.k.allocations.set(w.uid, r.Allocated)
}

// saveAllocation writes the checkpoint.
func (w *podWorker) saveAllocation() error {
	data, err := json.Marshal(&w.resize)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.k.podDir(w.uid), 0o750); err != nil {
		return err
	}
	tmp := w.checkpointPath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, w.checkpointPath())
}

// allocatedPod is a copy of pod whose containers carry their allocated
// resources: what containers are created and updated with.
func (w *podWorker) allocatedPod(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	for _, c := range allContainers(p) {
		if a, ok := w.resize.Allocated[c.Name]; ok {
			c.Resources = *a.DeepCopy()
		}
	}
	return p
}

// decideResize compares the spec with the allocation and accepts, defers
// or refuses a resize. It returns when to look again.
func (w *podWorker) decideResize(pod *corev1.Pod) time.Duration {
	r := &w.resize
	want := specResources(pod)
	if sameCPUMemory(want, r.Allocated) {
		r.pendingReason, r.pendingMessage = "", ""
		return 0
	}
	var others []*corev1.Pod
	for _, p := range w.k.activePods() {
		if p.UID != pod.UID {
			others = append(others, w.k.allocations.view(p))
		}
	}
	reason, message := resizeFits(pod, others, w.k.allocatable())
	if reason != "" {
		if reason != r.pendingReason || message != r.pendingMessage {
			w.log.Info("resize not accepted", "reason", reason, "message", message)
		}
		r.pendingReason, r.pendingMessage = reason, message
		if reason == corev1.PodReasonDeferred {
			return deferredResizeRetry
		}
		return 0
	}
	r.pendingReason, r.pendingMessage, r.actuateErr = "", "", nil
	for name, res := range want {
		r.Allocated[name] = res
	}
	w.k.allocations.set(w.uid, r.Allocated)
	if err := w.saveAllocation(); err != nil {
		w.log.Warn("saving the pod's allocation", "err", err)
	}
	return 0
}

// resizeFits decides a resize of pod (its spec holding the new resources)
// as upstream: Infeasible when the pod alone asks for more cpu or memory
// than the node's allocatable, Deferred when it does not fit beside
// others, "" when it may go ahead.
func resizeFits(pod *corev1.Pod, others []*corev1.Pod, allocatable corev1.ResourceList) (reason, message string) {
	want := podRequests(pod)
	cpuReq, memReq := want.Cpu().MilliValue(), want.Memory().Value()
	cpuCap, memCap := allocatable.Cpu().MilliValue(), allocatable.Memory().Value()
	switch {
	case memReq > memCap:
		return corev1.PodReasonInfeasible, fmt.Sprintf("Node didn't have enough capacity: memory, requested: %d, capacity: %d", memReq, memCap)
	case cpuReq > cpuCap:
		return corev1.PodReasonInfeasible, fmt.Sprintf("Node didn't have enough capacity: cpu, requested: %d, capacity: %d", cpuReq, cpuCap)
	}
	if s := fitsNode(pod, others, allocatable); s != nil {
		const prefix = "Pod was rejected: "
		msg := s.message
		if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
			msg = msg[len(prefix):]
		}
		return corev1.PodReasonDeferred, msg
	}
	return "", ""
}

// sameCPUMemory reports whether a and b ask for the same cpu and memory
// requests and limits for every container in a.
func sameCPUMemory(a, b map[string]corev1.ResourceRequirements) bool {
	for name, ra := range a {
		rb, ok := b[name]
		if !ok || !cpuMemoryEqual(ra, rb) {
			return false
		}
	}
	return true
}

func cpuMemoryEqual(a, b corev1.ResourceRequirements) bool {
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if !a.Requests[n].Equal(b.Requests[n]) || !a.Limits[n].Equal(b.Limits[n]) {
			return false
		}
	}
	return true
}

// actuateResize gives every running resizable container its allocated
// resources: in place through the runtime, or by a restart when the
// container's resizePolicy asks for one for a resource that changed.
func (w *podWorker) actuateResize(ctx context.Context, alloc *corev1.Pod, state *podRuntime) {
	r := &w.resize
	sandbox := state.readySandbox()
	changed := false
	for _, c := range allContainers(alloc) {
		want, ok := r.Allocated[c.Name]
		cur := state.latest(c.Name)
		if !ok || cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		have, known := r.Actuated[cur.Id]
		if !known {
			// Created before this agent tracked it: it runs with what
			// was allocated then, which is what the checkpoint holds.
			r.Actuated[cur.Id] = *want.DeepCopy()
			changed = true
			continue
		}
		if cpuMemoryEqual(have, want) {
			continue
		}
		changed = true
		if needsRestart(c, have, want) && sandbox != nil {
			w.k.recorder.Eventf(alloc, corev1.EventTypeNormal, "Killing", "Container %s resize requires restart", c.Name)
			w.stopContainer(ctx, cur.Id, gracePeriod(alloc))
			delete(r.Actuated, cur.Id)
			w.startContainer(ctx, alloc, sandbox, c, cur.GetMetadata().GetAttempt()+1, "")
			continue
		}
		_, err := w.k.cfg.Runtime.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
			ContainerId: cur.Id,
			Linux:       w.k.linuxResources(alloc, c),
		})
		if err != nil {
			r.actuateErr = fmt.Errorf("failed to update container %s resources: %w", c.Name, err)
			w.log.Warn("resizing a container", "container", c.Name, "err", err)
			continue
		}
		r.actuateErr = nil
		r.Actuated[cur.Id] = *want.DeepCopy()
	}
	// Records of containers that are gone are dropped.
	for id := range r.Actuated {
		if _, ok := state.sandboxOf[id]; !ok {
			delete(r.Actuated, id)
			changed = true
		}
	}
	if changed {
		if err := w.saveAllocation(); err != nil {
			w.log.Warn("saving the pod's allocation", "err", err)
		}
	}
}

// noteStarted records that container id was created with c's resources.
func (w *podWorker) noteStarted(id string, c *corev1.Container) {
	if w.resize.Actuated == nil {
		return
	}
	w.resize.Actuated[id] = *c.Resources.DeepCopy()
	if err := w.saveAllocation(); err != nil {
		w.log.Warn("saving the pod's allocation", "err", err)
	}
}

// needsRestart reports whether c's resizePolicy restarts it for a change
// from have to want.
func needsRestart(c *corev1.Container, have, want corev1.ResourceRequirements) bool {
	for _, p := range c.ResizePolicy {
		if p.RestartPolicy != corev1.RestartContainer {
			continue
		}
		if !have.Requests[p.ResourceName].Equal(want.Requests[p.ResourceName]) || !have.Limits[p.ResourceName].Equal(want.Limits[p.ResourceName]) {
			return true
		}
	}
	return false
}

// resizeInProgress reports whether a running resizable container does
// not yet run with its allocation.
func (w *podWorker) resizeInProgress(state *podRuntime) bool {
	for name, want := range w.resize.Allocated {
		cur := state.latest(name)
		if cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if have, ok := w.resize.Actuated[cur.Id]; ok && !cpuMemoryEqual(have, want) {
			return true
		}
	}
	return false
}

// statusResources fills cs.resources (what the running container was
// given) and cs.allocatedResources (its allocated requests).
func (w *podWorker) statusResources(cs *corev1.ContainerStatus, state *podRuntime) {
	alloc, ok := w.resize.Allocated[cs.Name]
	cur := state.latest(cs.Name)
	if !ok || cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	applied, known := w.resize.Actuated[cur.Id]
	if !known {
		applied = alloc
	}
	cs.Resources = &corev1.ResourceRequirements{
		Requests: nonEmpty(applied.Requests.DeepCopy()),
		Limits:   nonEmpty(applied.Limits.DeepCopy()),
	}
	cs.AllocatedResources = nonEmpty(alloc.Requests.DeepCopy())
}

func nonEmpty(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return nil
	}
	return l
}

// resizeConditions are the pod's PodResizePending and PodResizeInProgress
// conditions now; old keeps their transition times.
func (w *podWorker) resizeConditions(pod *corev1.Pod, state *podRuntime, old []corev1.PodCondition, now metav1.Time) []corev1.PodCondition {
	var out []corev1.PodCondition
	add := func(t corev1.PodConditionType, reason, message string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message,
			LastTransitionTime: now, ObservedGeneration: pod.Generation}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status && o.Reason == reason && o.Message == message {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
		out = append(out, c)
	}
	r := &w.resize
	if r.pendingReason != "" {
		add(corev1.PodResizePending, r.pendingReason, r.pendingMessage)
	}
	switch {
	case r.actuateErr != nil:
		add(corev1.PodResizeInProgress, corev1.PodReasonError, r.actuateErr.Error())
	case w.resizeInProgress(state):
		add(corev1.PodResizeInProgress, "", "")
	}
	return out
}
