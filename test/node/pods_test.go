package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	name = strings.ReplaceAll(name, "/", "-")
	if len(name) > 50 {
		name = name[:50]
	}
	name = fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%100000)
	kubectl(t, "", "create", "namespace", name)
	return name
}

// applyPod creates a pod bound to the test node from a spec fragment
// (the lines under `spec:` after nodeName, indented by two spaces).
func applyPod(t *testing.T, ns, name, spec string) *corev1.Pod {
	t.Helper()
	manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  nodeName: %s\n  terminationGracePeriodSeconds: 5\n%s", name, ns, nodeName, spec)
	kubectl(t, manifest, "apply", "-f", "-")
	pod, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// waitPod watches the pod until cond holds and returns it; failing after
// waitTimeout with the last state seen.
func waitPod(t *testing.T, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var last *corev1.Pod
	for ctx.Err() == nil {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			continue
		}
		if len(list.Items) == 1 {
			last = &list.Items[0]
			if cond(last) {
				return last
			}
		}
		w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: list.ResourceVersion,
		})
		if err != nil {
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				last = ev.Object.(*corev1.Pod)
				if cond(last) {
					w.Stop()
					return last
				}
			}
		}
	}
	if last != nil {
		t.Fatalf("pod %s/%s: not %s within %s; last status:\n%s", ns, name, what, waitTimeout, describeStatus(last))
	}
	t.Fatalf("pod %s/%s: not %s within %s", ns, name, what, waitTimeout)
	return nil
}

func describeStatus(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s podIP=%s\n", p.Status.Phase, p.Status.PodIP)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "  condition %s=%s %s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "  container %s ready=%v restarts=%d state=%+v last=%+v\n", s.Name, s.Ready, s.RestartCount, s.State, s.LastTerminationState)
	}
	return b.String()
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// runtimeObjects lists the sandboxes and containers the runtime holds
// for a pod UID.
func runtimeObjects(t *testing.T, uid types.UID) (sandboxes, containers []string) {
	t.Helper()
	ctx := context.Background()
	sel := map[string]string{"io.kubernetes.pod.uid": string(uid)}
	sbs, err := cri.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sbs.Items {
		sandboxes = append(sandboxes, s.Id)
	}
	cs, err := cri.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Containers {
		containers = append(containers, c.Id)
	}
	return sandboxes, containers
}

// deletePod deletes with kubectl (which waits until the pod is gone) and
// checks nothing of it is left in the runtime or on the host.
func deletePod(t *testing.T, ns string, pod *corev1.Pod) {
	t.Helper()
	kubectl(t, "", "delete", "pod", "-n", ns, pod.Name, "--wait=true", "--timeout=60s")
	if _, err := client.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod still there after delete: %v", err)
	}
	// The agent removes runtime objects after the API object is gone,
	// then the pod's directory, then its cgroups: give it its relist
	// period, bounded.
	deadline := time.Now().Add(30 * time.Second)
	for {
		sbs, cs := runtimeObjects(t, pod.UID)
		_, dirErr := os.Stat(filepath.Join(agentData, "agent", "pods", string(pod.UID)))
		matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/memory", cgroupRoot, "*", "pod"+string(pod.UID)))
		more, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/memory", cgroupRoot, "pod"+string(pod.UID)))
		cgroups := append(matches, more...)
		if len(sbs) == 0 && len(cs) == 0 && os.IsNotExist(dirErr) && len(cgroups) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after delete: sandboxes %v, containers %v, pod dir: %v, pod cgroups left behind: %v", sbs, cs, dirErr, cgroups)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestNodeRegistered(t *testing.T) {
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels["kubernetes.io/hostname"] != nodeName {
		t.Errorf("hostname label = %q; want %q", node.Labels["kubernetes.io/hostname"], nodeName)
	}
	if !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") {
		t.Errorf("containerRuntimeVersion = %q; want containerd://...", node.Status.NodeInfo.ContainerRuntimeVersion)
	}
	if node.Status.Capacity.Cpu().IsZero() || node.Status.Allocatable.Memory().Cmp(*node.Status.Capacity.Memory()) >= 0 {
		t.Errorf("capacity %v, allocatable %v: want CPUs and memory minus the eviction reserve", node.Status.Capacity, node.Status.Allocatable)
	}
	found := false
	for _, img := range node.Status.Images {
		for _, n := range img.Names {
			if n == BusyboxImage {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("node images %v: want %s (imported from the images directory)", node.Status.Images, BusyboxImage)
	}
	lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != nodeName || lease.Spec.RenewTime == nil {
		t.Errorf("lease spec = %+v", lease.Spec)
	}
}

func TestPodServesHTTPAndIsCleanedUp(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "web", `  containers:
  - name: httpd
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello from $(POD_NAME) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet:
        port: 8080
      periodSeconds: 1
`)
	pod = waitPod(t, ns, "web", "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if pod.Status.PodIP == "" || pod.Status.HostIP == "" || pod.Status.StartTime == nil || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("status lacks podIP/hostIP/startTime/qosClass:\n%s", describeStatus(pod))
	}
	cs := pod.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.ContainerID, "containerd://") || cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started {
		t.Fatalf("container status = %+v", cs)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodScheduled} {
		if condition(pod, c) != corev1.ConditionTrue {
			t.Errorf("condition %s = %q; want True", c, condition(pod, c))
		}
	}
	body, err := httpGet("http://" + pod.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatalf("GET from the pod IP: %v", err)
	}
	if strings.TrimSpace(body) != "hello from web" {
		t.Errorf("body = %q; want %q", body, "hello from web")
	}
	deletePod(t, ns, pod)
}

func TestCrashLoopBackOff(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "crash", `  containers:
  - name: crash
    image: `+BusyboxImage+`
    command: ["sh", "-c", "echo dying >&2; exit 3"]
    terminationMessagePolicy: FallbackToLogsOnError
`)
	var restarts int32
	pod = waitPod(t, ns, "crash", "in CrashLoopBackOff", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		s := p.Status.ContainerStatuses[0]
		restarts = s.RestartCount
		return s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" && s.RestartCount >= 1
	})
	s := pod.Status.ContainerStatuses[0]
	last := s.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 3 || last.Reason != "Error" || !strings.Contains(last.Message, "dying") {
		t.Errorf("lastState = %+v; want terminated exit 3, Error, message from the log", last)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s; want Running (restartPolicy Always)", pod.Status.Phase)
	}
	if !strings.Contains(s.State.Waiting.Message, "back-off") {
		t.Errorf("waiting message = %q", s.State.Waiting.Message)
	}
	// The restart count keeps growing, after the back-off.
	waitPod(t, ns, "crash", "restarted again", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount > restarts
	})
	deletePod(t, ns, pod)
}

func TestImageNeverPull(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "missing", `  containers:
  - name: c
    image: skiff.local/not-there:1
    imagePullPolicy: Never
`)
	pod = waitPod(t, ns, "missing", "ErrImageNeverPull", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s; want Pending", pod.Status.Phase)
	}
	deletePod(t, ns, pod)
}

func TestInitContainersVolumesAndCompletion(t *testing.T) {
	ns := newNamespace(t)
	kubectl(t, "", "create", "configmap", "-n", ns, "cfg", "--from-literal=greeting=hi")
	pod := applyPod(t, ns, "job", `  restartPolicy: Never
  initContainers:
  - name: first
    image: `+BusyboxImage+`
    command: ["sh", "-c", "echo one > /work/log"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: `+BusyboxImage+`
    command: ["sh", "-c", "echo two >> /work/log"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: `+BusyboxImage+`
    command: ["sh", "-c", "cat /work/log /cfg/greeting > /dev/termination-log; echo $GREETING >> /dev/termination-log"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: cfg, key: greeting}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: cfg, mountPath: /cfg}
  volumes:
  - name: work
    emptyDir: {}
  - name: cfg
    configMap: {name: cfg}
`)
	pod = waitPod(t, ns, "job", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	term := pod.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "Completed" || term.Message != "one\ntwo\nhihi\n" {
		t.Fatalf("main terminated = %+v; want Completed with message %q", term, "one\ntwo\nhihi\n")
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			t.Errorf("init container %s: %+v", s.Name, s.State)
		}
		// As upstream's kubelet, a completed init container is ready.
		if !s.Ready {
			t.Errorf("init container %s: ready false; want true once completed", s.Name)
		}
	}
	if c := condition(pod, corev1.PodReady); c != corev1.ConditionFalse {
		t.Errorf("Ready = %s; want False for a completed pod", c)
	}
	deletePod(t, ns, pod)
}
