package kubelet

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Node-pressure eviction, local storage limits and image garbage
// collection.
//
// Every EvictionConfig.Period the manager reads the stats summary. It
// first evicts every pod using more local storage than its own limits
// allow (an emptyDir's sizeLimit, limits.ephemeral-storage; see
// eviction_local.go), whatever the node's pressure. Then it compares
// each eviction signal with its hard threshold (upstream's
// --eviction-hard; a signal is under its threshold when what is available
// is less than the threshold's quantity or percentage of capacity):
//
//   - memory.available (the node's capacity minus its working set) sets
//     the MemoryPressure condition and evicts one pod: BestEffort pods
//     first, then Burstable pods using more memory than they request, the
//     largest user first within each group.
//   - nodefs.available, nodefs.inodesFree (the filesystem of RootDir) and
//     imagefs.available, imagefs.inodesFree (the runtime's image
//     filesystem) set the DiskPressure condition. Node-level resources are
//     reclaimed first, as upstream does: unused images are removed (least
//     recently used first, none younger than ImageMinimumGCAge) until
//     every signal met is back over its threshold, or all of them for an
//     inodes signal. When the image filesystem is a separate one, nodefs
//     pressure removes no images (they are not there). Only if the
//     summary, read again, still shows pressure is one pod evicted, ranked
//     as upstream ranks for disk: pods using more of the filesystem than
//     they request (ephemeral-storage; no request for inodes) first, then
//     lower priority first, then the largest use beyond the request first.
//     Use is the pods' writable layers, container logs and disk-backed
//     emptyDir volumes, as much of it as lies on the filesystem under
//     pressure.
//
// At most one pod is evicted per pass for pressure (memory is looked at
// first), and none in a pass that evicted for local storage limits. An
// evicted pod is stopped and failed with reason Evicted and upstream's
// message. Static pods, critical pods (priority at least
// system-cluster-critical's) and pods already being stopped are never
// chosen. Dead containers are not reclaimed here: each pod's worker
// removes them (all but the newest two of each container, and all of a
// pod that is gone).
//
// The conditions follow the last pass: True while a threshold is met,
// False from the first pass that finds none (there is no
// pressure-transition period).
//
// Image garbage collection runs every ImageGCPeriod: when the image
// filesystem is used above ImageGCHighThresholdPercent, images no
// container uses (and not pinned, and older than ImageMinimumGCAge) are
// removed, least recently used first, until usage is down to
// ImageGCLowThresholdPercent.

// Signal names an eviction signal as upstream's --eviction-hard does.
type Signal string

// The eviction signals the agent observes.
const (
	SignalMemoryAvailable   Signal = "memory.available"
	SignalNodeFsAvailable   Signal = "nodefs.available"
	SignalNodeFsInodesFree  Signal = "nodefs.inodesFree"
	SignalImageFsAvailable  Signal = "imagefs.available"
	SignalImageFsInodesFree Signal = "imagefs.inodesFree"
)

// diskSignals are the signals behind DiskPressure, in the order they are
// acted on when several are met; allSignals adds memory's.
var (
	diskSignals = []Signal{SignalNodeFsAvailable, SignalNodeFsInodesFree, SignalImageFsAvailable, SignalImageFsInodesFree}
	allSignals  = append([]Signal{SignalMemoryAvailable}, diskSignals...)
)

// inodes reports whether sig counts inodes rather than bytes.
func (sig Signal) inodes() bool {
	return sig == SignalNodeFsInodesFree || sig == SignalImageFsInodesFree
}

// nodefs reports whether sig is about RootDir's filesystem.
func (sig Signal) nodefs() bool {
	return sig == SignalNodeFsAvailable || sig == SignalNodeFsInodesFree
}

// DefaultEvictionHard is upstream's default --eviction-hard on Linux.
const DefaultEvictionHard = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%,imagefs.inodesFree<5%"

// defaultHard is DefaultEvictionHard parsed.
var defaultHard = func() map[Signal]Threshold {
	hard, err := ParseEvictionHard(DefaultEvictionHard)
	if err != nil {
		panic(err)
	}
	return hard
}()

// Threshold is a hard eviction threshold: a signal meets it when what is
// available is less than Quantity (bytes, or inodes for the inodes
// signals), or less than Percentage percent of the capacity. The zero
// Threshold is off: nothing meets it.
type Threshold struct {
	Quantity *resource.Quantity
	// Percentage is in (0, 100).
	Percentage float64
}

// Off reports whether t never triggers.
func (t Threshold) Off() bool { return t.Quantity == nil && t.Percentage == 0 }

// String returns t in --eviction-hard syntax ("100Mi", "10%"), or "0%"
// when off.
func (t Threshold) String() string {
	if t.Quantity != nil {
		return t.Quantity.String()
	}
	return strconv.FormatFloat(t.Percentage, 'f', -1, 64) + "%"
}

// quantity is t for a signal whose capacity is capacity: the Quantity
// itself, or the percentage of capacity (binary units, as upstream
// reports it). It is nil when t is off.
func (t Threshold) quantity(capacity int64) *resource.Quantity {
	switch {
	case t.Quantity != nil:
		return t.Quantity
	case t.Percentage > 0:
		return resource.NewQuantity(int64(float64(capacity)*t.Percentage/100), resource.BinarySI)
	}
	return nil
}

// ParseEvictionHard parses upstream's --eviction-hard syntax: a
// comma-separated list of SIGNAL<VALUE, VALUE a quantity
// ("memory.available<100Mi", "nodefs.inodesFree<1000") or a percentage of
// capacity ("nodefs.available<10%"). As upstream, 0% and 100% turn the
// signal off. The map holds one entry per signal named; an empty string
// gives an empty map.
func ParseEvictionHard(s string) (map[Signal]Threshold, error) {
	out := map[Signal]Threshold{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "<")
		if !ok {
			if strings.Contains(item, ">") {
				return nil, fmt.Errorf("eviction threshold %q: only the < operator is supported", item)
			}
			return nil, fmt.Errorf("eviction threshold %q: want SIGNAL<VALUE, e.g. memory.available<100Mi or nodefs.available<10%%", item)
		}
		sig := Signal(strings.TrimSpace(name))
		if !slices.Contains(allSignals, sig) {
			return nil, fmt.Errorf("eviction threshold %q: unsupported signal %q (supported: %s)", item, sig, signalList())
		}
		if _, dup := out[sig]; dup {
			return nil, fmt.Errorf("eviction threshold %q: signal %s is given twice", item, sig)
		}
		t, err := parseThresholdValue(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("eviction threshold %q: %w", item, err)
		}
		out[sig] = t
	}
	return out, nil
}

func parseThresholdValue(v string) (Threshold, error) {
	if v == "" {
		return Threshold{}, fmt.Errorf("no value")
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Threshold{}, fmt.Errorf("%q is not a percentage", v)
		}
		if f < 0 || f > 100 {
			return Threshold{}, fmt.Errorf("percentage %s must be between 0%% and 100%%", v)
		}
		if f == 0 || f == 100 {
			return Threshold{}, nil // off, as upstream
		}
		return Threshold{Percentage: f}, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return Threshold{}, fmt.Errorf("%q is neither a quantity nor a percentage", v)
	}
	if q.Sign() <= 0 {
		return Threshold{}, fmt.Errorf("quantity %s must be positive", v)
	}
	return Threshold{Quantity: &q}, nil
}

func signalList() string {
	var names []string
	for _, s := range allSignals {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// EvictionConfig holds the thresholds; zero fields take the defaults.
type EvictionConfig struct {
	// Hard thresholds of the signals, upstream's defaults when nil:
	// memory.available<100Mi, nodefs.available<10%,
	// nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%.
	// A zero Threshold turns the signal off. SetHard sets them all.
	MemoryAvailable   *Threshold
	NodeFsAvailable   *Threshold
	NodeFsInodesFree  *Threshold
	ImageFsAvailable  *Threshold
	ImageFsInodesFree *Threshold
	// Period is how often pressure is checked (10 s).
	Period time.Duration
	// ImageGCHighThresholdPercent (85) and ImageGCLowThresholdPercent (80)
	// bound the image filesystem's usage.
	ImageGCHighThresholdPercent int
	ImageGCLowThresholdPercent  int
	// ImageGCPeriod is how often image usage is checked (5 min).
	ImageGCPeriod time.Duration
	// ImageMinimumGCAge is how long an unused image is kept (2 min).
	ImageMinimumGCAge time.Duration
}

// field returns where c keeps sig's threshold.
func (c *EvictionConfig) field(sig Signal) **Threshold {
	switch sig {
	case SignalMemoryAvailable:
		return &c.MemoryAvailable
	case SignalNodeFsAvailable:
		return &c.NodeFsAvailable
	case SignalNodeFsInodesFree:
		return &c.NodeFsInodesFree
	case SignalImageFsAvailable:
		return &c.ImageFsAvailable
	case SignalImageFsInodesFree:
		return &c.ImageFsInodesFree
	}
	panic("kubelet: unknown eviction signal " + string(sig))
}

// threshold is sig's threshold; call after setDefaults.
func (c *EvictionConfig) threshold(sig Signal) Threshold { return **c.field(sig) }

// SetHard replaces every hard threshold with hard's (as from
// ParseEvictionHard). As upstream's --eviction-hard, a signal hard leaves
// out is turned off, not defaulted.
func (c *EvictionConfig) SetHard(hard map[Signal]Threshold) {
	for _, sig := range allSignals {
		*c.field(sig) = hard[sig].deepCopy()
	}
}

// deepCopy returns a copy of t sharing nothing with it (a Quantity caches
// its string form, so a shared one is written from two goroutines).
func (t Threshold) deepCopy() *Threshold {
	if t.Quantity != nil {
		q := t.Quantity.DeepCopy()
		t.Quantity = &q
	}
	return &t
}

func (c *EvictionConfig) setDefaults() {
	for _, sig := range allSignals {
		if f := c.field(sig); *f == nil {
			*f = defaultHard[sig].deepCopy()
		} else {
			*f = (*f).deepCopy()
		}
	}
	if c.Period == 0 {
		c.Period = 10 * time.Second
	}
	if c.ImageGCHighThresholdPercent == 0 {
		c.ImageGCHighThresholdPercent = 85
	}
	if c.ImageGCLowThresholdPercent == 0 {
		c.ImageGCLowThresholdPercent = 80
	}
	if c.ImageGCPeriod == 0 {
		c.ImageGCPeriod = 5 * time.Minute
	}
	if c.ImageMinimumGCAge == 0 {
		c.ImageMinimumGCAge = 2 * time.Minute
	}
}

// observation is a signal's reading from the summary: what is available
// and the capacity percentages are taken of (0 when unknown; percentage
// thresholds then never trigger).
type observation struct {
	available, capacity int64
}

// observe reads every signal the summary has.
func observe(s *Summary) map[Signal]observation {
	out := map[Signal]observation{}
	if m := s.Node.Memory; m != nil && m.AvailableBytes != nil {
		o := observation{available: int64(*m.AvailableBytes)}
		if m.WorkingSetBytes != nil {
			o.capacity = o.available + int64(*m.WorkingSetBytes)
		}
		out[SignalMemoryAvailable] = o
	}
	fs := func(f *FsStats, bytes, inodes Signal) {
		if f == nil {
			return
		}
		read := func(available, capacity *uint64, sig Signal) {
			if available == nil {
				return
			}
			o := observation{available: int64(*available)}
			if capacity != nil {
				o.capacity = int64(*capacity)
			}
			out[sig] = o
		}
		read(f.AvailableBytes, f.CapacityBytes, bytes)
		read(f.InodesFree, f.Inodes, inodes)
	}
	fs(s.Node.Fs, SignalNodeFsAvailable, SignalNodeFsInodesFree)
	if s.Node.Runtime != nil {
		fs(s.Node.Runtime.ImageFs, SignalImageFsAvailable, SignalImageFsInodesFree)
	}
	return out
}

// metSignal is a signal under its threshold.
type metSignal struct {
	signal    Signal
	threshold *resource.Quantity // the threshold in the signal's unit
	obs       observation
}

// met returns sig's reading and threshold if the reading is under it.
func (m *evictionManager) met(obs map[Signal]observation, sig Signal) (metSignal, bool) {
	o, ok := obs[sig]
	if !ok {
		return metSignal{}, false
	}
	q := m.cfg.threshold(sig).quantity(o.capacity)
	if q == nil || o.available >= q.Value() {
		return metSignal{}, false
	}
	return metSignal{signal: sig, threshold: q, obs: o}, true
}

// diskMet returns the disk signals under their thresholds, in
// diskSignals order.
func (m *evictionManager) diskMet(s *Summary) []metSignal {
	obs := observe(s)
	var out []metSignal
	for _, sig := range diskSignals {
		if ms, ok := m.met(obs, sig); ok {
			out = append(out, ms)
		}
	}
	return out
}

// evictionManager watches node pressure. Its seams (summary, pods,
// imageFs, imageFsDedicated) are functions so tests inject what they
// need.
type evictionManager struct {
	k   *Kubelet
	cfg EvictionConfig

	summary func(ctx context.Context) (*Summary, error)
	pods    func() []*corev1.Pod
	// imageFs returns the image filesystem's capacity and used bytes.
	imageFs func(ctx context.Context) (capacity, used uint64, err error)
	// imageFsDedicated reports whether the image filesystem is another
	// filesystem than RootDir's (false when unknown).
	imageFsDedicated func(ctx context.Context) bool

	memoryPressure atomic.Bool
	diskPressure   atomic.Bool

	// mu guards lastUsed and lastGC.
	mu sync.Mutex
	// lastUsed is, by image ID, when a container last used the image (or
	// when it was first seen).
	lastUsed map[string]time.Time
	lastGC   time.Time
}

func newEvictionManager(k *Kubelet, cfg EvictionConfig) *evictionManager {
	cfg.setDefaults()
	m := &evictionManager{k: k, cfg: cfg, lastUsed: map[string]time.Time{}}
	m.summary = k.StatsSummary
	m.pods = k.activePods
	m.imageFs = k.imageFsUsage
	m.imageFsDedicated = k.imageFsDedicated
	return m
}

// run checks pressure every Period until ctx ends.
func (m *evictionManager) run(ctx context.Context) {
	ticker := m.k.clock.NewTicker(m.cfg.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		m.synchronize(ctx)
	}
}

// synchronize does one pass: local storage limits (eviction_local.go),
// then memory and disk pressure with at most one eviction, none if a
// local storage limit evicted a pod; then image garbage collection when
// its period has passed.
func (m *evictionManager) synchronize(ctx context.Context) {
	if s, err := m.summary(ctx); err != nil {
		m.k.log.Warn("eviction: reading stats", "err", err)
	} else if len(m.evictLocalStorage(ctx, s)) > 0 {
		// As upstream: the pressure conditions follow the summary, but
		// eviction for pressure waits for the next pass.
		m.memoryMet(s)
		m.checkDisk(ctx, s, false)
	} else {
		evicted := m.checkMemory(ctx, s)
		m.checkDisk(ctx, s, evicted == "")
	}
	m.mu.Lock()
	due := m.k.clock.Since(m.lastGC) >= m.cfg.ImageGCPeriod
	if due {
		m.lastGC = m.k.clock.Now()
	}
	m.mu.Unlock()
	if due {
		if _, err := m.collectImages(ctx); err != nil && ctx.Err() == nil {
			m.k.log.Warn("image garbage collection", "err", err)
		}
	}
}

// checkMemory sets the memory pressure flag and evicts one pod when
// memory.available is under the threshold. It returns the evicted pod's
// UID, or "".
func (m *evictionManager) checkMemory(ctx context.Context, s *Summary) string {
	ms, ok := m.memoryMet(s)
	if !ok {
		return ""
	}
	victim, container, usage, request := m.pickVictim(s)
	if victim == nil {
		return ""
	}
	msg := fmt.Sprintf("The node was low on resource: memory. Threshold quantity: %s, available: %s. ",
		ms.threshold.String(), resource.NewQuantity(ms.obs.available, resource.BinarySI).String())
	if container != "" {
		msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of memory. ",
			container, resource.NewQuantity(usage, resource.BinarySI).String(), request.String())
	}
	m.evict(ctx, victim, msg)
	return string(victim.UID)
}

// memoryMet sets the memory pressure flag from the summary and returns
// memory.available's reading and threshold when it is under it. A summary
// without memory stats leaves the flag as it was.
func (m *evictionManager) memoryMet(s *Summary) (metSignal, bool) {
	obs := observe(s)
	if _, ok := obs[SignalMemoryAvailable]; !ok {
		return metSignal{}, false
	}
	ms, ok := m.met(obs, SignalMemoryAvailable)
	if !ok {
		if m.memoryPressure.Swap(false) {
			m.k.log.Info("memory pressure over", "available", obs[SignalMemoryAvailable].available)
		}
		return metSignal{}, false
	}
	if !m.memoryPressure.Swap(true) {
		m.k.log.Warn("memory pressure", "available", ms.obs.available, "threshold", ms.threshold.String())
	}
	return ms, true
}

// systemCriticalPriority is the priority of system-cluster-critical; pods
// at or above it are critical (as internal/auth/admission defines it).
const systemCriticalPriority = 2000000000

// evictable reports whether p may be chosen for eviction: not static or
// critical, and not already on its way out.
func (m *evictionManager) evictable(p *corev1.Pod) bool {
	if m.k.static.has(p.UID) || p.DeletionTimestamp != nil {
		return false
	}
	if p.Spec.Priority != nil && *p.Spec.Priority >= systemCriticalPriority {
		return false
	}
	_, stopping := m.k.admission.stopFor(p.UID)
	return !stopping
}

// evict orders the pod's worker to stop it with reason Evicted and msg.
func (m *evictionManager) evict(ctx context.Context, victim *corev1.Pod, msg string) {
	m.k.log.Warn("evicting a pod", "pod", victim.Namespace+"/"+victim.Name, "message", msg)
	m.k.admission.order(victim.UID, stopOrder{reason: "Evicted", message: msg})
	if m.k.recorder != nil {
		m.k.recorder.Event(victim, corev1.EventTypeWarning, "Evicted", msg)
	}
	m.k.wake(ctx, victim.UID, victim.Namespace, victim.Name)
}

// pickVictim ranks the node's pods for memory eviction and returns the
// first, with its largest container's usage and request.
func (m *evictionManager) pickVictim(s *Summary) (pod *corev1.Pod, container string, usage int64, request resource.Quantity) {
	type usageOf struct {
		total     int64
		perName   map[string]int64
		container string // the largest user
	}
	byUID := map[string]usageOf{}
	for _, ps := range s.Pods {
		u := usageOf{perName: map[string]int64{}}
		var top int64 = -1
		for _, c := range ps.Containers {
			if c.Memory == nil || c.Memory.WorkingSetBytes == nil {
				continue
			}
			ws := int64(*c.Memory.WorkingSetBytes)
			u.perName[c.Name] = ws
			u.total += ws
			if ws > top {
				top, u.container = ws, c.Name
			}
		}
		if ps.Memory != nil && ps.Memory.WorkingSetBytes != nil && int64(*ps.Memory.WorkingSetBytes) > u.total {
			u.total = int64(*ps.Memory.WorkingSetBytes)
		}
		byUID[ps.PodRef.UID] = u
	}
	type candidate struct {
		pod   *corev1.Pod
		rank  int // 0 BestEffort, 1 Burstable over its requests
		usage usageOf
	}
	var cands []candidate
	for _, p := range m.pods() {
		if !m.evictable(p) {
			continue
		}
		u, ok := byUID[string(p.UID)]
		if !ok {
			continue
		}
		switch qosClass(p) {
		case corev1.PodQOSBestEffort:
			cands = append(cands, candidate{p, 0, u})
		case corev1.PodQOSBurstable:
			req := podRequests(p)[corev1.ResourceMemory]
			if u.total > req.Value() {
				cands = append(cands, candidate{p, 1, u})
			}
		}
	}
	if len(cands) == 0 {
		return nil, "", 0, resource.Quantity{}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].rank != cands[j].rank {
			return cands[i].rank < cands[j].rank
		}
		return cands[i].usage.total > cands[j].usage.total
	})
	c := cands[0]
	req := resource.MustParse("0")
	if spec := findContainer(c.pod, c.usage.container); spec != nil {
		if r, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok {
			req = r
		}
	}
	return c.pod, c.usage.container, c.usage.perName[c.usage.container], req
}

// checkDisk sets the disk pressure flag from the nodefs and imagefs
// signals. Under pressure, and when act is true (no pod was evicted this
// pass yet), it reclaims node-level resources for the signals met and, if
// the summary read again still shows one met, evicts one pod for the
// first. It returns the evicted pod's UID, or "".
func (m *evictionManager) checkDisk(ctx context.Context, s *Summary, act bool) string {
	met := m.diskMet(s)
	if len(met) == 0 {
		if m.diskPressure.Swap(false) {
			m.k.log.Info("disk pressure over")
		}
		return ""
	}
	if !m.diskPressure.Swap(true) {
		m.k.log.Warn("disk pressure", "signal", met[0].signal, "available", met[0].obs.available, "threshold", met[0].threshold.String())
	}
	if !act {
		return ""
	}
	dedicated := m.imageFsDedicated(ctx)
	if m.reclaim(ctx, met, dedicated) {
		again, err := m.summary(ctx)
		if err != nil {
			m.k.log.Warn("eviction: reading stats after reclaiming", "err", err)
			return ""
		}
		if met = m.diskMet(again); len(met) == 0 {
			m.k.log.Info("disk pressure relieved by removing unused images")
			return ""
		}
		s = again
	}
	ms := met[0]
	victim, ps := m.pickDiskVictim(s, ms.signal, diskMeasureFor(ms.signal, dedicated))
	if victim == nil {
		return ""
	}
	m.evict(ctx, victim, diskEvictionMessage(ms, victim, ps))
	return string(victim.UID)
}

// reclaim frees node-level resources for the signals met, as upstream
// does before evicting: unused images, enough of them to bring every bytes
// signal back over its threshold (all of them when an inodes signal is
// met). Images are not on nodefs when the image filesystem is dedicated,
// so nodefs pressure then reclaims nothing here. It reports whether
// anything was freed.
func (m *evictionManager) reclaim(ctx context.Context, met []metSignal, dedicated bool) bool {
	var target uint64
	for _, ms := range met {
		switch {
		case ms.signal.nodefs() && dedicated:
			// No images there.
		case ms.signal.inodes():
			target = math.MaxUint64
		default:
			target = max(target, uint64(ms.threshold.Value()-ms.obs.available))
		}
	}
	if target == 0 {
		return false
	}
	freed, removed, err := m.reclaimImages(ctx, target)
	if err != nil && ctx.Err() == nil {
		m.k.log.Warn("disk pressure: removing unused images", "err", err)
	}
	if removed > 0 {
		m.k.log.Info("disk pressure: removed unused images", "images", removed, "bytes", freed)
	}
	return removed > 0
}

// diskMeasure says which of a pod's disk use counts for a signal: what
// lies on the filesystem under pressure, in bytes or inodes.
type diskMeasure struct {
	rootfs, logs, volumes bool
	inodes                bool
}

// diskMeasureFor is upstream's choice: with a dedicated image filesystem
// nodefs holds logs and volumes and imagefs the writable layers; on one
// filesystem everything counts.
func diskMeasureFor(sig Signal, dedicated bool) diskMeasure {
	d := diskMeasure{rootfs: true, logs: true, volumes: true, inodes: sig.inodes()}
	if dedicated {
		d.rootfs, d.logs, d.volumes = !sig.nodefs(), sig.nodefs(), sig.nodefs()
	}
	return d
}

// usage is the pod's use of the filesystem d measures.
func (d diskMeasure) usage(ps PodStats) int64 {
	var n uint64
	add := func(f *FsStats) {
		if f == nil {
			return
		}
		if d.inodes && f.InodesUsed != nil {
			n += *f.InodesUsed
		} else if !d.inodes && f.UsedBytes != nil {
			n += *f.UsedBytes
		}
	}
	for _, c := range ps.Containers {
		if d.rootfs {
			add(c.Rootfs)
		}
		if d.logs {
			add(c.Logs)
		}
	}
	if d.volumes {
		for i := range ps.VolumeStats {
			add(&ps.VolumeStats[i].FsStats)
		}
	}
	return int64(n)
}

// pickDiskVictim ranks the node's pods for eviction under sig and returns
// the first with its stats: pods whose use exceeds their
// ephemeral-storage request first (inodes have no request), then lower
// priority, then larger use beyond the request. Pods without stats hold
// nothing to reclaim and are left out.
func (m *evictionManager) pickDiskVictim(s *Summary, sig Signal, d diskMeasure) (*corev1.Pod, PodStats) {
	byUID := map[string]PodStats{}
	for _, ps := range s.Pods {
		byUID[ps.PodRef.UID] = ps
	}
	type candidate struct {
		pod      *corev1.Pod
		stats    PodStats
		exceeds  bool
		priority int32
		beyond   int64 // use minus request
	}
	var cands []candidate
	for _, p := range m.pods() {
		if !m.evictable(p) {
			continue
		}
		ps, ok := byUID[string(p.UID)]
		if !ok {
			continue
		}
		use := d.usage(ps)
		var req int64
		if !sig.inodes() {
			q := podRequests(p)[corev1.ResourceEphemeralStorage]
			req = q.Value()
		}
		var prio int32
		if p.Spec.Priority != nil {
			prio = *p.Spec.Priority
		}
		cands = append(cands, candidate{pod: p, stats: ps, exceeds: use > req, priority: prio, beyond: use - req})
	}
	if len(cands) == 0 {
		return nil, PodStats{}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.exceeds != b.exceeds {
			return a.exceeds
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.beyond > b.beyond
	})
	return cands[0].pod, cands[0].stats
}

// diskEvictionMessage is upstream's eviction message for a disk signal:
// the resource (ephemeral-storage, or inodes), the threshold and what was
// available, then, for ephemeral-storage, each container whose writable
// layer and logs exceed its request.
func diskEvictionMessage(ms metSignal, pod *corev1.Pod, ps PodStats) string {
	res, format := corev1.ResourceEphemeralStorage, resource.BinarySI
	if ms.signal.inodes() {
		res, format = "inodes", resource.DecimalSI
	}
	msg := fmt.Sprintf("The node was low on resource: %s. Threshold quantity: %s, available: %s. ",
		res, ms.threshold.String(), resource.NewQuantity(ms.obs.available, format).String())
	if res != corev1.ResourceEphemeralStorage {
		return msg
	}
	for _, c := range ps.Containers {
		for i := range pod.Spec.Containers {
			spec := &pod.Spec.Containers[i]
			if spec.Name != c.Name || c.Rootfs == nil || c.Rootfs.UsedBytes == nil {
				continue
			}
			used := *c.Rootfs.UsedBytes
			if c.Logs != nil && c.Logs.UsedBytes != nil {
				used += *c.Logs.UsedBytes
			}
			usage := resource.NewQuantity(int64(used), resource.BinarySI)
			request := spec.Resources.Requests[corev1.ResourceEphemeralStorage]
			if usage.Cmp(request) > 0 {
				msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of %s. ",
					c.Name, usage.String(), request.String(), res)
			}
		}
	}
	return msg
}

// imageFsUsage reads the image filesystem from CRI ImageFsInfo.
func (k *Kubelet) imageFsUsage(ctx context.Context) (capacity, used uint64, err error) {
	fs, err := k.cfg.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		return 0, 0, err
	}
	if len(fs.ImageFilesystems) == 0 {
		return 0, 0, fmt.Errorf("the runtime reports no image filesystem")
	}
	st := criFsStats(fs.ImageFilesystems[0], metav1.NewTime(k.clock.Now()))
	if st == nil || st.CapacityBytes == nil || st.AvailableBytes == nil {
		return 0, 0, fmt.Errorf("image filesystem capacity unknown")
	}
	return *st.CapacityBytes, *st.CapacityBytes - *st.AvailableBytes, nil
}

// imageFsDedicated reports whether the runtime's image filesystem is
// another device than RootDir's; false when either cannot be read.
func (k *Kubelet) imageFsDedicated(ctx context.Context) bool {
	fs, err := k.cfg.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(fs.ImageFilesystems) == 0 {
		return false
	}
	mp := fs.ImageFilesystems[0].GetFsId().GetMountpoint()
	var img, root syscall.Stat_t
	if mp == "" || syscall.Stat(mp, &img) != nil || syscall.Stat(k.cfg.RootDir, &root) != nil {
		return false
	}
	return img.Dev != root.Dev
}

// collectImages removes unused images while the image filesystem is above
// the high threshold, until it is at the low one. It returns the bytes
// freed (as the runtime reports image sizes).
func (m *evictionManager) collectImages(ctx context.Context) (uint64, error) {
	unused, err := m.unusedImages(ctx)
	if err != nil {
		return 0, err
	}
	capacity, used, err := m.imageFs(ctx)
	if err != nil || capacity == 0 {
		return 0, err
	}
	if used*100 < capacity*uint64(m.cfg.ImageGCHighThresholdPercent) {
		return 0, nil
	}
	target := used - capacity*uint64(m.cfg.ImageGCLowThresholdPercent)/100
	freed, _, err := m.removeImages(ctx, unused, target)
	return freed, err
}

// reclaimImages removes unused images until target bytes are freed, for
// disk pressure. It returns the bytes freed and how many images went.
func (m *evictionManager) reclaimImages(ctx context.Context, target uint64) (freed uint64, removed int, err error) {
	unused, err := m.unusedImages(ctx)
	if err != nil {
		return 0, 0, err
	}
	return m.removeImages(ctx, unused, target)
}

// unusedImages notes which images containers use now and returns the
// images that may be removed (unused, unpinned, unused for at least
// ImageMinimumGCAge), least recently used first.
func (m *evictionManager) unusedImages(ctx context.Context) ([]*runtimeapi.Image, error) {
	rt, img := m.k.cfg.Runtime, m.k.cfg.Images
	images, err := img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, err
	}
	containers, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, err
	}
	now := m.k.clock.Now()
	inUse := map[string]bool{}
	for _, c := range containers.Containers {
		inUse[c.ImageRef] = true
		if c.Image != nil {
			inUse[c.Image.Image] = true
		}
	}
	usedNow := func(im *runtimeapi.Image) bool {
		used := inUse[im.Id]
		for _, t := range im.RepoTags {
			used = used || inUse[t]
		}
		return used
	}
	m.mu.Lock()
	seen := map[string]bool{}
	for _, im := range images.Images {
		seen[im.Id] = true
		if _, ok := m.lastUsed[im.Id]; !ok || usedNow(im) {
			m.lastUsed[im.Id] = now
		}
	}
	for id := range m.lastUsed {
		if !seen[id] {
			delete(m.lastUsed, id)
		}
	}
	lastUsed := make(map[string]time.Time, len(m.lastUsed))
	for id, t := range m.lastUsed {
		lastUsed[id] = t
	}
	m.mu.Unlock()

	var cands []*runtimeapi.Image
	for _, im := range images.Images {
		if usedNow(im) || im.Pinned || now.Sub(lastUsed[im.Id]) < m.cfg.ImageMinimumGCAge {
			continue
		}
		cands = append(cands, im)
	}
	sort.SliceStable(cands, func(i, j int) bool { return lastUsed[cands[i].Id].Before(lastUsed[cands[j].Id]) })
	return cands, nil
}

// removeImages removes images in order until target bytes are freed. It
// returns the bytes freed, how many images went, and an error when the
// target was not reached.
func (m *evictionManager) removeImages(ctx context.Context, images []*runtimeapi.Image, target uint64) (freed uint64, removed int, err error) {
	img := m.k.cfg.Images
	for _, im := range images {
		if freed >= target {
			break
		}
		if _, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: im.Id}}); err != nil {
			m.k.log.Warn("image garbage collection: removing an image", "image", im.Id, "err", err)
			continue
		}
		m.k.log.Info("image garbage collection: removed an image", "image", im.Id, "tags", im.RepoTags, "size", im.Size)
		freed += im.Size
		removed++
		m.mu.Lock()
		delete(m.lastUsed, im.Id)
		m.mu.Unlock()
	}
	if freed < target && target != math.MaxUint64 {
		return freed, removed, fmt.Errorf("image garbage collection freed %d bytes of the %d wanted", freed, target)
	}
	return freed, removed, nil
}
