package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet"
)

func TestAdmissionRejectsPodOverAllocatable(t *testing.T) {
	ns := newNamespace(t)
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alloc := node.Status.Allocatable[corev1.ResourceCPU]
	applyPod(t, ns, "greedy", fmt.Sprintf(`  containers:
  - name: c
    image: %s
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources:
      requests:
        cpu: "%d"
`, BusyboxImage, alloc.Value()*2))
	pod := waitPod(t, ns, "greedy", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	want := fmt.Sprintf("Pod was rejected: Node didn't have enough resource: cpu, requested: %d, used: ", alloc.MilliValue()*2)
	if pod.Status.Reason != "OutOfcpu" || !strings.HasPrefix(pod.Status.Message, want) ||
		!strings.HasSuffix(pod.Status.Message, fmt.Sprintf(", capacity: %d", alloc.MilliValue())) {
		t.Errorf("got reason %q message %q; want OutOfcpu, %q...", pod.Status.Reason, pod.Status.Message, want)
	}
	if sbs, cs := runtimeObjects(t, pod.UID); len(sbs)+len(cs) != 0 {
		t.Errorf("a rejected pod has sandboxes %v and containers %v", sbs, cs)
	}
}

func TestStaticPodWithMirror(t *testing.T) {
	dir := filepath.Join(kubelet.AgentDir(agentData), "pod-manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := func(msg string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\n  namespace: default\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: %s\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"echo %s; exec sleep 3600\"]\n", BusyboxImage, msg)
	}
	path := filepath.Join(dir, "static-web.yaml")
	if err := os.WriteFile(path, []byte(manifest("one")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(path) })
	name := "static-web-" + nodeName
	mirror := waitPod(t, "default", name, "mirror Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	hash := mirror.Annotations["kubernetes.io/config.mirror"]
	if hash == "" || len(mirror.OwnerReferences) != 1 || mirror.OwnerReferences[0].Kind != "Node" || mirror.OwnerReferences[0].Name != nodeName {
		t.Fatalf("mirror pod annotations %v owners %+v", mirror.Annotations, mirror.OwnerReferences)
	}
	firstContainer := mirror.Status.ContainerStatuses[0].ContainerID

	// Deleting the mirror pod leaves the static pod running; the mirror comes back.
	if err := client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again := waitPod(t, "default", name, "mirror recreated", func(p *corev1.Pod) bool {
		return p.UID != mirror.UID && p.Status.Phase == corev1.PodRunning
	})
	if got := again.Status.ContainerStatuses[0].ContainerID; got != firstContainer {
		t.Errorf("container after the mirror was deleted: %s; want the same %s", got, firstContainer)
	}

	// Editing the manifest replaces the pod.
	if err := os.WriteFile(path, []byte(manifest("two")), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := waitPod(t, "default", name, "new static pod Running", func(p *corev1.Pod) bool {
		return p.Annotations["kubernetes.io/config.mirror"] != hash && p.Status.Phase == corev1.PodRunning
	})
	if got := changed.Status.ContainerStatuses[0].ContainerID; got == firstContainer {
		t.Errorf("the edited static pod still runs container %s", got)
	}

	// Removing the file removes the pod and its mirror.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "default", name)
	waitNoSandboxFor(t, "default", name)
}

func TestPersistentVolumeClaimHostPath(t *testing.T) {
	ns := newNamespace(t)
	hostDir := filepath.Join(tmp, "pv-"+ns)
	if err := os.MkdirAll(hostDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "hello"), []byte("from the pv\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata:
  name: %[1]s
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  local:
    path: %[2]s
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [%[3]s]}
  claimRef: {namespace: %[1]s, name: data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: %[1]s
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  volumeName: %[1]s
  resources:
    requests: {storage: 1Gi}
`, ns, hostDir, nodeName), "apply", "-f", "-")
	t.Cleanup(func() {
		_ = client.CoreV1().PersistentVolumes().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	// Bind the claim if no controller did.
	ctx := context.Background()
	for deadline := time.Now().Add(waitTimeout); ; {
		pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.Status.Phase == corev1.ClaimBound {
			break
		}
		pvc.Status.Phase = corev1.ClaimBound
		if _, err := client.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("claim never bound")
		}
	}
	applyPod(t, ns, "reader", `  restartPolicy: Never
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "cat /data/hello && echo written > /data/out"]
    volumeMounts:
    - {name: d, mountPath: /data}
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: data}
`)
	pod := waitPod(t, ns, "reader", "Succeeded", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod ended %s:\n%s", pod.Status.Phase, describeStatus(pod))
	}
	if data, err := os.ReadFile(filepath.Join(hostDir, "out")); err != nil || string(data) != "written\n" {
		t.Errorf("the pod's write reached the host as %q, %v", data, err)
	}
}

func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		_, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s still exists (%v)", ns, name, err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not an assertion
	}
}

// waitNoSandboxFor waits until no sandbox of the named pod is left.
func waitNoSandboxFor(t *testing.T, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := cri.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			LabelSelector: map[string]string{"io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": name},
		}})
		if err == nil && len(resp.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandboxes of %s/%s left: %v (%v)", ns, name, resp, err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not an assertion
	}
}

// BenchmarkPodStartup measures create → Running (seen by a watch) for
// batches of 1, 30 and 100 pods, beside the raw CRI time for the same
// sandbox + container. Run with -benchtime=1x; figures are reported as
// metrics (ms), never asserted.
func BenchmarkPodStartup(b *testing.B) {
	for _, n := range []int{1, 30, 100} {
		b.Run(fmt.Sprintf("skiff/pods=%d", n), func(b *testing.B) {
			for range b.N {
				lat := skiffStartup(b, n)
				report(b, lat)
			}
		})
		b.Run(fmt.Sprintf("cri/pods=%d", n), func(b *testing.B) {
			for range b.N {
				lat := rawCRIStartup(b, n)
				report(b, lat)
			}
		})
	}
}

func report(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		i = max(0, min(i, len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// skiffStartup creates n pods at once and returns each one's time from
// its create call to the watch event showing it Running.
func skiffStartup(b *testing.B, n int) []time.Duration {
	ctx := context.Background()
	ns := fmt.Sprintf("bench-%d-%d", n, time.Now().UnixNano()%100000)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		waitNamespaceEmpty(b, ns)
		_ = client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		// The next run starts once the runtime has let go of these pods
		// too, so one run's teardown does not slow the next one down.
		waitNoSandboxes(b, ns)
	}()
	// Pods are refused until the namespace's default service account exists.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatal(err)
		}
	}
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.Everything().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	created := make(map[string]time.Time, n)
	errc := make(chan error, n)
	type stamp struct {
		name string
		at   time.Time
	}
	stamps := make(chan stamp, n)
	for i := range n {
		go func(i int) {
			name := fmt.Sprintf("p%d", i)
			start := time.Now()
			_, err := client.CoreV1().Pods(ns).Create(ctx, benchPod(name), metav1.CreateOptions{})
			errc <- err
			stamps <- stamp{name, start}
		}(i)
	}
	for range n {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		s := <-stamps
		created[s.name] = s.at
	}
	running := map[string]time.Duration{}
	timeout := time.After(5 * time.Minute)
	for len(running) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted || p.Status.Phase != corev1.PodRunning {
				continue
			}
			if _, done := running[p.Name]; !done {
				running[p.Name] = time.Since(created[p.Name])
			}
		case <-timeout:
			b.Fatalf("%d of %d pods Running after 5 minutes", len(running), n)
		}
	}
	out := make([]time.Duration, 0, n)
	for _, d := range running {
		out = append(out, d)
	}
	return out
}

func benchPod(name string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "c", Image: BusyboxImage, ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"},
			}},
		},
	}
}

func waitNamespaceEmpty(b *testing.B, ns string) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond) // polling interval
	}
	b.Logf("pods of %s still present after 5 minutes", ns)
}

// waitNoSandboxes waits until the runtime has no sandbox of namespace ns.
func waitNoSandboxes(b *testing.B, ns string) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := cri.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
		left := 0
		if err == nil {
			for _, s := range resp.Items {
				if s.Metadata.GetNamespace() == ns {
					left++
				}
			}
		}
		if err == nil && left == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond) // polling interval
	}
	b.Logf("sandboxes of %s still present after 5 minutes", ns)
}

// rawCRIStartup runs n sandbox + container pairs at once directly
// through CRI (RunPodSandbox, CreateContainer, StartContainer) and
// returns each pair's time; everything is removed afterwards.
func rawCRIStartup(b *testing.B, n int) []time.Duration {
	ctx := context.Background()
	img, err := cri.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: BusyboxImage}})
	if err != nil || img.Image == nil {
		b.Fatalf("image %s: %v", BusyboxImage, err)
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	type result struct {
		d   time.Duration
		sb  string
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func(i int) {
			name := fmt.Sprintf("raw-%s-%d", run, i)
			sbCfg := &runtimeapi.PodSandboxConfig{
				Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "bench", Uid: name},
				Hostname:     name,
				LogDirectory: filepath.Join(tmp, "rawlogs", name),
				Labels:       map[string]string{"skiff.bench": run},
				Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupRoot + "/bench/" + name},
			}
			start := time.Now()
			sb, err := cri.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sbCfg})
			if err != nil {
				results <- result{err: err}
				return
			}
			c, err := cri.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
				PodSandboxId: sb.PodSandboxId, SandboxConfig: sbCfg,
				Config: &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
					Image:    &runtimeapi.ImageSpec{Image: img.Image.Id},
					Command:  []string{"sleep", "3600"},
					LogPath:  "c/0.log",
					Linux:    &runtimeapi.LinuxContainerConfig{},
				},
			})
			if err == nil {
				_, err = cri.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId})
			}
			results <- result{d: time.Since(start), sb: sb.PodSandboxId, err: err}
		}(i)
	}
	var out []time.Duration
	var sandboxes []string
	var firstErr error
	for range n {
		r := <-results
		if r.sb != "" {
			sandboxes = append(sandboxes, r.sb)
		}
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		out = append(out, r.d)
	}
	for _, id := range sandboxes {
		_, _ = cri.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
		_, _ = cri.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	}
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return out
}
