package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// whoScript serves HTTP on 8080 with busybox httpd; /cgi-bin/who answers
// "HOSTNAME CLIENT-ADDRESS", so a test sees which backend answered and
// the source address it saw.
const whoScript = `mkdir -p /www/cgi-bin
cat > /www/cgi-bin/who <<'EOF'
#!/bin/sh
echo Content-Type: text/plain
echo
echo "$(hostname) $REMOTE_ADDR" | sed -e 's/\[//' -e 's/\]//' -e 's/::ffff://'
EOF
chmod +x /www/cgi-bin/who
echo ok > /www/index.html
exec httpd -f -p 8080 -h /www`

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// newNamespace makes a namespace for one test, deleted at its end.
func newNamespace(t testing.TB) string {
	t.Helper()
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	ns := strings.Trim(name, "-/") + "-" + hex.EncodeToString(rnd[:])
	ns = strings.ReplaceAll(ns, "/", "-")
	kubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() { _, _ = tryKubectlWith("kubectl", "", "delete", "namespace", ns, "--wait=false") })
	return ns
}

func apply(t testing.TB, ns, manifest string) {
	t.Helper()
	kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
}

// whoPod is a pod serving /cgi-bin/who, on the named node ("" lets the
// scheduler choose).
func whoPod(name, nodeName string, labels map[string]string) string {
	lb, _ := json.Marshal(labels)
	node := ""
	if nodeName != "" {
		node = "  nodeName: " + nodeName + "\n"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: %s
spec:
%s  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %s
    command: ["sh", "-c", %s]
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
`, name, lb, node, BusyboxImage, quote(whoScript))
}

// clientPod is an idle pod to exec commands in.
func clientPod(name, nodeName string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: %s
    command: ["sleep", "3600"]
`, name, nodeName, BusyboxImage)
}

// whoDeployment is a Deployment of who pods spread one per node.
func whoDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: %[1]s}}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: web
        image: %[3]s
        command: ["sh", "-c", %[4]s]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
`, name, replicas, BusyboxImage, quote(whoScript))
}

func waitReady(t testing.TB, ns string, pods ...string) {
	t.Helper()
	for _, p := range pods {
		kubectl(t, "", "wait", "-n", ns, "--for=condition=Ready", "pod/"+p, "--timeout=90s")
	}
}

func rollout(t *testing.T, ns, deploy string) {
	t.Helper()
	kubectl(t, "", "rollout", "status", "-n", ns, "deploy/"+deploy, "--timeout=120s")
}

// exec runs a command in a pod and returns its output and error.
func execIn(ns, pod string, cmd ...string) (string, error) {
	out, err := tryKubectlWith("kubectl", "", append([]string{"exec", "-n", ns, pod, "--"}, cmd...)...)
	return strings.TrimSpace(out), err
}

// eventually retries f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	if err := testenv.WaitFor(timeout, nil, f); err != nil {
		t.Fatal(err)
	}
}

func podIP(t testing.TB, ns, name string) string {
	t.Helper()
	p, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.PodIP == "" {
		t.Fatalf("pod %s has no IP", name)
	}
	return p.Status.PodIP
}

func serviceIP(t testing.TB, ns, name string) string {
	t.Helper()
	s, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Spec.ClusterIP
}

// who asks url from pod with wget and returns "HOSTNAME SOURCE".
// (busybox 1.35's wget crashes with -T: timeout bounds it instead.)
func who(ns, pod, url string) (string, error) {
	return execIn(ns, pod, "timeout", "5", "wget", "-q", "-O", "-", url)
}
