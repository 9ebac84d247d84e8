package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/test/internal/testenv"
)

func TestMemoryLimitOOMKilled(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "hog", `  restartPolicy: Never
  containers:
  - name: hog
    image: `+BusyboxImage+`
    command: ["tail", "/dev/zero"]
    resources:
      limits: {memory: 32Mi}
`)
	pod = waitPod(t, ns, "hog", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("terminated = %+v; want OOMKilled, exit 137", term)
	}
	if pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %s; want Burstable", pod.Status.QOSClass)
	}
	deletePod(t, ns, pod)
}

func TestLivenessProbeRestarts(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "sick", `  containers:
  - name: sick
    image: `+BusyboxImage+`
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 1
`)
	pod = waitPod(t, ns, "sick", "restarted by its liveness probe", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1 &&
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated != nil
	})
	if code := pod.Status.ContainerStatuses[0].LastTerminationState.Terminated.ExitCode; code != 137 && code != 143 {
		t.Errorf("killed container exit code = %d; want 137 or 143", code)
	}
	deletePod(t, ns, pod)
}

func TestGracefulTerminationRunsPreStop(t *testing.T) {
	ns := newNamespace(t)
	dir := t.TempDir()
	pod := applyPod(t, ns, "graceful", `  containers:
  - name: main
    image: `+BusyboxImage+`
    command: ["sh", "-c", "trap 'echo term >> /out/log; exit 0' TERM; echo started > /out/log; while true; do sleep 1; done"]
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo prestop >> /out/log"]}
    volumeMounts: [{name: out, mountPath: /out}]
  volumes:
  - name: out
    hostPath: {path: `+dir+`, type: Directory}
`)
	waitPod(t, ns, "graceful", "Running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	deletePod(t, ns, pod)
	data, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(data)); strings.Join(got, ",") != "started,prestop,term" {
		t.Errorf("log = %q; want started, prestop, term in that order", data)
	}
}

func TestAgentRestartAdoptsContainers(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "survivor", `  containers:
  - name: main
    image: `+BusyboxImage+`
    command: ["sleep", "3600"]
`)
	pod = waitPod(t, ns, "survivor", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	before := pod.Status.ContainerStatuses[0].ContainerID

	if err := agent.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	var err error
	if agent, err = testenv.Start(agentLogPth, bin, agentArgs...); err != nil {
		t.Fatalf("restarting the agent: %v", err)
	}
	// The Node still says Ready from before; wait for the new agent's
	// containerd to answer and the agent to renew the lease.
	lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.WaitFor(90*time.Second, agent, func() error {
		if _, err := cri.RuntimeVersion(context.Background()); err != nil {
			return err
		}
		l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if l.ResourceVersion == lease.ResourceVersion {
			return errors.New("lease not renewed by the new agent yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("agent not back after the restart: %v", err)
	}
	// The container kept running through the restart: same ID, still
	// running in the runtime, no restart counted.
	id := strings.TrimPrefix(before, "containerd://")
	ctx := context.Background()
	st, err := cri.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("container %s state = %s; want running", id, st.Status.State)
	}
	// The restarted agent reports the same container.
	marker := "ns-" + ns
	kubectl(t, "", "annotate", "pod", "-n", ns, "survivor", "skiff.test/touch="+marker)
	pod = waitPod(t, ns, "survivor", "reported after the restart", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].ContainerID == before
	})
	if rc := pod.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("restartCount = %d; want 0", rc)
	}
	sbs, cs := runtimeObjects(t, pod.UID)
	if len(sbs) != 1 || len(cs) != 1 {
		t.Errorf("runtime holds sandboxes %v, containers %v; want one of each", sbs, cs)
	}
	deletePod(t, ns, pod)
}
