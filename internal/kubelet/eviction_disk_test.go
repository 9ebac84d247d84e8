package kubelet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestParseEvictionHard(t *testing.T) {
	q := func(s string) Threshold { v := resource.MustParse(s); return Threshold{Quantity: &v} }
	pct := func(f float64) Threshold { return Threshold{Percentage: f} }
	tests := []struct {
		name    string
		in      string
		want    map[Signal]Threshold
		wantErr string
	}{
		{"upstream default", DefaultEvictionHard, map[Signal]Threshold{
			SignalMemoryAvailable: q("100Mi"), SignalNodeFsAvailable: pct(10), SignalNodeFsInodesFree: pct(5),
			SignalImageFsAvailable: pct(15), SignalImageFsInodesFree: pct(5),
		}, ""},
		{"spaces and a trailing comma", " memory.available < 1Gi , nodefs.available<12.5%,", map[Signal]Threshold{
			SignalMemoryAvailable: q("1Gi"), SignalNodeFsAvailable: pct(12.5),
		}, ""},
		{"inodes as a count", "nodefs.inodesFree<1000", map[Signal]Threshold{SignalNodeFsInodesFree: q("1000")}, ""},
		{"0% and 100% are off", "imagefs.available<0%,nodefs.available<100%", map[Signal]Threshold{
			SignalImageFsAvailable: {}, SignalNodeFsAvailable: {},
		}, ""},
		{"empty", "", map[Signal]Threshold{}, ""},
		{"no operator", "memory.available=100Mi", nil, "want SIGNAL<VALUE"},
		{"greater than", "memory.available>100Mi", nil, "only the < operator"},
		{"unknown signal", "pid.available<10%", nil, `unsupported signal "pid.available"`},
		{"twice", "memory.available<1Gi,memory.available<2Gi", nil, "given twice"},
		{"no value", "memory.available<", nil, "no value"},
		{"bad quantity", "memory.available<lots", nil, `"lots" is neither a quantity nor a percentage`},
		{"bad percentage", "nodefs.available<ten%", nil, `"ten%" is not a percentage`},
		{"over 100%", "nodefs.available<101%", nil, "between 0% and 100%"},
		{"negative percentage", "nodefs.available<-1%", nil, "between 0% and 100%"},
		{"zero quantity", "memory.available<0", nil, "must be positive"},
		{"negative quantity", "memory.available<-1Mi", nil, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvictionHard(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for sig, w := range tt.want {
				g, ok := got[sig]
				if !ok || g.Off() != w.Off() || g.String() != w.String() {
					t.Errorf("%s: got %v (off %v); want %v (off %v)", sig, g, g.Off(), w, w.Off())
				}
			}
		})
	}
}

func TestEvictionConfigDefaultsAndSetHard(t *testing.T) {
	var def EvictionConfig
	def.setDefaults()
	var given EvictionConfig
	hard, err := ParseEvictionHard("memory.available<1Gi,imagefs.available<20%")
	if err != nil {
		t.Fatal(err)
	}
	given.SetHard(hard)
	given.setDefaults()
	tests := []struct {
		sig          Signal
		def, onlyTwo string // "" is off
	}{
		{SignalMemoryAvailable, "100Mi", "1Gi"},
		{SignalNodeFsAvailable, "10%", ""},
		{SignalNodeFsInodesFree, "5%", ""},
		{SignalImageFsAvailable, "15%", "20%"},
		{SignalImageFsInodesFree, "5%", ""},
	}
	show := func(th Threshold) string {
		if th.Off() {
			return ""
		}
		return th.String()
	}
	for _, tt := range tests {
		if got := show(def.threshold(tt.sig)); got != tt.def {
			t.Errorf("default %s: got %q; want %q", tt.sig, got, tt.def)
		}
		if got := show(given.threshold(tt.sig)); got != tt.onlyTwo {
			t.Errorf("--eviction-hard with two signals, %s: got %q; want %q (off when left out)", tt.sig, got, tt.onlyTwo)
		}
	}
}

// fsOf is a filesystem of capacity bytes (and 1000 inodes per GiB) with
// available bytes and inodesFree inodes free.
func fsOf(capacity, available, inodesFree uint64) *FsStats {
	return &FsStats{CapacityBytes: u64(capacity), AvailableBytes: u64(available), Inodes: u64(capacity >> 30 * 1000), InodesFree: u64(inodesFree)}
}

// diskSummary is a node whose nodefs and imagefs are one 100Gi
// filesystem with available bytes free (and 100000 inodes, plenty free).
func diskSummary(available uint64, pods ...PodStats) *Summary {
	fs := fsOf(100<<30, available, 50000)
	return &Summary{Node: NodeStats{Fs: fs, Runtime: &RuntimeStats{ImageFs: fs}}, Pods: pods}
}

// diskUse is a container's stats: its writable layer and logs, in bytes.
func diskUse(name string, rootfs, logs uint64) ContainerStats {
	c := ContainerStats{Name: name, Rootfs: &FsStats{UsedBytes: u64(rootfs), InodesUsed: u64(rootfs >> 20)}}
	if logs > 0 {
		c.Logs = &FsStats{UsedBytes: u64(logs), InodesUsed: u64(1)}
	}
	return c
}

// podStatsOf is uid's pod stats, with containers and emptyDir volumes of
// the given sizes.
func podStatsOf(uid string, containers []ContainerStats, volumes ...uint64) PodStats {
	ps := PodStats{PodRef: PodReference{Namespace: "ns", Name: uid, UID: uid}, Containers: containers}
	for i, v := range volumes {
		ps.VolumeStats = append(ps.VolumeStats, VolumeStats{Name: "v" + string(rune('0'+i)), FsStats: FsStats{UsedBytes: u64(v), InodesUsed: u64(v >> 20)}})
	}
	return ps
}

func TestDiskSignals(t *testing.T) {
	const gi = 1 << 30
	q := func(s string) *Threshold { v := resource.MustParse(s); return &Threshold{Quantity: &v} }
	tests := []struct {
		name    string
		cfg     EvictionConfig
		summary *Summary
		want    string // signal=threshold, comma-separated
	}{
		{"plenty free", EvictionConfig{}, diskSummary(50 * gi), ""},
		{"nodefs and imagefs under their percentages", EvictionConfig{}, diskSummary(9 * gi),
			"nodefs.available=10Gi,imagefs.available=15Gi"},
		{"only the imagefs percentage", EvictionConfig{}, diskSummary(12 * gi), "imagefs.available=15Gi"},
		{"exactly at the threshold is no pressure", EvictionConfig{}, diskSummary(15 * gi), ""},
		{"absolute thresholds", EvictionConfig{NodeFsAvailable: q("20Gi"), ImageFsAvailable: q("1Gi")}, diskSummary(19 * gi),
			"nodefs.available=20Gi"},
		{"signals turned off", EvictionConfig{NodeFsAvailable: &Threshold{}, ImageFsAvailable: &Threshold{}}, diskSummary(1 * gi), ""},
		{"inodes", EvictionConfig{}, &Summary{Node: NodeStats{
			Fs: fsOf(100*gi, 50*gi, 4999), Runtime: &RuntimeStats{ImageFs: fsOf(100*gi, 50*gi, 50000)},
		}}, "nodefs.inodesFree=5000"},
		{"inodes as a count", EvictionConfig{ImageFsInodesFree: q("60000")}, diskSummary(50 * gi),
			"imagefs.inodesFree=60k"},
		{"separate image filesystem", EvictionConfig{}, &Summary{Node: NodeStats{
			Fs: fsOf(100*gi, 50*gi, 50000), Runtime: &RuntimeStats{ImageFs: fsOf(10*gi, 1*gi, 10000)},
		}}, "imagefs.available=1536Mi"},
		{"no filesystem stats", EvictionConfig{}, &Summary{}, ""},
		{"capacity unknown: only quantities trigger", EvictionConfig{NodeFsAvailable: q("1Gi")}, &Summary{Node: NodeStats{
			Fs: &FsStats{AvailableBytes: u64(gi / 2)}, Runtime: &RuntimeStats{ImageFs: &FsStats{AvailableBytes: u64(1)}},
		}}, "nodefs.available=1Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, tt.cfg)
			var got []string
			for _, ms := range k.eviction.diskMet(tt.summary) {
				got = append(got, string(ms.signal)+"="+ms.threshold.String())
			}
			if g := strings.Join(got, ","); g != tt.want {
				t.Errorf("got %q; want %q", g, tt.want)
			}
		})
	}
}

// diskPod is a pod with an ephemeral-storage request (none when "") and
// a priority.
func diskPod(uid, request string, priority int32) *corev1.Pod {
	p := podWith(uid, corev1.ResourceList{})
	p.Spec.Containers[0].Name = "c"
	if request != "" {
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse(request)
	}
	p.Spec.Priority = &priority
	return p
}

func TestDiskEvictionRanking(t *testing.T) {
	const gi = 1 << 30
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	write(t, filepath.Join(k.cfg.StaticPodDir, "s.yaml"), "metadata:\n  name: s\nspec:\n  containers:\n  - name: c\n    image: i\n")
	k.syncStaticPods(cancelled())
	static := k.staticPodList()[0]

	deleting := diskPod("deleting", "", 0)
	deleting.DeletionTimestamp = &metav1.Time{}
	pods := []*corev1.Pod{
		diskPod("under-request", "10Gi", 0),
		diskPod("over-small", "1Gi", 0),
		diskPod("over-big", "", 0),
		diskPod("over-important", "", 1000),
		diskPod("critical", "", systemCriticalPriority),
		deleting,
		diskPod("no-stats", "", 0),
		static,
	}
	k.eviction.pods = func() []*corev1.Pod { return pods }
	k.eviction.imageFsDedicated = func(context.Context) bool { return false }
	summary := diskSummary(5*gi,
		podStatsOf("under-request", []ContainerStats{diskUse("c", 6*gi, 2*gi)}),
		// 2Gi of which 1Gi in an emptyDir: over its 1Gi request.
		podStatsOf("over-small", []ContainerStats{diskUse("c", gi/2, gi/2)}, gi),
		podStatsOf("over-big", []ContainerStats{diskUse("c", 5*gi, 0)}),
		podStatsOf("over-important", []ContainerStats{diskUse("c", 50*gi, 0)}),
		podStatsOf("critical", []ContainerStats{diskUse("c", 90*gi, 0)}),
		podStatsOf("deleting", []ContainerStats{diskUse("c", 90*gi, 0)}),
		podStatsOf(string(static.UID), []ContainerStats{diskUse("c", 90*gi, 0)}),
	)
	k.eviction.summary = func(context.Context) (*Summary, error) { return summary, nil }

	// Over-request pods first, lower priority first, larger use beyond the
	// request first; static, critical and deleted pods never. A pod told
	// to stop is not chosen again.
	for _, want := range []string{"over-big", "over-small", "over-important", "under-request", ""} {
		if got := k.eviction.checkDisk(cancelled(), summary, true); got != want {
			t.Fatalf("evicted %q; want %q", got, want)
		}
		if !k.eviction.diskPressure.Load() {
			t.Fatal("no disk pressure at 5Gi of 100Gi available")
		}
	}
	order, ok := k.admission.stopFor("over-big")
	wantMsg := "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. " +
		"Container c was using 5Gi, request is 0, has larger consumption of ephemeral-storage. "
	if !ok || order.reason != "Evicted" || order.message != wantMsg {
		t.Errorf("stop order %+v; want Evicted %q", order, wantMsg)
	}
}

// sizedImages is a fakeImages whose removals free their size on a
// filesystem the test's summary reads.
type sizedImages struct {
	fakeImages
	sizes map[string]uint64
}

func (f *sizedImages) freed() uint64 {
	var n uint64
	for _, id := range f.removed {
		n += f.sizes[id]
	}
	return n
}

func newSizedImages(images ...*runtimeapi.Image) *sizedImages {
	f := &sizedImages{fakeImages: fakeImages{images: images}, sizes: map[string]uint64{}}
	for _, im := range images {
		f.sizes[im.Id] = im.Size
	}
	return f
}

func TestDiskPressureReclaimsImagesFirst(t *testing.T) {
	const gi = 1 << 30
	nodefs20 := &Threshold{Percentage: 20}
	tests := []struct {
		name        string
		cfg         EvictionConfig
		available   uint64 // before any image goes
		wantRemoved string
		wantEvicted string
		wantMsg     string
	}{
		// 9Gi free: 6Gi wanted for imagefs.available<15%; the two least
		// recently used images (3Gi + 4Gi) are enough.
		{"images are enough", EvictionConfig{}, 9 * gi, "sha256:a,sha256:b", "", ""},
		// nodefs.available<20%: 11Gi wanted, the most of the two signals.
		{"the most demanding signal sets the target", EvictionConfig{NodeFsAvailable: nodefs20}, 9 * gi,
			"sha256:a,sha256:b,sha256:c", "", ""},
		// 2Gi free: 13Gi wanted; every removable image (12Gi) is not
		// enough, and the eviction reports the stats read after removing.
		{"images are not enough", EvictionConfig{}, 2 * gi, "sha256:a,sha256:b,sha256:c", "hog",
			"The node was low on resource: ephemeral-storage. Threshold quantity: 15Gi, available: 14Gi. " +
				"Container c was using 3Gi, request is 0, has larger consumption of ephemeral-storage. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := newSizedImages(
				&runtimeapi.Image{Id: "sha256:a", Size: 3 * gi},
				&runtimeapi.Image{Id: "sha256:used", Size: 10 * gi},
				&runtimeapi.Image{Id: "sha256:b", Size: 4 * gi},
				&runtimeapi.Image{Id: "sha256:pause", Size: gi, Pinned: true},
			)
			rt := &fakeRuntime{containers: []*runtimeapi.Container{{Id: "c1", ImageRef: "sha256:used"}}}
			k, clk := newTestKubelet(t, rt, img, tt.cfg)
			k.eviction.imageFsDedicated = func(context.Context) bool { return false }
			k.eviction.imageFs = func(context.Context) (uint64, uint64, error) { return 100 * gi, 10 * gi, nil }
			pods := []*corev1.Pod{diskPod("hog", "", 0)}
			k.eviction.pods = func() []*corev1.Pod { return pods }
			stats := podStatsOf("hog", []ContainerStats{diskUse("c", 2*gi, gi)})
			k.eviction.summary = func(context.Context) (*Summary, error) {
				return diskSummary(tt.available+img.freed(), stats), nil
			}

			// The periodic pass first sees a and b; c comes a minute later;
			// two minutes on (ImageMinimumGCAge) all three may go, a and b
			// first.
			k.eviction.collectImages(context.Background())
			clk.Step(time.Minute)
			img.images = append(img.images, &runtimeapi.Image{Id: "sha256:c", Size: 5 * gi})
			img.sizes["sha256:c"] = 5 * gi
			k.eviction.collectImages(context.Background())
			clk.Step(2 * time.Minute)

			s, _ := k.eviction.summary(context.Background())
			got := k.eviction.checkDisk(cancelled(), s, true)
			if removed := strings.Join(img.removed, ","); removed != tt.wantRemoved {
				t.Errorf("removed %s; want %s", removed, tt.wantRemoved)
			}
			if got != tt.wantEvicted {
				t.Fatalf("evicted %q; want %q", got, tt.wantEvicted)
			}
			if !k.eviction.diskPressure.Load() {
				t.Error("no disk pressure in the pass that found it")
			}
			if tt.wantEvicted != "" {
				order, _ := k.admission.stopFor("hog")
				if order.message != tt.wantMsg {
					t.Errorf("message %q; want %q", order.message, tt.wantMsg)
				}
			}
		})
	}
}

func TestDiskPressureDedicatedImageFs(t *testing.T) {
	const gi = 1 << 30
	img := newSizedImages(&runtimeapi.Image{Id: "sha256:a", Size: 3 * gi})
	k, clk := newTestKubelet(t, &fakeRuntime{}, img, EvictionConfig{})
	k.eviction.imageFsDedicated = func(context.Context) bool { return true }
	k.eviction.imageFs = func(context.Context) (uint64, uint64, error) { return 100 * gi, 0, nil }
	k.eviction.collectImages(context.Background())
	clk.Step(time.Hour)
	pods := []*corev1.Pod{diskPod("big-layer", "", 0), diskPod("big-logs", "", 0)}
	k.eviction.pods = func() []*corev1.Pod { return pods }
	// nodefs low, imagefs fine: images are elsewhere, so none goes, and
	// only logs and volumes count: big-logs goes, not big-layer.
	s := &Summary{
		Node: NodeStats{Fs: fsOf(100*gi, 5*gi, 50000), Runtime: &RuntimeStats{ImageFs: fsOf(100*gi, 50*gi, 50000)}},
		Pods: []PodStats{
			podStatsOf("big-layer", []ContainerStats{diskUse("c", 40*gi, gi)}),
			podStatsOf("big-logs", []ContainerStats{diskUse("c", gi, gi)}, 2*gi),
		},
	}
	k.eviction.summary = func(context.Context) (*Summary, error) { return s, nil }
	if got := k.eviction.checkDisk(cancelled(), s, true); got != "big-logs" || len(img.removed) != 0 {
		t.Fatalf("evicted %q, removed %v; want big-logs and no image removed", got, img.removed)
	}
}

func TestDiskMeasure(t *testing.T) {
	const mi = 1 << 20
	ps := podStatsOf("p", []ContainerStats{diskUse("a", 10*mi, 1*mi), diskUse("b", 20*mi, 0)}, 100*mi)
	tests := []struct {
		sig       Signal
		dedicated bool
		want      int64
	}{
		{SignalNodeFsAvailable, false, 131 * mi},
		{SignalImageFsAvailable, false, 131 * mi},
		{SignalNodeFsAvailable, true, 101 * mi},
		{SignalImageFsAvailable, true, 30 * mi},
		{SignalNodeFsInodesFree, false, 10 + 1 + 20 + 100},
		{SignalNodeFsInodesFree, true, 1 + 100},
		{SignalImageFsInodesFree, true, 30},
	}
	for _, tt := range tests {
		if got := diskMeasureFor(tt.sig, tt.dedicated).usage(ps); got != tt.want {
			t.Errorf("%s (dedicated imagefs %v): got %d; want %d", tt.sig, tt.dedicated, got, tt.want)
		}
	}
}

func TestDiskEvictionMessage(t *testing.T) {
	const gi = 1 << 30
	pod := podWith("p", corev1.ResourceList{}, corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}, corev1.ResourceList{})
	ps := podStatsOf("p", []ContainerStats{
		diskUse("c0", gi, gi/2),                          // over its empty request
		diskUse("c1", gi/2, gi/4),                        // under its 1Gi request
		{Name: "c2", Logs: &FsStats{UsedBytes: u64(gi)}}, // no writable layer stats
		diskUse("gone", 5*gi, 0),                         // not in the spec
	})
	tenGi, fiveK := resource.MustParse("10Gi"), resource.MustParse("5000")
	tests := []struct {
		name string
		ms   metSignal
		want string
	}{
		{"bytes", metSignal{signal: SignalNodeFsAvailable, threshold: &tenGi, obs: observation{available: 5 * gi}},
			"The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. " +
				"Container c0 was using 1536Mi, request is 0, has larger consumption of ephemeral-storage. "},
		{"percentage of capacity", metSignal{signal: SignalImageFsAvailable,
			threshold: Threshold{Percentage: 15}.quantity(100 * gi), obs: observation{available: 1234567890}},
			"The node was low on resource: ephemeral-storage. Threshold quantity: 15Gi, available: 1234567890. " +
				"Container c0 was using 1536Mi, request is 0, has larger consumption of ephemeral-storage. "},
		{"inodes", metSignal{signal: SignalNodeFsInodesFree, threshold: &fiveK, obs: observation{available: 4000}},
			"The node was low on resource: inodes. Threshold quantity: 5k, available: 4k. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diskEvictionMessage(tt.ms, pod, ps); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// readyRuntime answers Status as a ready runtime, for nodeStatus.
type readyRuntime struct{ fakeRuntime }

func (readyRuntime) Status(context.Context, *runtimeapi.StatusRequest, ...grpc.CallOption) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{}}, nil
}

func TestDiskPressureCondition(t *testing.T) {
	const gi = 1 << 30
	k, _ := newTestKubelet(t, &readyRuntime{}, &fakeImages{}, EvictionConfig{})
	k.eviction.pods = func() []*corev1.Pod { return nil }
	k.eviction.imageFsDedicated = func(context.Context) bool { return false }
	k.eviction.summary = func(context.Context) (*Summary, error) { return diskSummary(gi), nil }
	condition := func() corev1.NodeCondition {
		for _, c := range k.nodeStatus(context.Background(), corev1.NodeStatus{}).Conditions {
			if c.Type == corev1.NodeDiskPressure {
				return c
			}
		}
		t.Fatal("no DiskPressure condition")
		return corev1.NodeCondition{}
	}
	steps := []struct {
		name            string
		available       uint64
		act             bool
		status          corev1.ConditionStatus
		reason, message string
	}{
		{"plenty", 50 * gi, true, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		{"low", gi, true, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure"},
		// A pass where memory already evicted still reports disk pressure.
		{"low, memory evicted first", gi, false, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure"},
		{"back", 20 * gi, true, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
	}
	for _, st := range steps {
		k.eviction.checkDisk(cancelled(), diskSummary(st.available), st.act)
		c := condition()
		if c.Status != st.status || c.Reason != st.reason || c.Message != st.message {
			t.Errorf("%s: got %s %s %q; want %s %s %q", st.name, c.Status, c.Reason, c.Message, st.status, st.reason, st.message)
		}
	}
}

func TestOneEvictionPerPass(t *testing.T) {
	const gi = 1 << 30
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	pods := []*corev1.Pod{diskPod("memory-hog", "", 0), diskPod("disk-hog", "", 0)}
	k.eviction.pods = func() []*corev1.Pod { return pods }
	k.eviction.imageFsDedicated = func(context.Context) bool { return false }
	k.eviction.imageFs = func(context.Context) (uint64, uint64, error) { return 100 * gi, 10 * gi, nil }
	s := diskSummary(gi,
		podStatsOf("memory-hog", []ContainerStats{ws("c", gi)}),
		podStatsOf("disk-hog", []ContainerStats{diskUse("c", 50*gi, 0)}),
	)
	s.Node.Memory = &MemoryStats{AvailableBytes: u64(10 << 20)}
	k.eviction.summary = func(context.Context) (*Summary, error) { return s, nil }

	// Memory goes first; disk waits for the next pass.
	k.eviction.synchronize(cancelled())
	_, memoryHog := k.admission.stopFor("memory-hog")
	_, diskHog := k.admission.stopFor("disk-hog")
	if !memoryHog || diskHog || !k.eviction.memoryPressure.Load() || !k.eviction.diskPressure.Load() {
		t.Fatalf("first pass: memory-hog evicted %v, disk-hog evicted %v, pressure memory %v disk %v; want only memory-hog, both pressures",
			memoryHog, diskHog, k.eviction.memoryPressure.Load(), k.eviction.diskPressure.Load())
	}
	s.Node.Memory = &MemoryStats{AvailableBytes: u64(gi)}
	k.eviction.synchronize(cancelled())
	order, diskHog := k.admission.stopFor("disk-hog")
	if !diskHog || !strings.HasPrefix(order.message, "The node was low on resource: ephemeral-storage.") {
		t.Errorf("second pass: disk-hog evicted %v (%q); want evicted for ephemeral-storage", diskHog, order.message)
	}
}

func TestEmptyDirStats(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	dir := filepath.Join(k.podDir("p"), "volumes", emptyDirPlugin)
	write(t, filepath.Join(dir, "cache", "a"), strings.Repeat("x", 1000))
	write(t, filepath.Join(dir, "cache", "sub", "b"), strings.Repeat("x", 500))
	write(t, filepath.Join(dir, "empty", ".keep"), "")
	now := metav1.NewTime(time.Unix(1, 0))
	vs := k.emptyDirStats("p", now)
	if len(vs) != 2 || vs[0].Name != "cache" || vs[1].Name != "empty" {
		t.Fatalf("volumes %+v; want cache and empty", vs)
	}
	// Directories count their own size; the files are 1500 bytes.
	if used := *vs[0].UsedBytes; used < 1500 || *vs[0].InodesUsed != 4 {
		t.Errorf("cache: %d bytes in %d inodes; want at least 1500 in 4", used, *vs[0].InodesUsed)
	}
	if got := k.emptyDirStats("other", now); got != nil {
		t.Errorf("a pod without volumes: %+v", got)
	}
	eph := ephemeral([]ContainerStats{diskUse("c", 100, 10)}, vs, now)
	if want := 110 + *vs[0].UsedBytes + *vs[1].UsedBytes; *eph.UsedBytes != want {
		t.Errorf("ephemeral storage %d; want %d (layer, logs and volumes)", *eph.UsedBytes, want)
	}
}
