package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeInternalIP is the test node's InternalIP address from its Node.
func nodeInternalIP(t *testing.T) string {
	t.Helper()
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	t.Fatalf("node %s has no InternalIP: %+v", nodeName, node.Status.Addresses)
	return ""
}

// readyAndRunning is waitPod's condition for a Running, Ready pod.
func readyAndRunning(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
}

// httpdCommand serves "body" on port from /www with busybox httpd.
func httpdCommand(body string, port int) string {
	return fmt.Sprintf(`["sh", "-c", "mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p %d -h /www"]`, body, port)
}

func TestHostNetwork(t *testing.T) {
	ns := newNamespace(t)
	nodeIP := nodeInternalIP(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pod := applyPod(t, ns, "hostnet", fmt.Sprintf(`  hostNetwork: true
  containers:
  - name: httpd
    image: %s
    imagePullPolicy: Never
    command: %s
    ports:
    - containerPort: %d
    readinessProbe:
      httpGet: {port: %d}
      periodSeconds: 1
`, BusyboxImage, httpdCommand("on-the-host", port), port, port))
	pod = waitPod(t, ns, "hostnet", "Running and Ready", readyAndRunning)

	// Upstream reports the node's address as the pod's.
	if pod.Status.HostIP != nodeIP || pod.Status.PodIP != nodeIP {
		t.Errorf("hostIP %q, podIP %q; want both the node's InternalIP %q", pod.Status.HostIP, pod.Status.PodIP, nodeIP)
	}
	if len(pod.Status.PodIPs) != 1 || pod.Status.PodIPs[0].IP != nodeIP {
		t.Errorf("podIPs = %+v; want [%s]", pod.Status.PodIPs, nodeIP)
	}
	body, err := httpGet("http://" + net.JoinHostPort(nodeIP, strconv.Itoa(port)) + "/")
	if err != nil {
		t.Fatalf("GET from the node's address: %v", err)
	}
	if strings.TrimSpace(body) != "on-the-host" {
		t.Errorf("body = %q; want %q", body, "on-the-host")
	}

	// The container is in the host's network (and so UTS) namespace.
	hostNetNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(kubectl(t, "", "-n", ns, "exec", "hostnet", "--", "readlink", "/proc/self/ns/net")); got != hostNetNS {
		t.Errorf("network namespace in the pod = %q; want the host's %q", got, hostNetNS)
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(kubectl(t, "", "-n", ns, "exec", "hostnet", "--", "hostname")); got != hostname {
		t.Errorf("hostname in the pod = %q; want the node's %q", got, hostname)
	}

	deletePod(t, ns, pod)
	if _, err := httpGet("http://" + net.JoinHostPort(nodeIP, strconv.Itoa(port)) + "/"); err == nil {
		t.Errorf("port %d still answers after the pod was deleted", port)
	}
}

func TestHostPort(t *testing.T) {
	ns := newNamespace(t)
	nodeIP := nodeInternalIP(t)
	hostPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pod := applyPod(t, ns, "hostport", fmt.Sprintf(`  containers:
  - name: httpd
    image: %s
    imagePullPolicy: Never
    command: %s
    ports:
    - containerPort: 80
      hostPort: %d
    readinessProbe:
      httpGet: {port: 80}
      periodSeconds: 1
`, BusyboxImage, httpdCommand("through-the-host-port", 80), hostPort))
	pod = waitPod(t, ns, "hostport", "Running and Ready", readyAndRunning)
	if pod.Status.PodIP == nodeIP || pod.Status.PodIP == "" {
		t.Fatalf("podIP = %q; want an address of the pod network", pod.Status.PodIP)
	}

	// 127.0.0.1 would need route_localnet for the DNAT to apply; the
	// node's address is what other hosts use anyway.
	url := "http://" + net.JoinHostPort(nodeIP, strconv.Itoa(hostPort)) + "/"
	body, err := httpGet(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if strings.TrimSpace(body) != "through-the-host-port" {
		t.Errorf("body = %q; want %q", body, "through-the-host-port")
	}
	sandboxes, _ := runtimeObjects(t, pod.UID)
	if len(sandboxes) != 1 {
		t.Fatalf("sandboxes = %v; want one", sandboxes)
	}
	// The CNI portmap plugin names the sandbox (its CNI container ID) in
	// its rules' comments.
	if rules := natRulesMentioning(t, sandboxes[0], strconv.Itoa(hostPort)); len(rules) == 0 {
		t.Fatalf("no nat rule mentions sandbox %s or port %d: is the hostPort mapped by something else?", sandboxes[0], hostPort)
	}

	deletePod(t, ns, pod)
	if _, err := httpGet(url); err == nil {
		t.Errorf("%s still answers after the pod was deleted", url)
	}
	if rules := natRulesMentioning(t, sandboxes[0], strconv.Itoa(hostPort)); len(rules) > 0 {
		t.Errorf("nat rules left after the pod was deleted:\n%s", strings.Join(rules, "\n"))
	}
}

// natRulesMentioning lists the rules of `iptables -t nat -S` naming any
// of words (a port as a whole word: "--dport 8080", not 18080).
func natRulesMentioning(t *testing.T, words ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t nat -S: %v\n%s", err, out)
	}
	var found []string
	for _, rule := range strings.Split(string(out), "\n") {
		fields := strings.FieldsFunc(rule, func(r rune) bool { return r == ' ' || r == '"' || r == ':' || r == '/' })
		if slices.ContainsFunc(fields, func(f string) bool { return slices.Contains(words, f) }) {
			found = append(found, rule)
		}
	}
	return found
}
