package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBadInput: a LoadBalancer port two Services want, an EndpointSlice
// whose address is in no pod CIDR, and a Node with no address get clear
// events or logs, crash nothing, and leave other Services working.
func TestBadInput(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoPod("web", "a1", map[string]string{"app": "web"}))
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: first}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8090, targetPort: 8080}]
`)
	waitReady(t, ns, "web")
	time.Sleep(time.Second) // the second Service is the newer one
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: second}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8090, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: stray}
spec:
  ports: [{port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: stray-1
  labels: {kubernetes.io/service-name: stray}
addressType: IPv4
endpoints:
- addresses: ["192.0.2.77"]
ports: [{port: 80}]
`)
	ghost := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "ghost-" + suffix},
		Spec:       corev1.NodeSpec{PodCIDR: "10.42.250.0/24", PodCIDRs: []string{"10.42.250.0/24"}},
	}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Nodes().Delete(context.Background(), ghost.Name, metav1.DeleteOptions{}) })

	t.Run("the newer LoadBalancer gets no ingress and an event", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			out, err := tryKubectlWith("kubectl", "", "get", "events", "-n", ns, "--field-selector", "involvedObject.name=second")
			if err != nil || !strings.Contains(out, "PortConflict") {
				return fmt.Errorf("no PortConflict event yet: %v %s", err, out)
			}
			return nil
		})
		s, err := client.CoreV1().Services(ns).Get(context.Background(), "second", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("second: %v %+v; want no ingress", err, s.Status.LoadBalancer)
		}
	})
	t.Run("other Services keep working and no agent crashed", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			_, err := httpGet(fmt.Sprintf("http://%s:8090/cgi-bin/who", agents[1].ip))
			return err
		})
		for _, n := range nodes() {
			select {
			case <-n.proc.Done:
				t.Fatalf("%s exited: %v", n.name, n.proc.Err)
			default:
			}
		}
	})
	t.Run("the node without an address is skipped with a log", func(t *testing.T) {
		eventually(t, 30*time.Second, func() error {
			for _, n := range nodes() {
				data, _ := readLog(n)
				if !strings.Contains(data, ghost.Name) {
					return fmt.Errorf("%s logged nothing about %s", n.name, ghost.Name)
				}
			}
			return nil
		})
	})
}
