package node

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Ephemeral containers and in-place resize, as a user meets them:
// `kubectl debug -it POD --target=C` and `kubectl patch --subresource
// resize`.

// TestKubectlDebugTarget runs `kubectl debug -it --target=app` with
// kubectl 1.32 and 1.33 (under script(1), so kubectl has a terminal) and
// checks that the debug container sees the target's processes: it runs
// in the target's process namespace. The ephemeral containers are
// reported, never restarted, and the pod stays ready.
func TestKubectlDebugTarget(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "debuggee", `  containers:
  - name: app
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3601"]
`)
	waitPod(t, ns, "debuggee", "running", running)
	for _, v := range []string{"1.32", "1.33"} {
		bin := kubectlBin(t, v)
		t.Run(v, func(t *testing.T) {
			name := "debugger-" + strings.ReplaceAll(v, ".", "-")
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			// script gives kubectl a terminal; the shell's input is
			// typed once the container is attached.
			line := bin + " -n " + ns + " debug -it debuggee --image=" + BusyboxImage +
				" --target=app --container=" + name + " -- sh"
			cmd := kubectlCmd(ctx, "script", "-qec", line, "/dev/null")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				// Type once the shell is attached: its prompt shows up.
				deadline := time.Now().Add(commandTimeout)
				for time.Now().Before(deadline) && !strings.Contains(out.String(), "# ") {
					time.Sleep(200 * time.Millisecond)
				}
				_, _ = stdin.Write([]byte("ps; echo done-$((40+2))\r"))
				for time.Now().Before(deadline) && !strings.Contains(out.String(), "done-42") {
					time.Sleep(200 * time.Millisecond)
				}
				_, _ = stdin.Write([]byte("exit\r"))
				stdin.Close()
			}()
			err = cmd.Wait()
			got := out.String()
			if err != nil {
				t.Fatalf("kubectl debug: %v\n%s", err, got)
			}
			if !strings.Contains(got, "done-42") || !strings.Contains(got, "sleep 3601") {
				t.Errorf("the debug shell does not see the target's sleep 3601; output:\n%s", got)
			}
			pod := waitPod(t, ns, "debuggee", name+" exited", func(p *corev1.Pod) bool {
				for _, s := range p.Status.EphemeralContainerStatuses {
					if s.Name == name && s.State.Terminated != nil {
						return true
					}
				}
				return false
			})
			for _, s := range pod.Status.EphemeralContainerStatuses {
				if s.Name == name && (s.RestartCount != 0 || s.Ready) {
					t.Errorf("ephemeral status %+v; want never restarted, not ready", s)
				}
			}
			if !podReady(pod) {
				t.Errorf("pod not ready after debugging: %+v", pod.Status.Conditions)
			}
		})
	}
	// Only additions: an ephemeral container cannot be changed.
	out, err := kubectlTry("-n", ns, "patch", "pod", "debuggee", "--subresource", "ephemeralcontainers", "--type", "json",
		"-p", `[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"other"}]`)
	if err == nil || !strings.Contains(err.Error(), "may not be changed") {
		t.Errorf("changing an ephemeral container: %v %s; want it refused", err, out)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestResizeInPlace raises a running container's memory limit through
// pods/resize: the container's cgroup gets the new limit without a
// restart and the status reports it. A resize the node cannot hold is
// reported Infeasible and changes nothing.
func TestResizeInPlace(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "resizable", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {cpu: 500m, memory: 64Mi}
`)
	pod := waitPod(t, ns, "resizable", "running", running)
	qty := func(l corev1.ResourceList, name corev1.ResourceName) string {
		q, ok := l[name]
		if !ok {
			return ""
		}
		return q.String()
	}
	cs := containerStatus(pod, "c")
	if cs.Resources == nil || qty(cs.Resources.Limits, corev1.ResourceMemory) != "64Mi" || qty(cs.Resources.Requests, corev1.ResourceCPU) != "100m" {
		t.Fatalf("status resources = %+v; want the spec's", cs.Resources)
	}
	if qty(cs.AllocatedResources, corev1.ResourceMemory) != "32Mi" {
		t.Errorf("allocatedResources = %v; want the requests", cs.AllocatedResources)
	}
	limit := "memory/memory.limit_in_bytes"
	if got := cgroupFiles(t, ns, "resizable", "c", limit)[limit]; got != "67108864" {
		t.Fatalf("memory limit before = %s; want 67108864", got)
	}

	kubectl(t, "", "-n", ns, "patch", "pod", "resizable", "--subresource", "resize",
		"-p", `{"spec":{"containers":[{"name":"c","resources":{"limits":{"memory":"128Mi"}}}]}}`)
	pod = waitPod(t, ns, "resizable", "resized", func(p *corev1.Pod) bool {
		s := containerStatus(p, "c")
		return s != nil && s.Resources != nil && qty(s.Resources.Limits, corev1.ResourceMemory) == "128Mi" &&
			podCondition(p, corev1.PodResizeInProgress) == nil && podCondition(p, corev1.PodResizePending) == nil
	})
	if got := cgroupFiles(t, ns, "resizable", "c", limit)[limit]; got != "134217728" {
		t.Errorf("memory limit after = %s; want 134217728", got)
	}
	if cs := containerStatus(pod, "c"); cs.RestartCount != 0 {
		t.Errorf("restartCount = %d; want 0 (resized in place)", cs.RestartCount)
	}
	if pod.Status.ObservedGeneration != pod.Generation || pod.Generation < 2 {
		t.Errorf("observedGeneration %d, generation %d; want equal, after the resize's bump", pod.Status.ObservedGeneration, pod.Generation)
	}

	// More memory than the machine has.
	huge := resource.NewQuantity(1<<50, resource.BinarySI).String()
	kubectl(t, "", "-n", ns, "patch", "pod", "resizable", "--subresource", "resize",
		"-p", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"memory":"`+huge+`"},"limits":{"memory":"`+huge+`"}}}]}}`)
	pod = waitPod(t, ns, "resizable", "infeasible", func(p *corev1.Pod) bool {
		c := podCondition(p, corev1.PodResizePending)
		return c != nil && c.Reason == corev1.PodReasonInfeasible
	})
	if c := podCondition(pod, corev1.PodResizePending); !strings.HasPrefix(c.Message, "Node didn't have enough capacity: memory, requested: ") {
		t.Errorf("PodResizePending message = %q; want upstream's", c.Message)
	}
	if got := qty(containerStatus(pod, "c").Resources.Limits, corev1.ResourceMemory); got != "128Mi" {
		t.Errorf("status limit after an infeasible resize = %s; want 128Mi still", got)
	}

	// Upstream's validation: the QoS class may not change.
	out, err := kubectlTry("-n", ns, "patch", "pod", "resizable", "--subresource", "resize",
		"-p", `{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"500m","memory":"128Mi"},"limits":{"memory":"128Mi"}}}]}}`)
	if err == nil || !strings.Contains(err.Error(), "Pod QOS Class may not change as a result of resizing") {
		t.Errorf("resize to Guaranteed: %v %s; want it refused", err, out)
	}
	// Its spec asks for more than the node has: the scheduler would see
	// the node full (as upstream's), so it goes before other tests run.
	deletePod(t, ns, pod)
}
