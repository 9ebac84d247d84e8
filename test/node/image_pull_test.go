package node

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// waitingReason is waitPod's condition for container c waiting with reason.
func waitingReason(c, reason string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		s := containerStatus(p, c)
		return s != nil && s.State.Waiting != nil && s.State.Waiting.Reason == reason
	}
}

// TestImagePullFailureBacksOff: an image no registry serves (none is
// reachable here) leaves the container waiting with ErrImagePull, then
// ImagePullBackOff with upstream's message wrapping the pull error, then
// ErrImagePull again when the back-off has passed and the pull is tried
// again. The pod stays Pending and unready, no container is created, and
// deleting the pod removes its sandbox.
func TestImagePullFailureBacksOff(t *testing.T) {
	const image = "registry.invalid/nothing:1"
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	pod := applyPod(t, ns, "unpullable", `  containers:
  - name: c
    image: `+image+`
    imagePullPolicy: IfNotPresent
`)
	pod = waitPod(t, ns, "unpullable", "waiting with ErrImagePull", waitingReason("c", "ErrImagePull"))
	pullErr := containerStatus(pod, "c").State.Waiting.Message
	if !strings.Contains(pullErr, image) {
		t.Errorf("ErrImagePull message = %q; want the pull error, naming %s", pullErr, image)
	}

	pod = waitPod(t, ns, "unpullable", "waiting with ImagePullBackOff", waitingReason("c", "ImagePullBackOff"))
	want := fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", image, pullErr)
	if got := containerStatus(pod, "c").State.Waiting.Message; got != want {
		t.Errorf("ImagePullBackOff message = %q; want %q", got, want)
	}
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s; want Pending", pod.Status.Phase)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		var got *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == ct {
				got = &pod.Status.Conditions[i]
			}
		}
		if got == nil || got.Status != corev1.ConditionFalse || got.Reason != "ContainersNotReady" || got.Message != "containers with unready status: [c]" {
			t.Errorf("condition %s = %+v; want False, ContainersNotReady, containers with unready status: [c]", ct, got)
		}
	}
	sandboxes, containers := runtimeObjects(t, pod.UID)
	if len(sandboxes) != 1 || len(containers) != 0 {
		t.Errorf("runtime holds sandboxes %v, containers %v; want one sandbox and no container", sandboxes, containers)
	}

	// After the back-off (10 s at first) the image is pulled again.
	waitPod(t, ns, "unpullable", "pulled again after the back-off", waitingReason("c", "ErrImagePull"))

	// The events upstream records along the way.
	events, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", string(pod.UID)).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events.Items {
		msg := e.Message
		if strings.HasPrefix(msg, fmt.Sprintf("Failed to pull image %q: ", image)) {
			msg = fmt.Sprintf("Failed to pull image %q: ...", image)
		}
		seen[e.Type+" "+e.Reason+" "+msg] = true
	}
	for _, w := range []string{
		fmt.Sprintf("Normal Pulling Pulling image %q", image),
		fmt.Sprintf("Warning Failed Failed to pull image %q: ...", image),
		"Warning Failed Error: ErrImagePull",
		fmt.Sprintf("Normal BackOff Back-off pulling image %q", image),
		"Warning Failed Error: ImagePullBackOff",
	} {
		if !seen[w] {
			t.Errorf("no event %q; have %v", w, seen)
		}
	}
	deletePod(t, ns, pod)
}
