package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func podWith(uid string, requests ...corev1.ResourceList) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: types.UID(uid)}}
	for i, r := range requests {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c" + string(rune('0'+i)), Resources: corev1.ResourceRequirements{Requests: r}})
	}
	return p
}

func rl(cpu, mem string) corev1.ResourceList {
	l := corev1.ResourceList{}
	if cpu != "" {
		l[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		l[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return l
}

func TestFitsNode(t *testing.T) {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("1Gi"),
		corev1.ResourcePods:   resource.MustParse("3"),
	}
	tests := []struct {
		name           string
		pod            *corev1.Pod
		others         []*corev1.Pod
		reason, prefix string
	}{
		{"fits", podWith("a", rl("1", "512Mi")), nil, "", ""},
		{"no requests", podWith("a"), []*corev1.Pod{podWith("b", rl("2", "1Gi"))}, "", ""},
		{"cpu", podWith("a", rl("4", "")), nil, "OutOfcpu",
			"Pod was rejected: Node didn't have enough resource: cpu, requested: 4000, used: 0, capacity: 2000"},
		{"cpu used by others", podWith("a", rl("1500m", "")), []*corev1.Pod{podWith("b", rl("500m", "")), podWith("c", rl("100m", ""))}, "OutOfcpu",
			"Pod was rejected: Node didn't have enough resource: cpu, requested: 1500, used: 600, capacity: 2000"},
		{"memory", podWith("a", rl("", "600Mi"), rl("", "600Mi")), nil, "OutOfmemory",
			"Pod was rejected: Node didn't have enough resource: memory, requested: 1258291200, used: 0, capacity: 1073741824"},
		{"pods", podWith("a"), []*corev1.Pod{podWith("b"), podWith("c"), podWith("d")}, "OutOfpods",
			"Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
		{"extended", podWith("a", corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}), nil, "OutOfexample.com/gpu",
			"Pod was rejected: Node didn't have enough resource: example.com/gpu, requested: 1, used: 0, capacity: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fitsNode(tt.pod, tt.others, alloc)
			if tt.reason == "" {
				if got != nil {
					t.Fatalf("got rejection %+v; want admitted", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("admitted; want %s", tt.reason)
			}
			if got.reason != tt.reason || got.message != tt.prefix {
				t.Errorf("got %q %q; want %q %q", got.reason, got.message, tt.reason, tt.prefix)
			}
		})
	}
}

func TestPodRequestsInitContainers(t *testing.T) {
	p := podWith("a", rl("100m", "100Mi"))
	p.Spec.InitContainers = []corev1.Container{
		{Name: "big", Resources: corev1.ResourceRequirements{Requests: rl("1", "")}},
		{Name: "side", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways), Resources: corev1.ResourceRequirements{Requests: rl("200m", "50Mi")}},
	}
	p.Spec.Overhead = rl("10m", "")
	got := podRequests(p)
	cpu, mem := got[corev1.ResourceCPU], got[corev1.ResourceMemory]
	// max(1 (init), 100m + 200m (app + sidecar)) + 10m overhead.
	if cpu.MilliValue() != 1010 {
		t.Errorf("cpu: got %dm; want 1010m", cpu.MilliValue())
	}
	if mem.Value() != 150<<20 {
		t.Errorf("memory: got %d; want %d", mem.Value(), 150<<20)
	}
}

func ptrTo[T any](v T) *T { return &v }

// newTestKubelet returns a Kubelet on fakes, not running.
func newTestKubelet(t *testing.T, rt runtimeapi.RuntimeServiceClient, img runtimeapi.ImageServiceClient, ev EvictionConfig) (*Kubelet, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	k, err := New(Config{
		NodeName: "n1", Client: fake.NewClientset(), Runtime: rt, Images: img,
		RootDir: t.TempDir(), Clock: clk, Eviction: ev,
	})
	if err != nil {
		t.Fatal(err)
	}
	return k, clk
}

func TestStaticPodFromManifest(t *testing.T) {
	yaml := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n")
	p, err := staticPodFromManifest(yaml, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "web-n1" || p.Namespace != "default" || p.Spec.NodeName != "n1" {
		t.Errorf("got %s/%s on %q; want default/web-n1 on n1", p.Namespace, p.Name, p.Spec.NodeName)
	}
	if p.Annotations[annotationConfigSource] != "file" || p.Annotations[annotationConfigHash] != string(p.UID) {
		t.Errorf("annotations %v do not name the source and hash %s", p.Annotations, p.UID)
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyAlways || p.Spec.Containers[0].ImagePullPolicy == "" {
		t.Errorf("pod not defaulted: restartPolicy %q, pullPolicy %q", p.Spec.RestartPolicy, p.Spec.Containers[0].ImagePullPolicy)
	}
	again, _ := staticPodFromManifest(yaml, "n1")
	if again.UID != p.UID {
		t.Errorf("same manifest gave UIDs %s and %s", p.UID, again.UID)
	}
	json := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"busybox:1"}]}}`)
	other, err := staticPodFromManifest(json, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if other.UID == p.UID || other.Namespace != "kube-system" {
		t.Errorf("JSON manifest: uid %s (yaml's %s), namespace %q", other.UID, p.UID, other.Namespace)
	}
	if _, err := staticPodFromManifest([]byte("kind: Service\nmetadata:\n  name: s\n"), "n1"); err == nil {
		t.Error("a Service manifest was accepted as a static pod")
	}
}

func TestReadStaticPodsSkipsBadFiles(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	dir := k.cfg.StaticPodDir
	write(t, filepath.Join(dir, "a.yaml"), "metadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: i\n")
	write(t, filepath.Join(dir, "b.json"), "{not json")
	write(t, filepath.Join(dir, "notes.txt"), "metadata:\n  name: t\n")
	k.syncStaticPods(cancelled())
	if got := strings.Join(k.staticNames(), ","); got != "default/a-n1" {
		t.Errorf("static pods: got %q; want default/a-n1", got)
	}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestVolumeHostPath(t *testing.T) {
	dir := t.TempDir()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"kubernetes.io/hostname": "n1"}}}
	affinity := func(key, value string) *corev1.VolumeNodeAffinity {
		return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}},
		}}}}
	}
	pv := func(src corev1.PersistentVolumeSource, a *corev1.VolumeNodeAffinity) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src, NodeAffinity: a}}
	}
	local := corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}}
	tests := []struct {
		name    string
		pv      *corev1.PersistentVolume
		want    string
		wantErr string
	}{
		{"hostPath", pv(corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}, nil), dir, ""},
		{"local on this node", pv(local, affinity("kubernetes.io/hostname", "n1")), dir, ""},
		{"local elsewhere", pv(local, affinity("kubernetes.io/hostname", "n2")), "", "node affinity does not match"},
		{"local without affinity", pv(local, nil), "", "needs a required node affinity"},
		{"nfs", pv(corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}, nil), "", "only hostPath and local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := volumeHostPath(tt.pv, node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func ws(name string, bytes uint64) ContainerStats {
	return ContainerStats{Name: name, Memory: &MemoryStats{WorkingSetBytes: &bytes}}
}

func TestMemoryEviction(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	guaranteed := podWith("guaranteed")
	guaranteed.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: rl("1", "1Gi"), Limits: rl("1", "1Gi")}}}
	underRequest := podWith("under", rl("", "500Mi"))
	overRequest := podWith("over", rl("", "100Mi"))
	bestEffortSmall := podWith("be-small", corev1.ResourceList{})
	bestEffortBig := podWith("be-big", corev1.ResourceList{})
	summary := func(available uint64) *Summary {
		return &Summary{
			Node: NodeStats{Memory: &MemoryStats{AvailableBytes: &available}},
			Pods: []PodStats{
				{PodRef: PodReference{UID: "guaranteed"}, Containers: []ContainerStats{ws("c", 900<<20)}},
				{PodRef: PodReference{UID: "under"}, Containers: []ContainerStats{ws("c0", 400<<20)}},
				{PodRef: PodReference{UID: "over"}, Containers: []ContainerStats{ws("c0", 300<<20)}},
				{PodRef: PodReference{UID: "be-small"}, Containers: []ContainerStats{ws("c", 10<<20)}},
				{PodRef: PodReference{UID: "be-big"}, Containers: []ContainerStats{ws("x", 20<<20), ws("hog", 200<<20)}},
			},
		}
	}
	pods := []*corev1.Pod{guaranteed, underRequest, overRequest, bestEffortSmall, bestEffortBig}
	k.eviction.pods = func() []*corev1.Pod { return pods }

	if got := k.eviction.checkMemory(cancelled(), summary(200<<20)); got != "" || k.eviction.memoryPressure.Load() {
		t.Fatalf("200Mi available: evicted %q, pressure %v; want nothing", got, k.eviction.memoryPressure.Load())
	}
	want := []string{"be-big", "be-small", "over", ""}
	for _, w := range want {
		got := k.eviction.checkMemory(cancelled(), summary(50<<20))
		if got != w {
			t.Fatalf("evicted %q; want %q", got, w)
		}
		if !k.eviction.memoryPressure.Load() {
			t.Fatal("no memory pressure at 50Mi available")
		}
		if w == "" {
			break
		}
		// The evicted pod leaves the node.
		for i, p := range pods {
			if string(p.UID) == w {
				pods = append(pods[:i], pods[i+1:]...)
				break
			}
		}
	}
	order, ok := k.admission.stopFor("be-big")
	wantMsg := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. Container hog was using 200Mi, request is 0, has larger consumption of memory. "
	if !ok || order.reason != "Evicted" || order.message != wantMsg {
		t.Errorf("stop order %+v; want Evicted %q", order, wantMsg)
	}
	if cond := memoryCondition(true); cond.Status != corev1.ConditionTrue || cond.Reason != "KubeletHasInsufficientMemory" {
		t.Errorf("pressure condition %+v", cond)
	}
	k.eviction.checkMemory(cancelled(), summary(1<<30))
	if k.eviction.memoryPressure.Load() {
		t.Error("memory pressure stays after memory came back")
	}
}

// fakeImages is an image service holding a fixed list; RemoveImage
// records and removes.
type fakeImages struct {
	runtimeapi.ImageServiceClient
	images  []*runtimeapi.Image
	removed []string
}

func (f *fakeImages) ListImages(context.Context, *runtimeapi.ListImagesRequest, ...grpc.CallOption) (*runtimeapi.ListImagesResponse, error) {
	return &runtimeapi.ListImagesResponse{Images: f.images}, nil
}

func (f *fakeImages) RemoveImage(_ context.Context, r *runtimeapi.RemoveImageRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveImageResponse, error) {
	f.removed = append(f.removed, r.Image.Image)
	for i, im := range f.images {
		if im.Id == r.Image.Image {
			f.images = append(f.images[:i], f.images[i+1:]...)
			break
		}
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// fakeRuntime lists fixed containers.
type fakeRuntime struct {
	runtimeapi.RuntimeServiceClient
	containers []*runtimeapi.Container
}

func (f *fakeRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: f.containers}, nil
}

func TestImageGarbageCollection(t *testing.T) {
	img := &fakeImages{images: []*runtimeapi.Image{
		{Id: "sha256:old", RepoTags: []string{"old:1"}, Size: 30},
		{Id: "sha256:used", RepoTags: []string{"used:1"}, Size: 50},
		{Id: "sha256:pause", RepoTags: []string{"pause:1"}, Size: 1, Pinned: true},
	}}
	rt := &fakeRuntime{containers: []*runtimeapi.Container{{Id: "c1", ImageRef: "sha256:used"}}}
	k, clk := newTestKubelet(t, rt, img, EvictionConfig{ImageGCLowThresholdPercent: 70})
	used := uint64(90)
	k.eviction.imageFs = func(context.Context) (uint64, uint64, error) { return 100, used, nil }

	// First sight: every image is young, nothing goes.
	if freed, err := k.eviction.collectImages(context.Background()); freed != 0 || len(img.removed) != 0 {
		t.Fatalf("young images: freed %d (%v), removed %v", freed, err, img.removed)
	}
	clk.Step(time.Minute)
	img.images = append(img.images, &runtimeapi.Image{Id: "sha256:newer", RepoTags: []string{"newer:1"}, Size: 20})
	k.eviction.collectImages(context.Background()) // sees "newer" a minute later
	clk.Step(2 * time.Minute)

	// 90% used, low mark 70%: 20 bytes to free; the least recently seen
	// unused image goes first and is enough.
	freed, err := k.eviction.collectImages(context.Background())
	if err != nil || freed != 30 || strings.Join(img.removed, ",") != "sha256:old" {
		t.Fatalf("freed %d (%v), removed %v; want 30 from sha256:old", freed, err, img.removed)
	}
	// Under the high mark nothing is removed.
	used = 84
	if freed, _ := k.eviction.collectImages(context.Background()); freed != 0 {
		t.Errorf("at 84%% freed %d; want 0", freed)
	}
	// Full: 30 bytes wanted; everything unused and unpinned goes, and the
	// shortfall is reported.
	used = 100
	freed, err = k.eviction.collectImages(context.Background())
	if freed != 20 || err == nil || strings.Join(img.removed, ",") != "sha256:old,sha256:newer" {
		t.Errorf("freed %d (%v), removed %v; want 20 from sha256:newer and a shortfall error", freed, err, img.removed)
	}
}

func TestStatsFromCRI(t *testing.T) {
	now := metav1.NewTime(time.Unix(100, 0))
	cpu := criCPU(&runtimeapi.CpuUsage{Timestamp: 5e9, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: 7}, UsageNanoCores: &runtimeapi.UInt64Value{Value: 3}}, now)
	if *cpu.UsageCoreNanoSeconds != 7 || *cpu.UsageNanoCores != 3 || cpu.Time.Unix() != 5 {
		t.Errorf("cpu %+v", cpu)
	}
	c, m := sumContainers([]ContainerStats{ws("a", 10), ws("b", 5)}, now)
	if *m.WorkingSetBytes != 15 || *c.UsageNanoCores != 0 {
		t.Errorf("sum: cpu %+v memory %+v", c, m)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
