package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// Timings of the pod worker.
const (
	// retryDelay is how soon a failed step (sandbox, runtime call, status
	// post) is tried again.
	retryDelay = 2 * time.Second
	// volumeResync is how often configMap, secret, downwardAPI and
	// projected volume contents are refreshed.
	volumeResync = 30 * time.Second
	// minKillGrace is the grace period used when a pod vanished from the
	// API without one (a force delete).
	minKillGrace = 1
)

// podWorker is the one goroutine that acts for one pod (by UID): it reads
// the pod from the informer cache and the runtime's state, does what
// brings the runtime to the pod's spec, and posts the pod's status. All
// its fields but wakeCh are owned by that goroutine.
type podWorker struct {
	k               *Kubelet
	uid             types.UID
	namespace, name string
	log             *slog.Logger

	// wakeCh holds at most one pending wake-up; signal never blocks.
	wakeCh chan struct{}

	backoff *backoff
	// waiting holds, by container name, why a container is not running
	// when the runtime cannot tell (image pulls, back-off, config errors).
	waiting map[string]corev1.ContainerStateWaiting
	// sandboxErr is the last sandbox creation failure, for status.
	sandboxErr error
	// startTime is when the agent first saw the pod.
	startTime metav1.Time
	// probes runs the pod's probes; nil until the first container starts.
	probes *probeSet
	// volumesAt is when volumes were last set up.
	volumesAt time.Time
	// deleteRequested is set once the pod has been deleted from the API.
	deleteRequested bool
	// claimPaths holds the host path of each persistentVolumeClaim volume.
	claimPaths map[string]string
	// resize is the pod's allocation and in-place resize state (resize.go).
	resize resizeState
}

func newPodWorker(k *Kubelet, uid types.UID, namespace, name string) *podWorker {
	return &podWorker{
		k: k, uid: uid, namespace: namespace, name: name,
		log:     k.log.With("pod", namespace+"/"+name, "uid", uid),
		wakeCh:  make(chan struct{}, 1),
		backoff: newBackoff(),
		waiting: map[string]corev1.ContainerStateWaiting{},

		claimPaths: map[string]string{},
	}
}

func (w *podWorker) signal() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// run syncs the pod whenever it is woken or its requeue time comes, until
// the pod and everything it had in the runtime are gone, or ctx ends.
func (w *podWorker) run(ctx context.Context) {
	defer func() {
		if w.probes != nil {
			w.probes.stop()
		}
	}()
	for {
		done, requeue := w.sync(ctx)
		if done {
			// Leave only if no wake-up is pending; wake holds k.mu, so a
			// signal after this check starts a new worker.
			w.k.mu.Lock()
			select {
			case <-w.wakeCh:
				w.k.mu.Unlock()
				continue
			default:
			}
			delete(w.k.workers, w.uid)
			w.k.mu.Unlock()
			return
		}
		var timerC <-chan time.Time
		var timer interface{ Stop() bool }
		if requeue > 0 {
			t := w.k.clock.NewTimer(requeue)
			timer, timerC = t, t.C()
		}
		select {
		case <-ctx.Done():
		case <-w.wakeCh:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// sync does one level-based pass. done means the worker may exit;
// requeue > 0 asks for another pass after that long.
func (w *podWorker) sync(ctx context.Context) (done bool, requeue time.Duration) {
	pod := w.k.getPod(w.uid, w.namespace, w.name)
	state, err := w.runtimeState(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("reading runtime state", "err", err)
		}
		return false, retryDelay
	}
	switch {
	case pod == nil:
		// Gone from the API: stop and remove everything left.
		w.killContainers(ctx, state, nil, minKillGrace)
		if err := w.removeAll(ctx); err != nil {
			w.log.Warn("cleaning up a deleted pod", "err", err)
			return false, retryDelay
		}
		w.k.admission.forget(w.uid)
		w.k.allocations.forget(w.uid)
		return true, 0
	case pod.DeletionTimestamp != nil:
		return false, w.terminate(ctx, pod, state)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		// Terminal: nothing may run again. Stop what runs and release the
		// network; containers stay for their logs until the pod is deleted.
		w.killContainers(ctx, state, pod, gracePeriod(pod))
		w.stopSandboxes(ctx, state)
		return false, w.k.syncMirror(ctx, pod)
	}
	if s, ok := w.k.admission.stopFor(pod.UID); ok {
		return false, w.failPod(ctx, pod, state, s)
	}
	if s := w.k.admit(pod, len(state.sandboxes) > 0); s != nil {
		w.k.admission.order(pod.UID, *s)
		w.k.recorder.Event(pod, corev1.EventTypeWarning, s.reason, s.message)
		return false, w.failPod(ctx, pod, state, *s)
	}
	if w.startTime.IsZero() {
		w.startTime = metav1.NewTime(w.k.clock.Now())
		if pod.Status.StartTime != nil {
			w.startTime = *pod.Status.StartTime
		}
	}
	// Containers run with their allocated resources, which a resize
	// changes only once accepted (resize.go).
	w.loadAllocation(pod)
	resizeRequeue := w.decideResize(pod)
	alloc := w.allocatedPod(pod)
	requeue = w.syncRunning(ctx, alloc, state)
	if state, err = w.runtimeState(ctx); err != nil {
		return false, retryDelay
	}
	w.actuateResize(ctx, alloc, state)
	if resizeRequeue > 0 && (requeue == 0 || resizeRequeue < requeue) {
		requeue = resizeRequeue
	}
	if w.probes != nil {
		alive := map[string]bool{}
		for _, h := range state.containers {
			for _, c := range h {
				if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
					alive[c.Id] = true
				}
			}
		}
		w.probes.forget(alive)
		if sb := state.sandboxStatus; sb != nil {
			ip := sb.GetNetwork().GetIp()
			if pod.Spec.HostNetwork {
				ip = w.k.cfg.NodeIP.String()
			}
			w.probes.podIP.Store(ip)
		}
	}
	if err := w.postStatus(ctx, pod, w.podStatus(pod, state)); err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			w.log.Warn("posting pod status", "err", err)
		}
		return false, retryDelay
	}
	if w.probes != nil {
		if d := w.probes.nextRequeue(); d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	if podHasRefreshedVolumes(pod) && (requeue == 0 || requeue > volumeResync) {
		requeue = volumeResync
	}
	if d := w.k.syncMirror(ctx, pod); d > 0 && (requeue == 0 || d < requeue) {
		requeue = d
	}
	return false, requeue
}

// syncRunning brings a live pod's sandbox and containers to its spec and
// returns when to look again (0: only on a change).
func (w *podWorker) syncRunning(ctx context.Context, pod *corev1.Pod, state *podRuntime) time.Duration {
	sandbox := state.readySandbox()
	if sandbox == nil {
		// Containers in a dead sandbox cannot go on: stop them.
		w.killContainers(ctx, state, pod, gracePeriod(pod))
		if len(state.sandboxes) > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && state.anyStarted(pod) {
			// The pod ran once and may not run again: its status turns
			// terminal from the containers' exits.
			return 0
		}
		var err error
		if sandbox, err = w.createSandbox(ctx, pod, state); err != nil {
			w.sandboxErr = err
			w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			return retryDelay
		}
		w.sandboxErr = nil
		if state, err = w.runtimeState(ctx); err != nil {
			return retryDelay
		}
	}
	if w.k.clock.Since(w.volumesAt) >= volumeResync {
		if err := w.setUpVolumes(ctx, pod); err != nil {
			w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
			w.setWaitingAll(pod, "ContainerCreating", "")
			return retryDelay
		}
		w.volumesAt = w.k.clock.Now()
	}
	w.removeStaleContainers(ctx, state, sandbox.Id)
	if appsDone(pod, state, sandbox.Id) {
		// As upstream: once every app container has exited for good, the
		// sidecars are stopped rather than restarted, and their exits
		// make the phase terminal.
		for i := range pod.Spec.InitContainers {
			if isSidecar(&pod.Spec.InitContainers[i]) {
				delete(w.waiting, pod.Spec.InitContainers[i].Name)
			}
		}
		w.killContainers(ctx, state, pod, gracePeriod(pod))
		return 0
	}
	// As upstream, ephemeral containers start before init containers, so
	// a pod stuck initializing can be debugged.
	ephemeralRequeue := w.syncEphemeralContainers(ctx, pod, state, sandbox)
	requeue, initDone := w.syncInitContainers(ctx, pod, state, sandbox)
	if ephemeralRequeue > 0 && (requeue == 0 || ephemeralRequeue < requeue) {
		requeue = ephemeralRequeue
	}
	if !initDone {
		return requeue
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if d := w.syncContainer(ctx, pod, state, sandbox, c, pod.Spec.RestartPolicy); d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	return requeue
}

// syncInitContainers syncs the init containers initSteps picks and
// reports whether app containers may run.
func (w *podWorker) syncInitContainers(ctx context.Context, pod *corev1.Pod, state *podRuntime, sandbox *runtimeapi.PodSandbox) (time.Duration, bool) {
	started := func(id string) bool { return w.probes == nil || w.probes.started(id) }
	steps, initDone := initSteps(pod, state, sandbox.Id, started)
	var requeue time.Duration
	for _, i := range steps {
		c := &pod.Spec.InitContainers[i]
		policy := corev1.RestartPolicyAlways
		if !isSidecar(c) {
			policy = pod.Spec.RestartPolicy
			if policy == corev1.RestartPolicyAlways {
				policy = corev1.RestartPolicyOnFailure // init containers never restart after success
			}
		}
		if d := w.syncContainer(ctx, pod, state, sandbox, c, policy); d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	return requeue, initDone
}

// initSteps decides, from the runtime state, which init containers (by
// index) to sync now, and whether initialization is done so app
// containers may run. Init containers run one at a time in order: a
// regular one must exit 0 before the next starts; a restartable one
// (sidecar) must be running and started, its startup probe passed, as
// started reports. Once an app container ran in the sandbox the pod is
// initialized for good: regular init containers never run again, and
// sidecars that exit are restarted on their own without holding anything
// back. Sidecars are always synced (started, restarted, liveness-checked).
func initSteps(pod *corev1.Pod, state *podRuntime, sandboxID string, started func(id string) bool) (steps []int, initDone bool) {
	initialized := state.appStartedIn(pod, sandboxID)
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := state.latest(c.Name)
		if isSidecar(c) {
			steps = append(steps, i)
			if initialized || (cur != nil && cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING && started(cur.Id)) {
				continue
			}
			return steps, false
		}
		switch {
		case initialized:
			continue
		case cur != nil && cur.State == runtimeapi.ContainerState_CONTAINER_EXITED && cur.ExitCode == 0:
			continue // done
		case cur != nil && cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			return steps, false // wait for its exit (the relist wakes us)
		}
		return append(steps, i), false
	}
	return steps, true
}

// appsDone reports whether every app container ran in the sandbox and
// exited for good: the restart policy restarts none of them.
func appsDone(pod *corev1.Pod, state *podRuntime, sandboxID string) bool {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || !state.appStartedIn(pod, sandboxID) {
		return false
	}
	for _, c := range pod.Spec.Containers {
		cur := state.latest(c.Name)
		if cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			return false
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && cur.ExitCode != 0 {
			return false
		}
	}
	return true
}

// syncContainer starts c if it never ran, or restarts it after an exit as
// policy says, with back-off. It returns when to look again.
func (w *podWorker) syncContainer(ctx context.Context, pod *corev1.Pod, state *podRuntime, sandbox *runtimeapi.PodSandbox, c *corev1.Container, policy corev1.RestartPolicy) time.Duration {
	cur := state.latest(c.Name)
	attempt := uint32(0)
	if cur != nil {
		switch cur.State {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			if w.probes != nil && w.probes.livenessFailed(cur.Id) {
				w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s failed liveness probe, will be restarted", c.Name)
				w.stopContainer(ctx, cur.Id, gracePeriod(pod))
				return time.Millisecond // look again at once: it has exited
			}
			delete(w.waiting, c.Name)
			// Adopted after an agent restart: its probes start again.
			w.startProbes(pod, c, cur.Id)
			return 0
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			// Created but never started (an agent crash between the two
			// calls): remove it and create again.
			_, _ = w.k.cfg.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: cur.Id})
			attempt = cur.Metadata.GetAttempt()
		default: // exited
			restart := policy == corev1.RestartPolicyAlways ||
				(policy == corev1.RestartPolicyOnFailure && cur.ExitCode != 0)
			if !restart {
				delete(w.waiting, c.Name)
				return 0
			}
			finished := time.Unix(0, cur.FinishedAt)
			now := w.k.clock.Now()
			if held, delay := w.backoff.waiting(c.Name, finished, now); held {
				w.waiting[c.Name] = corev1.ContainerStateWaiting{
					Reason: "CrashLoopBackOff",
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
						delay, c.Name, pod.Name, pod.Namespace, pod.UID),
				}
				w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
				return w.backoff.retryAt(c.Name, finished).Sub(now) + 10*time.Millisecond
			}
			w.backoff.next(c.Name, now)
			attempt = cur.Metadata.GetAttempt() + 1
		}
	}
	return w.startContainer(ctx, pod, sandbox, c, attempt, "")
}

// terminate stops a pod being deleted: its containers get SIGTERM and,
// after the grace period, SIGKILL; its sandbox is stopped; the final
// status is posted; then the pod is deleted from the API with grace 0,
// which removes it for good (the informer's delete event brings the
// worker back to remove what is left in the runtime).
func (w *podWorker) terminate(ctx context.Context, pod *corev1.Pod, state *podRuntime) time.Duration {
	if w.deleteRequested {
		return retryDelay
	}
	w.killContainers(ctx, state, pod, gracePeriod(pod))
	w.stopSandboxes(ctx, state)
	if st, err := w.runtimeState(ctx); err == nil {
		status := w.podStatus(pod, st)
		status.Phase = terminalPhase(pod, status)
		if err := w.postStatus(ctx, pod, status); err != nil && !apierrors.IsNotFound(err) {
			w.log.Warn("posting final pod status", "err", err)
		}
	}
	err := w.k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.log.Warn("deleting the terminated pod", "err", err)
		return retryDelay
	}
	w.deleteRequested = true
	return retryDelay
}

// killContainers stops every running container of the pod in parallel
// with grace seconds for each (app containers first in upstream; here all
// together, which is what a grace period allows), running preStop hooks
// first when pod is known.
func (w *podWorker) killContainers(ctx context.Context, state *podRuntime, pod *corev1.Pod, grace int64) {
	var wg sync.WaitGroup
	for name, hist := range state.containers {
		for _, c := range hist {
			if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING && c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
				continue
			}
			wg.Add(1)
			go func(name, id string) {
				defer wg.Done()
				g := grace
				if pod != nil {
					if spec := findContainer(pod, name); spec != nil {
						w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
						g = w.runPreStop(ctx, pod, spec, id, grace)
					}
				}
				w.stopContainer(ctx, id, g)
			}(name, c.Id)
		}
	}
	wg.Wait()
}

// stopContainer asks the runtime to stop id: the image's stop signal
// (SIGTERM), then SIGKILL after grace seconds.
func (w *podWorker) stopContainer(ctx context.Context, id string, grace int64) {
	if _, err := w.k.cfg.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace}); err != nil && ctx.Err() == nil {
		w.log.Warn("stopping a container", "id", id, "err", err)
	}
}

func (w *podWorker) stopSandboxes(ctx context.Context, state *podRuntime) {
	for _, s := range state.sandboxes {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if _, err := w.k.cfg.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil && ctx.Err() == nil {
				w.log.Warn("stopping the sandbox", "err", err)
			}
		}
	}
}

// removeAll removes every sandbox and container of the pod from the
// runtime, then its directories, mounts and cgroups.
func (w *podWorker) removeAll(ctx context.Context) error {
	state, err := w.runtimeState(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, hist := range state.containers {
		for _, c := range hist {
			if _, err := w.k.cfg.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, s := range state.sandboxes {
		if _, err := w.k.cfg.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := w.k.cfg.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := w.tearDownVolumes(); err != nil {
		return err
	}
	removeCgroups(w.k.cfg.CgroupRoot, string(w.uid))
	return nil
}

// removeStaleContainers removes exited containers beyond the newest two of
// each name (the current one and the previous, for lastState), and stops
// containers still running in an older sandbox.
func (w *podWorker) removeStaleContainers(ctx context.Context, state *podRuntime, sandboxID string) {
	for _, hist := range state.containers {
		for i, c := range hist {
			if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING && state.sandboxOf[c.Id] != sandboxID {
				w.stopContainer(ctx, c.Id, 0)
				continue
			}
			if i >= 2 && c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				_, _ = w.k.cfg.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id})
			}
		}
	}
	// Older sandboxes that are not ready hold nothing we need.
	for _, s := range state.sandboxes {
		if s.Id != sandboxID && s.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			_, _ = w.k.cfg.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
		}
	}
}

// postStatus writes status to the API if it differs from the cached pod's.
func (w *podWorker) postStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	if w.k.static.has(pod.UID) {
		// A static pod's status lives on its mirror pod.
		if pod = w.k.mirrorOf(pod); pod == nil {
			return nil
		}
	}
	if apiequality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = status
	_, err := w.k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// The cache is behind: read the pod and try once more.
		fresh, gerr := w.k.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != pod.UID {
			return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
		}
		if p := fresh.Status.Phase; (p == corev1.PodFailed || p == corev1.PodSucceeded) && status.Phase != p {
			return nil // terminal (evicted, rejected) meanwhile: never undone
		}
		fresh.Status = status
		_, err = w.k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	return err
}

// setWaitingAll marks every container not yet created as waiting.
func (w *podWorker) setWaitingAll(pod *corev1.Pod, reason, message string) {
	for _, c := range allContainers(pod) {
		if _, ok := w.waiting[c.Name]; !ok {
			w.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: reason, Message: message}
		}
	}
}

// gracePeriod is the pod's deletion grace period, or its spec's.
func gracePeriod(pod *corev1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

// podRuntime is the runtime's state of one pod.
type podRuntime struct {
	// sandboxes, newest first.
	sandboxes []*runtimeapi.PodSandbox
	// sandboxStatus is the status of the newest ready sandbox, if any.
	sandboxStatus *runtimeapi.PodSandboxStatus
	// containers holds each container name's instances, newest first.
	containers map[string][]*runtimeapi.ContainerStatus
	// sandboxOf maps a container ID to its sandbox ID.
	sandboxOf map[string]string
}

func (s *podRuntime) readySandbox() *runtimeapi.PodSandbox {
	for _, sb := range s.sandboxes {
		if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			return sb
		}
	}
	return nil
}

func (s *podRuntime) latest(name string) *runtimeapi.ContainerStatus {
	if h := s.containers[name]; len(h) > 0 {
		return h[0]
	}
	return nil
}

// appStartedIn reports whether an app container of the pod was created
// in sandbox sandboxID: the pod then has been initialized (upstream's
// HasAnyActiveRegularContainerStarted).
func (s *podRuntime) appStartedIn(pod *corev1.Pod, sandboxID string) bool {
	for _, c := range pod.Spec.Containers {
		for _, cs := range s.containers[c.Name] {
			if s.sandboxOf[cs.Id] == sandboxID {
				return true
			}
		}
	}
	return false
}

func (s *podRuntime) anyStarted(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if s.latest(c.Name) != nil {
			return true
		}
	}
	return false
}

// runtimeState reads the pod's sandboxes and containers from the runtime.
func (w *podWorker) runtimeState(ctx context.Context) (*podRuntime, error) {
	rt := w.k.cfg.Runtime
	sel := map[string]string{labelPodUID: string(w.uid), labelManagedBy: managedByValue}
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	cs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	st := &podRuntime{
		sandboxes:  sbs.Items,
		containers: map[string][]*runtimeapi.ContainerStatus{},
		sandboxOf:  map[string]string{},
	}
	sort.Slice(st.sandboxes, func(i, j int) bool { return st.sandboxes[i].CreatedAt > st.sandboxes[j].CreatedAt })
	if sb := st.readySandbox(); sb != nil {
		resp, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.Id})
		if err != nil {
			return nil, err
		}
		st.sandboxStatus = resp.Status
	}
	for _, c := range cs.Containers {
		resp, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
		if err != nil {
			if strings.Contains(err.Error(), "not found") {
				continue // removed meanwhile
			}
			return nil, err
		}
		name := c.Labels[labelContainer]
		st.containers[name] = append(st.containers[name], resp.Status)
		st.sandboxOf[c.Id] = c.PodSandboxId
	}
	for _, h := range st.containers {
		sort.Slice(h, func(i, j int) bool { return h[i].CreatedAt > h[j].CreatedAt })
	}
	return st, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, c := range allContainers(pod) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// allContainers returns pointers to the init then app containers.
func allContainers(pod *corev1.Pod) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		out = append(out, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// removeCgroups removes the pod's cgroup directories, which containerd
// leaves behind, from every cgroup v1 hierarchy and the unified one.
func removeCgroups(root, uid string) {
	mounts, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return
	}
	for _, qos := range []string{"", "burstable", "besteffort"} {
		rel := strings.TrimSuffix(root, "/") + "/" + qos + "/pod" + uid
		rel = strings.ReplaceAll(rel, "//", "/")
		_ = os.Remove("/sys/fs/cgroup" + rel) // cgroup v2
		for _, m := range mounts {
			_ = os.Remove("/sys/fs/cgroup/" + m.Name() + rel)
		}
	}
}
