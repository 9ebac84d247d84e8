package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const statefulSetManifest = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 2
  serviceName: web
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: IMAGE
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`

const daemonSetManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 0
      nodeSelector: {LABEL: "yes"}
      tolerations: [{operator: Exists}]
      containers:
      - name: c
        image: busybox
`

// fakeKubelet marks every pod in ns Running and Ready until stop is
// called, standing in for the node agent this suite does not run.
func fakeKubelet(t *testing.T, ns string) (stop func()) {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.Status.Phase == corev1.PodRunning || p.DeletionTimestamp != nil {
						continue
					}
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
					_, _ = c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func TestStatefulSetRollout(t *testing.T) {
	ns := newNamespace(t)
	fakeKubelet(t, ns)
	apply := func(image string) {
		mustStdin(t, "", strings.ReplaceAll(statefulSetManifest, "IMAGE", image), "apply", "-n", ns)
	}
	rolloutDone := func() {
		t.Helper()
		out := mustKubectl(t, "", "rollout", "status", "statefulset/web", "-n", ns, "--timeout=60s")
		// kubectl reports a partitioned rollout whenever a partition is
		// set, and the API server defaults it to 0.
		if !strings.Contains(out, "roll out complete: 2 new pods") && !strings.Contains(out, "rolling update complete 2 pods") {
			t.Fatalf("rollout status: %q", out)
		}
	}
	apply("img:1")
	rolloutDone()
	if out := mustKubectl(t, "", "get", "pvc", "-n", ns, "-o", "name"); !strings.Contains(out, "data-web-0") || !strings.Contains(out, "data-web-1") {
		t.Errorf("claims: %q; want data-web-0 and data-web-1", out)
	}

	apply("img:2")
	rolloutDone()
	hist := mustKubectl(t, "", "rollout", "history", "statefulset/web", "-n", ns)
	if !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
		t.Fatalf("rollout history lists no revisions 1 and 2:\n%s", hist)
	}
	if out := mustKubectl(t, "", "rollout", "history", "statefulset/web", "-n", ns, "--revision=1"); !strings.Contains(out, "img:1") {
		t.Errorf("revision 1 does not show img:1:\n%s", out)
	}

	mustKubectl(t, "", "rollout", "undo", "statefulset/web", "-n", ns)
	rolloutDone()
	image := mustKubectl(t, "", "get", "pod", "web-1", "-n", ns, "-o", "jsonpath={.spec.containers[0].image}")
	if image != "img:1" {
		t.Errorf("after undo web-1 runs %q; want img:1", image)
	}
}

func TestDaemonSetRollout(t *testing.T) {
	ns := newNamespace(t)
	label := "e2e-ds-" + ns
	var nodes []string
	for i := range 2 {
		name := fmt.Sprintf("%s-n%d", ns, i)
		mustStdin(t, "", fmt.Sprintf("apiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels: {%s: \"yes\"}\n", name, label), "create")
		nodes = append(nodes, name)
	}
	t.Cleanup(func() { kubectl(t, "", append([]string{"delete", "node", "--wait=false"}, nodes...)...) })
	fakeKubelet(t, ns)

	mustStdin(t, "", strings.ReplaceAll(daemonSetManifest, "LABEL", label), "apply", "-n", ns)
	out := mustKubectl(t, "", "rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")
	if !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Fatalf("rollout status: %q", out)
	}
	got := mustKubectl(t, "", "get", "daemonset", "agent", "-n", ns, "-o", "jsonpath={.status.desiredNumberScheduled}/{.status.numberReady}")
	if got != "2/2" {
		t.Errorf("desired/ready = %s; want 2/2", got)
	}
}

// canonicalStatefulSet is the example of the Kubernetes StatefulSet
// documentation: its container mounts the claim template "www", which the
// pod template does not list among its volumes.
const canonicalStatefulSet = `apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  ports:
  - port: 80
    name: web
  clusterIP: None
  selector:
    app: nginx
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: nginx
  serviceName: "nginx"
  replicas: 3
  minReadySeconds: 10
  template:
    metadata:
      labels:
        app: nginx
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ "ReadWriteOnce" ]
      storageClassName: "my-storage-class"
      resources:
        requests:
          storage: 1Gi
`

// TestStatefulSetMountsClaimTemplate applies the documentation's
// StatefulSet: the API server must accept a mount of a claim template, and
// the controller must give each pod the claim as its volume.
func TestStatefulSetMountsClaimTemplate(t *testing.T) {
	ns := newNamespace(t)
	out := mustStdin(t, "", canonicalStatefulSet, "apply", "-n", ns)
	if !strings.Contains(out, "statefulset.apps/web created") {
		t.Fatalf("apply: %q", out)
	}
	eventually(t, 30*time.Second, func() error {
		r := kubectl(t, "", "get", "pod", "web-0", "-n", ns, "-o", `jsonpath={range .spec.volumes[*]}{.name}={.persistentVolumeClaim.claimName}{"\n"}{end}`)
		if r.Code != 0 {
			return fmt.Errorf("get pod web-0: %s", r)
		}
		if !strings.Contains(r.Stdout, "www=www-web-0") {
			return fmt.Errorf("pod web-0 volumes %q; want www=www-web-0", r.Stdout)
		}
		return nil
	})
}
