package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// poll calls check until it succeeds or timeout passes, then fails the
// test with the last error.
func poll(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// kubectlTry runs kubectl with the admin kubeconfig and returns stdout
// and any error, without failing the test.
func kubectlTry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubeHome)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v: %s", err, errb.String())
	}
	return string(out), nil
}

func TestDeploymentScheduledServesHTTP(t *testing.T) {
	ns := newNamespace(t)
	kubectl(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: %s
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: %s
        imagePullPolicy: Never
        command: ["sh", "-c", "mkdir -p /www && echo deployed > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - containerPort: 8080
        readinessProbe:
          httpGet: {port: 8080}
          periodSeconds: 1
`, ns, BusyboxImage), "apply", "-f", "-")

	var pod corev1.Pod
	poll(t, waitTimeout, "deployment pod Running and Ready", func() error {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d pods", len(list.Items))
		}
		p := list.Items[0]
		if p.Status.Phase != corev1.PodRunning || condition(&p, corev1.PodReady) != corev1.ConditionTrue {
			return fmt.Errorf("pod %s on node %q:\n%s", p.Name, p.Spec.NodeName, describeStatus(&p))
		}
		pod = p
		return nil
	})
	if pod.Spec.NodeName != nodeName {
		t.Errorf("pod scheduled to %q; want %q", pod.Spec.NodeName, nodeName)
	}
	if condition(&pod, corev1.PodScheduled) != corev1.ConditionTrue {
		t.Errorf("PodScheduled = %q; want True", condition(&pod, corev1.PodScheduled))
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "ReplicaSet" {
		t.Errorf("owner references = %+v; want one ReplicaSet", pod.OwnerReferences)
	}
	body, err := httpGet("http://" + pod.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatalf("GET from the pod IP %s: %v", pod.Status.PodIP, err)
	}
	if strings.TrimSpace(body) != "deployed" {
		t.Errorf("body = %q; want %q", body, "deployed")
	}
	poll(t, waitTimeout, "deployment available", func() error {
		out, err := kubectlTry("get", "deployment", "-n", ns, "web", "-o", "jsonpath={.status.availableReplicas}")
		if err != nil {
			return err
		}
		if out != "1" {
			return fmt.Errorf("availableReplicas = %q", out)
		}
		return nil
	})

	kubectl(t, "", "delete", "deployment", "-n", ns, "web", "--wait=true", "--timeout=60s")
	poll(t, waitTimeout, "deployment pods and their sandboxes gone", func() error {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(list.Items) != 0 {
			return fmt.Errorf("%d pods left", len(list.Items))
		}
		if sbs, cs := runtimeObjects(t, pod.UID); len(sbs)+len(cs) > 0 {
			return fmt.Errorf("sandboxes %v, containers %v left", sbs, cs)
		}
		return nil
	})
}

func TestReadinessProbeFailureClearsReady(t *testing.T) {
	ns := newNamespace(t)
	pod := applyPod(t, ns, "ready", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 3600"]
    readinessProbe:
      exec: {command: ["cat", "/tmp/ready"]}
      periodSeconds: 1
      failureThreshold: 1
`)
	pod = waitPod(t, ns, "ready", "Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	started := pod.Status.ContainerStatuses[0].State.Running.StartedAt

	kubectl(t, "", "-n", ns, "exec", "ready", "--", "rm", "/tmp/ready")
	pod = waitPod(t, ns, "ready", "unready", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionFalse
	})
	if c := condition(pod, corev1.ContainersReady); c != corev1.ConditionFalse {
		t.Errorf("ContainersReady = %q; want False", c)
	}
	cs := pod.Status.ContainerStatuses[0]
	if cs.Ready || cs.State.Running == nil || cs.RestartCount != 0 || !cs.State.Running.StartedAt.Equal(&started) {
		t.Errorf("container status = %+v; want still running, not restarted, not ready", cs)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s; want Running", pod.Status.Phase)
	}

	// Passing again makes it Ready again.
	kubectl(t, "", "-n", ns, "exec", "ready", "--", "touch", "/tmp/ready")
	waitPod(t, ns, "ready", "Ready again", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionTrue && p.Status.ContainerStatuses[0].RestartCount == 0
	})
	deletePod(t, ns, pod)
}

func TestConfigMapUpdateReachesMountedFile(t *testing.T) {
	ns := newNamespace(t)
	kubectl(t, "", "create", "configmap", "-n", ns, "cfg", "--from-literal=greeting=first")
	pod := applyPod(t, ns, "reader", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes:
  - name: cfg
    configMap: {name: cfg}
`)
	waitPod(t, ns, "reader", "running", running)
	if got := kubectl(t, "", "-n", ns, "exec", "reader", "--", "cat", "/cfg/greeting"); got != "first" {
		t.Fatalf("mounted greeting = %q; want %q", got, "first")
	}
	kubectl(t, "", "patch", "configmap", "-n", ns, "cfg", "--type=merge", "-p", `{"data":{"greeting":"second"}}`)
	poll(t, 90*time.Second, "configMap update in the mounted file", func() error {
		got, err := kubectlTry("-n", ns, "exec", "reader", "--", "cat", "/cfg/greeting")
		if err != nil {
			return err
		}
		if got != "second" {
			return fmt.Errorf("mounted greeting = %q", got)
		}
		return nil
	})
	deletePod(t, ns, pod)
}

// bridgeVeths lists the interfaces enslaved to the suite's CNI bridge.
func bridgeVeths(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "master", bridgeName).Output()
	if err != nil {
		t.Fatalf("ip link show master %s: %v", bridgeName, err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names[name] = true
	}
	return names
}

// linkExists reports whether a network interface of that name exists.
func linkExists(name string) bool {
	return exec.Command("ip", "link", "show", "dev", name).Run() == nil
}

// mountsMentioning returns the /proc/mounts lines containing any of ids.
func mountsMentioning(t *testing.T, ids []string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		for _, id := range ids {
			if id != "" && strings.Contains(line, id) {
				lines = append(lines, line)
				break
			}
		}
	}
	sort.Strings(lines)
	return lines
}

func TestPodDeletionLeavesNoVethOrMount(t *testing.T) {
	ns := newNamespace(t)
	before := bridgeVeths(t)
	pod := applyPod(t, ns, "tidy", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - name: scratch
    emptyDir: {medium: Memory}
`)
	waitPod(t, ns, "tidy", "running", running)

	var veths []string
	for name := range bridgeVeths(t) {
		if !before[name] {
			veths = append(veths, name)
		}
	}
	if len(veths) != 1 {
		t.Fatalf("new veths on bridge %s: %v; want exactly one for the pod", bridgeName, veths)
	}
	sbs, cs := runtimeObjects(t, pod.UID)
	ids := append(append([]string{string(pod.UID)}, sbs...), cs...)
	mounts := mountsMentioning(t, []string{string(pod.UID)})
	if len(mounts) == 0 {
		t.Fatalf("no mount mentions pod UID %s (want at least the memory emptyDir)", pod.UID)
	}
	t.Logf("veths %v; mounts of the pod UID:\n%s", veths, strings.Join(mounts, "\n"))

	deletePod(t, ns, pod)
	poll(t, 30*time.Second, "veth and mounts removed", func() error {
		for _, v := range veths {
			if linkExists(v) {
				return fmt.Errorf("veth %s still exists", v)
			}
		}
		if left := mountsMentioning(t, ids); len(left) > 0 {
			return fmt.Errorf("mounts left:\n%s", strings.Join(left, "\n"))
		}
		return nil
	})
}
