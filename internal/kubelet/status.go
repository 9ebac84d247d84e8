package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Termination message limits, as upstream.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
)

// podStatus computes the pod's status from the runtime state and what the
// worker knows (waiting reasons, probe results), keeping what the agent
// does not own (other conditions, nominatedNodeName) from the current
// status.
func (w *podWorker) podStatus(pod *corev1.Pod, state *podRuntime) corev1.PodStatus {
	old := pod.Status
	now := metav1.NewTime(w.k.clock.Now())
	hostIP := w.k.cfg.NodeIP.String()
	st := corev1.PodStatus{
		HostIP:                hostIP,
		HostIPs:               []corev1.HostIP{{IP: hostIP}},
		StartTime:             old.StartTime,
		QOSClass:              old.QOSClass,
		NominatedNodeName:     old.NominatedNodeName,
		ObservedGeneration:    pod.Generation,
		Resize:                old.Resize,
		ResourceClaimStatuses: old.ResourceClaimStatuses,
	}
	if st.StartTime == nil && !w.startTime.IsZero() {
		st.StartTime = w.startTime.DeepCopy()
	}
	if st.QOSClass == "" {
		st.QOSClass = qosClass(pod)
	}
	networkReady := false
	if sb := state.sandboxStatus; sb != nil {
		networkReady = true
		if pod.Spec.HostNetwork {
			st.PodIP, st.PodIPs = hostIP, []corev1.PodIP{{IP: hostIP}}
		} else if n := sb.GetNetwork(); n != nil && n.Ip != "" {
			st.PodIP = n.Ip
			st.PodIPs = []corev1.PodIP{{IP: n.Ip}}
			for _, ip := range n.AdditionalIps {
				st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip.Ip})
			}
		}
	} else if pod.Status.PodIP != "" && len(state.sandboxes) > 0 {
		// A stopped sandbox of a finished pod: keep the address it had.
		st.PodIP, st.PodIPs = old.PodIP, old.PodIPs
	}

	// Once an app container ran in the newest sandbox the pod stays
	// initialized, whatever its init containers do since (a sidecar
	// restarting, an init container's record removed).
	initialized := len(state.sandboxes) > 0 && state.appStartedIn(pod, state.sandboxes[0].Id)
	var incompleteInit []string
	initPending := false
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := w.containerStatus(pod, c, state, initPending)
		done := cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
		if isSidecar(c) {
			done = cs.Started != nil && *cs.Started
		} else if done {
			cs.Ready = true // as upstream: a completed init container is ready
		}
		if !done && !initialized {
			incompleteInit = append(incompleteInit, c.Name)
			initPending = true
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	var unready []string
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := w.containerStatus(pod, c, state, initPending)
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	for i, c := range pod.Spec.InitContainers {
		if isSidecar(&c) && !st.InitContainerStatuses[i].Ready {
			unready = append(unready, c.Name)
		}
	}
	st.EphemeralContainerStatuses = w.ephemeralStatuses(pod, state)
	for i := range st.InitContainerStatuses {
		w.statusResources(&st.InitContainerStatuses[i], state)
	}
	for i := range st.ContainerStatuses {
		w.statusResources(&st.ContainerStatuses[i], state)
	}
	st.Phase = podPhase(pod, st.InitContainerStatuses, st.ContainerStatuses, initialized)

	cond := func(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now, ObservedGeneration: pod.Generation}
		if ok {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason, c.Message = reason, message
		}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	notReadyReason, notReadyMsg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	if st.Phase == corev1.PodSucceeded {
		notReadyReason, notReadyMsg = "PodCompleted", ""
	}
	containersReady := len(unready) == 0 && st.Phase != corev1.PodSucceeded
	ready := cond(corev1.PodReady, containersReady, notReadyReason, notReadyMsg)
	if containersReady {
		if missing := unmetReadinessGates(pod); missing != "" {
			ready = cond(corev1.PodReady, false, "ReadinessGatesNotReady", missing)
		}
	}
	initReason, initMsg := "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incompleteInit, " "))
	if st.Phase == corev1.PodSucceeded && len(incompleteInit) == 0 {
		initReason = "PodCompleted"
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, networkReady, "", ""),
		cond(corev1.PodInitialized, len(incompleteInit) == 0, initReason, initMsg),
		ready,
		cond(corev1.ContainersReady, containersReady, notReadyReason, notReadyMsg),
	}
	scheduled := false
	for _, o := range old.Conditions {
		switch o.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady,
			corev1.PodResizePending, corev1.PodResizeInProgress:
		case corev1.PodScheduled:
			scheduled = true
			st.Conditions = append(st.Conditions, o)
		default:
			st.Conditions = append(st.Conditions, o)
		}
	}
	if !scheduled {
		st.Conditions = append(st.Conditions, cond(corev1.PodScheduled, true, "", ""))
	}
	st.Conditions = append(st.Conditions, w.resizeConditions(pod, state, old.Conditions, now)...)
	return st
}

// unmetReadinessGates explains the first readiness gate whose condition
// is not True, or returns "".
func unmetReadinessGates(pod *corev1.Pod) string {
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				found = true
				if c.Status != corev1.ConditionTrue {
					return fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %s", g.ConditionType, c.Status)
				}
			}
		}
		if !found {
			return fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType)
		}
	}
	return ""
}

// containerStatus reports container c. initPending says an init container
// before it has not finished (app containers then wait PodInitializing).
func (w *podWorker) containerStatus(pod *corev1.Pod, c *corev1.Container, state *podRuntime, initPending bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	hist := state.containers[c.Name]
	if len(hist) == 0 {
		wt, ok := w.waiting[c.Name]
		if !ok {
			wt = corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
			if initPending {
				wt.Reason = "PodInitializing"
			}
		}
		cs.State.Waiting = &wt
		return cs
	}
	cur := hist[0]
	cs.ContainerID = w.k.runtimeName + "://" + cur.Id
	cs.ImageID = cur.ImageRef
	if img := cur.GetImage().GetImage(); img != "" && !strings.HasPrefix(img, "sha256:") {
		cs.Image = img
	}
	cs.RestartCount = int32(cur.GetMetadata().GetAttempt())
	var previous *corev1.ContainerStateTerminated
	if len(hist) > 1 {
		previous = w.terminated(c, hist[1])
	}
	switch cur.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Unix(0, cur.StartedAt))}
		started, ready := true, true
		if w.probes != nil {
			started, ready = w.probes.started(cur.Id), w.probes.ready(cur.Id)
		} else if c.ReadinessProbe != nil || c.StartupProbe != nil {
			started, ready = c.StartupProbe == nil, false
		}
		cs.Started, cs.Ready = &started, ready && started
		if previous != nil {
			cs.LastTerminationState.Terminated = previous
		}
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		if previous != nil {
			cs.LastTerminationState.Terminated = previous
		}
	default:
		term := w.terminated(c, cur)
		if wt, ok := w.waiting[c.Name]; ok {
			cs.State.Waiting = &wt
			cs.LastTerminationState.Terminated = term
		} else {
			cs.State.Terminated = term
			if previous != nil {
				cs.LastTerminationState.Terminated = previous
			}
		}
	}
	return cs
}

// terminated describes an exited container, with its termination message.
func (w *podWorker) terminated(c *corev1.Container, s *runtimeapi.ContainerStatus) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode:    s.ExitCode,
		Reason:      s.Reason,
		StartedAt:   metav1.NewTime(time.Unix(0, s.StartedAt)),
		FinishedAt:  metav1.NewTime(time.Unix(0, s.FinishedAt)),
		ContainerID: w.k.runtimeName + "://" + s.Id,
	}
	if s.StartedAt == 0 {
		t.StartedAt = metav1.Time{}
	}
	if t.Reason == "" {
		t.Reason = "Completed"
		if t.ExitCode != 0 {
			t.Reason = "Error"
		}
	}
	if path := s.Annotations[annotationTerminationLog]; path != "" {
		if b, err := os.ReadFile(path); err == nil {
			if len(b) > maxTerminationMessage {
				b = b[:maxTerminationMessage]
			}
			t.Message = string(b)
		}
	}
	if t.Message == "" && t.ExitCode != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		t.Message = tailLog(s.LogPath)
	}
	if t.Message == "" {
		t.Message = s.Message
	}
	return t
}

// tailLog returns the end of a CRI log file's messages (at most 80 lines
// and 2048 bytes), as upstream's FallbackToLogsOnError does.
func tailLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// CRI log line: TIMESTAMP STREAM TAG MESSAGE
		parts := strings.SplitN(sc.Text(), " ", 4)
		if len(parts) < 4 {
			continue
		}
		msg := parts[3]
		if parts[2] == "F" {
			msg += "\n"
		}
		lines = append(lines, msg)
	}
	if len(lines) > fallbackLogLines {
		lines = lines[len(lines)-fallbackLogLines:]
	}
	out := strings.Join(lines, "")
	if len(out) > fallbackLogBytes {
		out = out[len(out)-fallbackLogBytes:]
	}
	return out
}

// podPhase derives the phase from container statuses, with upstream's
// rules: a regular init container that failed under restartPolicy Never
// fails the pod; one not yet done, a sidecar not yet running and started
// (before the pod was initialized), or any container that never ran keeps
// it Pending; any running container (sidecars included) makes it Running;
// when all stopped, the restart policy decides between Running, Succeeded
// and Failed. Exited sidecars do not count: the pod completes by its app
// containers once the sidecars are stopped. initialized says an app
// container already ran in the current sandbox.
func podPhase(pod *corev1.Pod, initStatuses, statuses []corev1.ContainerStatus, initialized bool) corev1.PodPhase {
	var pendingInit, pendingSidecars, failedInit int
	var running, waiting, stopped, succeeded int
	for i, s := range initStatuses {
		c := &pod.Spec.InitContainers[i]
		last := s.LastTerminationState.Terminated
		if isSidecar(c) {
			switch {
			case s.State.Running != nil:
				if s.Started == nil || !*s.Started {
					pendingSidecars++
				}
				running++
			case s.State.Terminated != nil, s.State.Waiting != nil && last != nil:
				// Exited: not taken into account.
			default:
				pendingSidecars++
				waiting++
			}
			continue
		}
		switch {
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil && last != nil:
			if last.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			stopped++
			if s.LastTerminationState.Terminated.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0, pendingSidecars > 0 && !initialized, waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch pod.Spec.RestartPolicy {
		case corev1.RestartPolicyAlways:
			return corev1.PodRunning
		case corev1.RestartPolicyOnFailure:
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodRunning
		default:
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
	}
	return corev1.PodPending
}

// terminalPhase is the phase of a pod whose containers were stopped for
// deletion: Succeeded if every app container exited 0, else Failed.
func terminalPhase(pod *corev1.Pod, st corev1.PodStatus) corev1.PodPhase {
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		return st.Phase
	}
	for _, s := range st.ContainerStatuses {
		t := s.State.Terminated
		if t == nil || t.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// qosClass computes the pod's QoS class from its containers' requests and
// limits: Guaranteed when every container limits CPU and memory with equal
// requests, BestEffort when none sets any, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	any, guaranteed := false, true
	for _, c := range allContainers(pod) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if (hasReq && !req.IsZero()) || (hasLim && !lim.IsZero()) {
				any = true
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// memoryOf returns a container's memory limit or 0.
func memoryOf(l corev1.ResourceList) int64 {
	if q, ok := l[corev1.ResourceMemory]; ok {
		return q.Value()
	}
	return 0
}

// milliCPU returns the CPU quantity in millicores or 0.
func milliCPU(l corev1.ResourceList) int64 {
	if q, ok := l[corev1.ResourceCPU]; ok {
		return q.MilliValue()
	}
	return 0
}
