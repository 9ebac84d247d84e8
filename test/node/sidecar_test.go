package node

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// buildGRPCHealth builds testdata/grpchealth, static, for the test image.
func buildGRPCHealth() ([]byte, error) {
	return testenv.BuildStatic("./testdata/grpchealth", filepath.Join(tmp, "grpc-health"))
}

// containerStatus returns the status of the init or app container name.
func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func isRunning(s *corev1.ContainerStatus) bool { return s != nil && s.State.Running != nil }

func isStarted(s *corev1.ContainerStatus) bool {
	return isRunning(s) && s.Started != nil && *s.Started
}

// TestSidecarLifecycle follows a restartable init container (upstream's
// sidecar, 1.29+) through a long-running pod: it starts, and its startup
// probe passes, before the next init container runs; it keeps running
// next to the app; its readiness gates the pod's; and when it exits it is
// restarted while the app goes on and the pod stays Running and
// Initialized.
func TestSidecarLifecycle(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "sidecar", `  initContainers:
  - name: sidecar
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    restartPolicy: Always
    # The first start takes a while, so an init container run before
    # the startup probe passed would not see the mark.
    command: ["sh", "-c", "trap 'exit 0' TERM; [ -f /shared/sidecar-started ] || sleep 4; touch /shared/sidecar-started /tmp/ready; while [ ! -f /tmp/exit ]; do sleep 1; done; exit 3"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    startupProbe:
      exec: {command: ["test", "-f", "/shared/sidecar-started"]}
      periodSeconds: 1
      failureThreshold: 30
    readinessProbe:
      exec: {command: ["cat", "/tmp/ready"]}
      periodSeconds: 1
      failureThreshold: 1
  - name: init
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "if [ -f /shared/sidecar-started ]; then echo sidecar-started; else echo sidecar-not-started; fi > /shared/order"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  volumes:
  - name: shared
    emptyDir: {}
`)
	pod = waitPod(t, ns, "sidecar", "Running and Ready", readyAndRunning)
	sidecar, init, app := containerStatus(pod, "sidecar"), containerStatus(pod, "init"), containerStatus(pod, "app")
	if !isStarted(sidecar) || !sidecar.Ready || sidecar.RestartCount != 0 {
		t.Errorf("sidecar status = %+v; want running, started and ready", sidecar)
	}
	if init == nil || init.State.Terminated == nil || init.State.Terminated.ExitCode != 0 {
		t.Errorf("init status = %+v; want terminated with exit 0", init)
	}
	if !isRunning(app) || !app.Ready {
		t.Fatalf("app status = %+v; want running and ready", app)
	}
	if got := kubectl(t, "", "-n", ns, "exec", "sidecar", "-c", "app", "--", "cat", "/shared/order"); strings.TrimSpace(got) != "sidecar-started" {
		t.Errorf("the init container saw %q; want sidecar-started (init containers after a sidecar wait for its startup)", got)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodInitialized, corev1.ContainersReady} {
		if condition(pod, c) != corev1.ConditionTrue {
			t.Errorf("condition %s = %q; want True", c, condition(pod, c))
		}
	}
	appID, appStarted := app.ContainerID, app.State.Running.StartedAt

	// The sidecar's readiness is the pod's.
	kubectl(t, "", "-n", ns, "exec", "sidecar", "-c", "sidecar", "--", "rm", "/tmp/ready")
	pod = waitPod(t, ns, "sidecar", "unready", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionFalse
	})
	if s := containerStatus(pod, "sidecar"); !isRunning(s) || s.Ready {
		t.Errorf("sidecar status = %+v; want running and not ready", s)
	}
	if c := condition(pod, corev1.ContainersReady); c != corev1.ConditionFalse {
		t.Errorf("ContainersReady = %q; want False while the sidecar is unready", c)
	}
	kubectl(t, "", "-n", ns, "exec", "sidecar", "-c", "sidecar", "--", "touch", "/tmp/ready")
	waitPod(t, ns, "sidecar", "Ready again", readyAndRunning)

	// A sidecar that exits is restarted (it is restartPolicy: Always
	// whatever the pod's), and nothing else happens to the pod.
	kubectl(t, "", "-n", ns, "exec", "sidecar", "-c", "sidecar", "--", "touch", "/tmp/exit")
	var wrong []string
	pod = waitPod(t, ns, "sidecar", "sidecar restarted and Ready", func(p *corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodInitialized) != corev1.ConditionTrue {
			wrong = append(wrong, fmt.Sprintf("phase %s, Initialized %s", p.Status.Phase, condition(p, corev1.PodInitialized)))
		}
		s := containerStatus(p, "sidecar")
		return s != nil && s.RestartCount >= 1 && isStarted(s) && readyAndRunning(p)
	})
	if len(wrong) > 0 {
		t.Errorf("while the sidecar restarted the pod was not Running and Initialized: %v", wrong)
	}
	sidecar, app = containerStatus(pod, "sidecar"), containerStatus(pod, "app")
	if last := sidecar.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 {
		t.Errorf("sidecar lastState = %+v; want terminated with exit 3", sidecar.LastTerminationState)
	}
	if !isRunning(app) || app.ContainerID != appID || !app.State.Running.StartedAt.Equal(&appStarted) || app.RestartCount != 0 {
		t.Errorf("app status = %+v; want the same container still running", app)
	}
	if s := containerStatus(pod, "init"); s.RestartCount != 0 || s.State.Terminated == nil {
		t.Errorf("init status = %+v; want run once", s)
	}
	deletePod(t, ns, pod)
}

// TestSidecarJobCompletes: with restartPolicy Never, once the app
// container exits the sidecar is terminated and the pod Succeeds; the
// phase is never terminal while the sidecar still runs.
func TestSidecarJobCompletes(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "job", `  restartPolicy: Never
  initContainers:
  - name: sidecar
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    restartPolicy: Always
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  containers:
  - name: main
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 2; echo done > /dev/termination-log"]
`)
	var early []string
	pod = waitPod(t, ns, "job", "Succeeded", func(p *corev1.Pod) bool {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			if s := containerStatus(p, "sidecar"); s == nil || s.State.Terminated == nil {
				early = append(early, describeStatus(p))
			}
		}
		return p.Status.Phase == corev1.PodSucceeded
	})
	if len(early) > 0 {
		t.Errorf("pod terminal with the sidecar not terminated:\n%s", strings.Join(early, "\n"))
	}
	main, sidecar := containerStatus(pod, "main"), containerStatus(pod, "sidecar")
	if term := main.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" || term.Message != "done\n" {
		t.Errorf("main state = %+v; want terminated, Completed, exit 0", main.State)
	}
	if sidecar.State.Terminated == nil || sidecar.RestartCount != 0 {
		t.Errorf("sidecar status = %+v; want terminated, never restarted", sidecar)
	}
	if term := sidecar.State.Terminated; term != nil && term.FinishedAt.Before(&main.State.Terminated.FinishedAt) {
		t.Errorf("sidecar finished at %s, before main (%s); want it stopped after", term.FinishedAt, main.State.Terminated.FinishedAt)
	}
	if c := condition(pod, corev1.PodReady); c != corev1.ConditionFalse {
		t.Errorf("Ready = %q; want False for a completed pod", c)
	}
	deletePod(t, ns, pod)
}

// grpcPod is a pod whose container serves gRPC health on 9090, SERVING
// while /tmp/healthy exists (created at start), with probes (lines under
// the container, indented by four spaces).
func grpcPod(t *testing.T, ns, name, probes string) *corev1.Pod {
	t.Helper()
	return applyPod(t, ns, name, `  containers:
  - name: server
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /tmp/healthy && exec grpc-health -port 9090 -file /tmp/healthy"]
    ports:
    - containerPort: 9090
`+probes)
}

func TestGRPCReadinessProbe(t *testing.T) {
	ns := newNamespace(t)
	pod := grpcPod(t, ns, "ready", `    readinessProbe:
      grpc: {port: 9090}
      periodSeconds: 1
      failureThreshold: 1
`)
	pod = waitPod(t, ns, "ready", "Running and Ready", readyAndRunning)
	id := pod.Status.ContainerStatuses[0].ContainerID

	kubectl(t, "", "-n", ns, "exec", "ready", "--", "rm", "/tmp/healthy")
	pod = waitPod(t, ns, "ready", "unready (NOT_SERVING)", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionFalse
	})
	if s := pod.Status.ContainerStatuses[0]; s.Ready || !isRunning(&s) || s.ContainerID != id || s.RestartCount != 0 {
		t.Errorf("container status = %+v; want the same container running, not ready", s)
	}
	kubectl(t, "", "-n", ns, "exec", "ready", "--", "touch", "/tmp/healthy")
	pod = waitPod(t, ns, "ready", "Ready again (SERVING)", readyAndRunning)
	if s := pod.Status.ContainerStatuses[0]; s.ContainerID != id || s.RestartCount != 0 {
		t.Errorf("container status = %+v; want never restarted", s)
	}
	deletePod(t, ns, pod)
}

func TestGRPCLivenessProbeRestarts(t *testing.T) {
	ns := newNamespace(t)
	// A threshold of 3 lets the server start listening before the first
	// probes count.
	pod := grpcPod(t, ns, "live", `    livenessProbe:
      grpc: {port: 9090}
      periodSeconds: 1
      failureThreshold: 3
`)
	pod = waitPod(t, ns, "live", "Running", readyAndRunning)
	id := pod.Status.ContainerStatuses[0].ContainerID
	if n := pod.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Fatalf("restartCount = %d while SERVING; want 0", n)
	}
	kubectl(t, "", "-n", ns, "exec", "live", "--", "rm", "/tmp/healthy")
	pod = waitPod(t, ns, "live", "restarted (NOT_SERVING)", func(p *corev1.Pod) bool {
		s := p.Status.ContainerStatuses[0]
		return s.RestartCount >= 1 && isRunning(&s)
	})
	s := pod.Status.ContainerStatuses[0]
	if last := s.LastTerminationState.Terminated; last == nil || last.ContainerID != id {
		t.Errorf("lastState = %+v; want the killed container %s", s.LastTerminationState, id)
	}
	// The new container starts healthy and stays.
	pod = waitPod(t, ns, "live", "Ready after the restart", readyAndRunning)
	if got := pod.Status.ContainerStatuses[0].RestartCount; got != s.RestartCount {
		t.Errorf("restartCount = %d; want %d (healthy again)", got, s.RestartCount)
	}
	deletePod(t, ns, pod)
}

// TestGRPCProbeUnknownService: the health server answers NOT_FOUND for a
// service it does not know, which upstream counts as a probe failure: the
// liveness probe restarts the container and readiness never passes.
func TestGRPCProbeUnknownService(t *testing.T) {
	ns := newNamespace(t)
	pod := grpcPod(t, ns, "unknown", `    readinessProbe:
      grpc: {port: 9090, service: not-served}
      periodSeconds: 1
      failureThreshold: 1
    livenessProbe:
      grpc: {port: 9090, service: not-served}
      periodSeconds: 1
      failureThreshold: 2
`)
	var ready []string
	pod = waitPod(t, ns, "unknown", "restarted by its liveness probe", func(p *corev1.Pod) bool {
		if condition(p, corev1.PodReady) == corev1.ConditionTrue {
			ready = append(ready, describeStatus(p))
		}
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if len(ready) > 0 {
		t.Errorf("pod Ready with a probe of an unknown service:\n%s", strings.Join(ready, "\n"))
	}
	deletePod(t, ns, pod)
}
