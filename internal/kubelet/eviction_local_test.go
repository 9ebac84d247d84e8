package kubelet

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const mi = 1 << 20

// limitsPod is a pod named uid with one app container per limit, named
// c0, c1, ..., each with that limits.ephemeral-storage ("" for none).
func limitsPod(uid string, limits ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: types.UID(uid)}}
	for i, l := range limits {
		c := corev1.Container{Name: "c" + string(rune('0'+i))}
		if l != "" {
			c.Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(l)}
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
	}
	return p
}

// withEmptyDir adds an emptyDir volume to p: medium "" is disk, sizeLimit
// "" is none.
func withEmptyDir(p *corev1.Pod, name string, medium corev1.StorageMedium, sizeLimit string) *corev1.Pod {
	ed := &corev1.EmptyDirVolumeSource{Medium: medium}
	if sizeLimit != "" {
		q := resource.MustParse(sizeLimit)
		ed.SizeLimit = &q
	}
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}})
	return p
}

// storageStats is uid's pod stats: its containers, and volumes by name.
func storageStats(uid string, containers []ContainerStats, volumes map[string]uint64) PodStats {
	ps := PodStats{PodRef: PodReference{Namespace: "ns", Name: uid, UID: uid}, Containers: containers}
	for _, name := range slices.Sorted(maps.Keys(volumes)) {
		ps.VolumeStats = append(ps.VolumeStats, VolumeStats{Name: name, FsStats: FsStats{UsedBytes: u64(volumes[name])}})
	}
	return ps
}

func TestLocalStorageLimits(t *testing.T) {
	tests := []struct {
		name      string
		pod       *corev1.Pod
		stats     PodStats
		dedicated bool // the image filesystem is not RootDir's
		want      string
	}{
		// emptyDir sizeLimit.
		{"emptyDir over its sizeLimit",
			withEmptyDir(limitsPod("p", ""), "cache", "", "1Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", mi, 0)}, map[string]uint64{"cache": mi + 1}),
			false, `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
		{"emptyDir at its sizeLimit",
			withEmptyDir(limitsPod("p", ""), "cache", "", "1Mi"),
			storageStats("p", nil, map[string]uint64{"cache": mi}),
			false, ""},
		{"the second emptyDir over",
			withEmptyDir(withEmptyDir(limitsPod("p", ""), "a", "", "4Mi"), "b", "", "1Mi"),
			storageStats("p", nil, map[string]uint64{"a": 2 * mi, "b": 2 * mi}),
			false, `Usage of EmptyDir volume "b" exceeds the limit "1Mi". `},
		{"memory-medium emptyDir ignored (tmpfs enforces its size)",
			withEmptyDir(limitsPod("p", ""), "shm", corev1.StorageMediumMemory, "1Mi"),
			storageStats("p", nil, map[string]uint64{"shm": 4 * mi}),
			false, ""},
		{"emptyDir without a sizeLimit",
			withEmptyDir(limitsPod("p", ""), "cache", "", ""),
			storageStats("p", nil, map[string]uint64{"cache": 100 * mi}),
			false, ""},
		{"emptyDir with a zero sizeLimit",
			withEmptyDir(limitsPod("p", ""), "cache", "", "0"),
			storageStats("p", nil, map[string]uint64{"cache": 100 * mi}),
			false, ""},
		{"emptyDir not measured",
			withEmptyDir(limitsPod("p", ""), "cache", "", "1Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 100*mi, 0)}, nil),
			false, ""},

		// The pod's total against its containers' limits.
		{"pod total over the one container's limit",
			withEmptyDir(limitsPod("p", "2Mi"), "cache", "", ""),
			storageStats("p", []ContainerStats{diskUse("c0", mi, 0)}, map[string]uint64{"cache": mi + 1}),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"pod total over the containers' sum, each container within its own",
			withEmptyDir(limitsPod("p", "1Mi", "1Mi"), "cache", "", ""),
			storageStats("p", []ContainerStats{diskUse("c0", mi/2, mi/2), diskUse("c1", mi, 0)}, map[string]uint64{"cache": mi}),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"pod total at the limit",
			withEmptyDir(limitsPod("p", "1Mi", "1Mi"), "cache", "", ""),
			storageStats("p", []ContainerStats{diskUse("c0", mi/2, 0), diskUse("c1", mi/2, 0)}, map[string]uint64{"cache": mi}),
			false, ""},
		{"one container without a limit: the other's is the pod's, as upstream",
			limitsPod("p", "2Mi", ""),
			storageStats("p", []ContainerStats{diskUse("c0", 0, 0), diskUse("c1", 3*mi, 0)}, nil),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"the summary's pod total is the one held to the limit",
			limitsPod("p", "2Mi"),
			func() PodStats {
				ps := storageStats("p", []ContainerStats{diskUse("c0", mi, 0)}, nil)
				ps.EphemeralStorage = &FsStats{UsedBytes: u64(3 * mi)}
				return ps
			}(),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"no limits at all",
			withEmptyDir(limitsPod("p", "", ""), "cache", "", ""),
			storageStats("p", []ContainerStats{diskUse("c0", 50*mi, 50*mi)}, map[string]uint64{"cache": 100 * mi}),
			false, ""},

		// A container's writable layer and logs against its own limit.
		{"container over its limit, the pod within its total",
			limitsPod("p", "2Mi", "10Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 2*mi, 1), diskUse("c1", 0, 0)}, nil),
			false, `Container c0 exceeded its local ephemeral storage limit "2Mi". `},
		{"container at its limit",
			limitsPod("p", "2Mi", "10Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", mi, mi), diskUse("c1", 0, 0)}, nil),
			false, ""},
		{"dedicated image filesystem: the writable layer does not count",
			limitsPod("p", "2Mi", "10Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 3*mi, mi), diskUse("c1", 0, 0)}, nil),
			true, ""},
		{"dedicated image filesystem: the logs still count",
			limitsPod("p", "2Mi", "10Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 0, 3*mi), diskUse("c1", 0, 0)}, nil),
			true, `Container c0 exceeded its local ephemeral storage limit "2Mi". `},

		// Upstream's order: emptyDir, then the pod, then a container.
		{"emptyDir before the pod's total",
			withEmptyDir(limitsPod("p", "1Mi"), "cache", "", "1Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 2*mi, 0)}, map[string]uint64{"cache": 2 * mi}),
			false, `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
		{"the pod's total before a container's",
			limitsPod("p", "2Mi"),
			storageStats("p", []ContainerStats{diskUse("c0", 4*mi, 0)}, nil),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"a zero container limit is none for the container but makes the pod's zero, as upstream",
			limitsPod("p", "0"),
			storageStats("p", []ContainerStats{diskUse("c0", 1, 0)}, nil),
			false, "Pod ephemeral local storage usage exceeds the total limit of containers 0. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
			k.eviction.pods = func() []*corev1.Pod { return []*corev1.Pod{tt.pod} }
			k.eviction.imageFsDedicated = func(context.Context) bool { return tt.dedicated }
			evicted := k.eviction.evictLocalStorage(cancelled(), &Summary{Pods: []PodStats{tt.stats}})
			order, stopped := k.admission.stopFor(tt.pod.UID)
			if tt.want == "" {
				if len(evicted) != 0 || stopped {
					t.Fatalf("evicted %v (%q); want none", evicted, order.message)
				}
				return
			}
			if !slices.Equal(evicted, []string{"p"}) || !stopped || order.reason != "Evicted" || order.message != tt.want {
				t.Fatalf("evicted %v, stop order %+v; want p, Evicted %q", evicted, order, tt.want)
			}
		})
	}
}

func TestPodLimit(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	limit := func(name, q string) corev1.Container {
		c := corev1.Container{Name: name}
		if q != "" {
			c.Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(q)}
		}
		return c
	}
	sidecar := func(name, q string) corev1.Container {
		c := limit(name, q)
		c.RestartPolicy = &always
		return c
	}
	tests := []struct {
		name       string
		init, apps []corev1.Container
		overhead   string
		want       string // "" when the pod has no limit
	}{
		{"none", nil, []corev1.Container{limit("a", ""), limit("b", "")}, "", ""},
		{"apps summed", nil, []corev1.Container{limit("a", "1Mi"), limit("b", "2Mi")}, "", "3Mi"},
		{"containers without a limit add nothing", nil, []corev1.Container{limit("a", "1Mi"), limit("b", "")}, "", "1Mi"},
		{"a larger init container", []corev1.Container{limit("i", "5Mi")}, []corev1.Container{limit("a", "1Mi")}, "", "5Mi"},
		{"an init container alone sets it", []corev1.Container{limit("i", "1Mi")}, []corev1.Container{limit("a", "")}, "", "1Mi"},
		{"sidecars add to the apps and to later init containers",
			[]corev1.Container{sidecar("s", "2Mi"), limit("i", "3Mi")}, []corev1.Container{limit("a", "1Mi")}, "", "5Mi"},
		{"sidecars started after an init container do not add to it",
			[]corev1.Container{limit("i", "3Mi"), sidecar("s", "2Mi")}, []corev1.Container{limit("a", "")}, "", "3Mi"},
		{"overhead added to a limit", nil, []corev1.Container{limit("a", "1Mi")}, "1Mi", "2Mi"},
		{"overhead alone is no limit", nil, []corev1.Container{limit("a", "")}, "1Mi", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: tt.init, Containers: tt.apps}}
			if tt.overhead != "" {
				p.Spec.Overhead = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(tt.overhead)}
			}
			got, ok := podLimit(p, corev1.ResourceEphemeralStorage)
			if !ok && tt.want != "" || ok && got.String() != tt.want {
				t.Errorf("got %s (set %v); want %q", got.String(), ok, tt.want)
			}
		})
	}
}

func TestLocalStorageEvictionPass(t *testing.T) {
	const gi = 1 << 30
	k, clk := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	write(t, filepath.Join(k.cfg.StaticPodDir, "s.yaml"),
		"metadata:\n  name: s\nspec:\n  containers:\n  - name: c0\n    image: i\n    resources:\n      limits:\n        ephemeral-storage: 1Mi\n")
	k.syncStaticPods(cancelled())
	static := k.staticPodList()[0]
	critical := limitsPod("critical", "1Mi")
	critical.Spec.Priority = new(int32(systemCriticalPriority))
	deleting := limitsPod("deleting", "1Mi")
	deleting.DeletionTimestamp = &metav1.Time{}
	pods := []*corev1.Pod{
		withEmptyDir(limitsPod("emptydir", ""), "cache", "", "1Mi"),
		limitsPod("within", "10Mi"),
		limitsPod("pod-total", "1Mi"),
		limitsPod("container", "1Mi", "10Mi"),
		limitsPod("no-limits", ""),
		critical, deleting, static,
	}
	k.eviction.pods = func() []*corev1.Pod { return pods }
	k.eviction.imageFsDedicated = func(context.Context) bool { return false }
	k.eviction.imageFs = func(context.Context) (uint64, uint64, error) { return 100 * gi, 10 * gi, nil }
	over := []ContainerStats{diskUse("c0", 2*mi, 0)}
	s := diskSummary(50*gi,
		storageStats("emptydir", nil, map[string]uint64{"cache": 2 * mi}),
		storageStats("within", over, nil),
		storageStats("pod-total", over, nil),
		storageStats("container", []ContainerStats{diskUse("c0", 2*mi, 0), diskUse("c1", 0, 0)}, nil),
		storageStats("no-limits", []ContainerStats{diskUse("c0", gi, 0)}, nil),
		storageStats("critical", over, nil),
		storageStats("deleting", over, nil),
		storageStats(string(static.UID), over, nil),
	)
	s.Node.Memory = &MemoryStats{AvailableBytes: u64(gi)}
	k.eviction.summary = func(context.Context) (*Summary, error) { return s, nil }
	stopped := func() []string {
		var out []string
		for _, p := range pods {
			if _, ok := k.admission.stopFor(p.UID); ok {
				out = append(out, string(p.UID))
			}
		}
		return out
	}

	// No pressure at all: every pod over a limit of its own goes in the
	// one pass; static, critical and deleted pods stay.
	k.eviction.synchronize(cancelled())
	if got, want := stopped(), []string{"emptydir", "pod-total", "container"}; !slices.Equal(got, want) {
		t.Fatalf("first pass evicted %v; want %v", got, want)
	}
	if k.eviction.memoryPressure.Load() || k.eviction.diskPressure.Load() {
		t.Errorf("pressure memory %v disk %v; want none", k.eviction.memoryPressure.Load(), k.eviction.diskPressure.Load())
	}

	// Memory pressure and a pod over its limit: the limit's eviction
	// alone this pass, the condition set all the same; the pressure's
	// eviction the next pass.
	pods = append(pods, withEmptyDir(limitsPod("late", ""), "cache", "", "1Mi"))
	s.Pods = append(s.Pods, storageStats("late", []ContainerStats{ws("c0", 10*mi)}, map[string]uint64{"cache": 2 * mi}))
	s.Pods = append(s.Pods, storageStats("hog", []ContainerStats{ws("c0", gi)}, nil))
	pods = append(pods, limitsPod("hog", ""))
	s.Node.Memory = &MemoryStats{AvailableBytes: u64(10 * mi)}
	clk.Step(k.eviction.cfg.Period)
	k.eviction.synchronize(cancelled())
	if got, want := stopped(), []string{"emptydir", "pod-total", "container", "late"}; !slices.Equal(got, want) {
		t.Fatalf("second pass: evicted %v; want %v (no eviction for memory)", got, want)
	}
	if !k.eviction.memoryPressure.Load() {
		t.Error("no memory pressure at 10Mi available")
	}
	clk.Step(k.eviction.cfg.Period)
	k.eviction.synchronize(cancelled())
	if got, want := stopped(), []string{"emptydir", "pod-total", "container", "late", "hog"}; !slices.Equal(got, want) {
		t.Fatalf("third pass: evicted %v; want %v (hog for memory)", got, want)
	}
}
