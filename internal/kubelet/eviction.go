package kubelet

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Node-pressure eviction and image garbage collection.
//
// Every EvictionConfig.Period the manager reads the stats summary.
// memory.available (the node's capacity minus its working set) under
// MemoryAvailable sets the node's MemoryPressure condition and evicts one
// pod per pass: BestEffort pods first, then Burstable pods using more
// memory than they request, the largest user first within each group.
// An evicted pod is stopped and failed with reason Evicted and upstream's
// message. Static pods are never evicted.
//
// Image garbage collection runs every ImageGCPeriod: when the image
// filesystem is used above ImageGCHighThresholdPercent, images no
// container uses (and not pinned, and older than ImageMinimumGCAge) are
// removed, least recently used first, until usage is down to
// ImageGCLowThresholdPercent.

// EvictionConfig holds the thresholds; zero fields take the defaults.
type EvictionConfig struct {
	// MemoryAvailable is the hard threshold for memory.available (100Mi).
	MemoryAvailable *resource.Quantity
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

func (c *EvictionConfig) setDefaults() {
	if c.MemoryAvailable == nil {
		q := evictionMemory.DeepCopy()
		c.MemoryAvailable = &q
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

// evictionManager watches node pressure. Its seams (summary, pods,
// imageFs) are functions so tests inject what they need.
type evictionManager struct {
	k   *Kubelet
	cfg EvictionConfig

	summary func(ctx context.Context) (*Summary, error)
	pods    func() []*corev1.Pod
	// imageFs returns the image filesystem's capacity and used bytes.
	imageFs func(ctx context.Context) (capacity, used uint64, err error)

	memoryPressure atomic.Bool

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

// synchronize does one pass: memory pressure, at most one eviction, and
// image garbage collection when its period has passed.
func (m *evictionManager) synchronize(ctx context.Context) {
	if s, err := m.summary(ctx); err != nil {
		m.k.log.Warn("eviction: reading stats", "err", err)
	} else {
		m.checkMemory(ctx, s)
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
	mem := s.Node.Memory
	if mem == nil || mem.AvailableBytes == nil {
		return ""
	}
	available := int64(*mem.AvailableBytes)
	threshold := m.cfg.MemoryAvailable.Value()
	if available >= threshold {
		if m.memoryPressure.Swap(false) {
			m.k.log.Info("memory pressure over", "available", available)
		}
		return ""
	}
	if !m.memoryPressure.Swap(true) {
		m.k.log.Warn("memory pressure", "available", available, "threshold", threshold)
	}
	victim, container, usage, request := m.pickVictim(s)
	if victim == nil {
		return ""
	}
	msg := fmt.Sprintf("The node was low on resource: memory. Threshold quantity: %s, available: %s. ",
		m.cfg.MemoryAvailable.String(), resource.NewQuantity(available, resource.BinarySI).String())
	if container != "" {
		msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of memory. ",
			container, resource.NewQuantity(usage, resource.BinarySI).String(), request.String())
	}
	m.k.log.Warn("evicting a pod", "pod", victim.Namespace+"/"+victim.Name, "message", msg)
	m.k.admission.order(victim.UID, stopOrder{reason: "Evicted", message: msg})
	if m.k.recorder != nil {
		m.k.recorder.Event(victim, corev1.EventTypeWarning, "Evicted", msg)
	}
	m.k.wake(ctx, victim.UID, victim.Namespace, victim.Name)
	return string(victim.UID)
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
		if m.k.static.has(p.UID) || p.DeletionTimestamp != nil {
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

// collectImages removes unused images while the image filesystem is above
// the high threshold, until it is at the low one. It returns the bytes
// freed (as the runtime reports image sizes).
func (m *evictionManager) collectImages(ctx context.Context) (uint64, error) {
	rt, img := m.k.cfg.Runtime, m.k.cfg.Images
	images, err := img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return 0, err
	}
	containers, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return 0, err
	}
	now := m.k.clock.Now()
	inUse := map[string]bool{}
	for _, c := range containers.Containers {
		inUse[c.ImageRef] = true
		if c.Image != nil {
			inUse[c.Image.Image] = true
		}
	}
	m.mu.Lock()
	seen := map[string]bool{}
	for _, im := range images.Images {
		seen[im.Id] = true
		used := inUse[im.Id]
		for _, t := range im.RepoTags {
			used = used || inUse[t]
		}
		if _, ok := m.lastUsed[im.Id]; !ok || used {
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

	capacity, used, err := m.imageFs(ctx)
	if err != nil || capacity == 0 {
		return 0, err
	}
	if used*100 < capacity*uint64(m.cfg.ImageGCHighThresholdPercent) {
		return 0, nil
	}
	target := used - capacity*uint64(m.cfg.ImageGCLowThresholdPercent)/100
	var cands []*runtimeapi.Image
	for _, im := range images.Images {
		used := inUse[im.Id]
		for _, t := range im.RepoTags {
			used = used || inUse[t]
		}
		if used || im.Pinned || now.Sub(lastUsed[im.Id]) < m.cfg.ImageMinimumGCAge {
			continue
		}
		cands = append(cands, im)
	}
	sort.SliceStable(cands, func(i, j int) bool { return lastUsed[cands[i].Id].Before(lastUsed[cands[j].Id]) })
	var freed uint64
	for _, im := range cands {
		if freed >= target {
			break
		}
		if _, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: im.Id}}); err != nil {
			m.k.log.Warn("image garbage collection: removing an image", "image", im.Id, "err", err)
			continue
		}
		m.k.log.Info("image garbage collection: removed an image", "image", im.Id, "tags", im.RepoTags, "size", im.Size)
		freed += im.Size
		m.mu.Lock()
		delete(m.lastUsed, im.Id)
		m.mu.Unlock()
	}
	if freed < target {
		return freed, fmt.Errorf("image garbage collection freed %d bytes of the %d wanted", freed, target)
	}
	return freed, nil
}
