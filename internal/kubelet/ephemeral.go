package kubelet

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Ephemeral containers (pods/ephemeralcontainers, `kubectl debug`) run in
// the pod's sandbox as upstream runs them: each is started once, as soon
// as the pod has a sandbox (before init containers, so a pod stuck
// initializing can be debugged), and never restarted, whatever its exit
// or the pod's restart policy. One with a targetContainerName joins that
// container's process namespace (CRI NamespaceMode TARGET), so it sees
// the target's processes; it waits while the target is not running.
// They count for neither the pod's phase nor its readiness; their status
// is status.ephemeralContainerStatuses.

// syncEphemeralContainers starts the ephemeral containers that never ran
// and returns when to look again.
func (w *podWorker) syncEphemeralContainers(ctx context.Context, pod *corev1.Pod, state *podRuntime, sandbox *runtimeapi.PodSandbox) time.Duration {
	var requeue time.Duration
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		if state.latest(ec.Name) != nil {
			continue // started once: never again
		}
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		target := ""
		if name := ec.TargetContainerName; name != "" {
			cur := state.latest(name)
			if cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				w.waiting[c.Name] = corev1.ContainerStateWaiting{
					Reason:  reasonCreateConfigError,
					Message: fmt.Sprintf("target container %q is not running", name),
				}
				requeue = retryDelay
				continue
			}
			target = cur.Id
		}
		if d := w.startContainer(ctx, pod, sandbox, c, 0, target); d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	return requeue
}

// ephemeralStatuses reports the pod's ephemeral containers: never ready,
// and with no started flag (no probes run in them), as upstream.
func (w *podWorker) ephemeralStatuses(pod *corev1.Pod, state *podRuntime) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range pod.Spec.EphemeralContainers {
		c := (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		cs := w.containerStatus(pod, c, state, false)
		cs.Ready, cs.Started = false, nil
		out = append(out, cs)
	}
	return out
}
