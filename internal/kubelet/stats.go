package kubelet

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The node's resource usage summary, served at /stats/summary in the
// JSON shape of the kubelet's stats/v1alpha1 API (field names as
// upstream's, so metrics-server and `kubectl top` read it). Pod and
// container figures come from CRI (ListPodSandboxStats, falling back to
// ListContainerStats); node figures from /proc and the memory cgroup root;
// container logs and emptyDir volumes are measured by walking their
// directories.

// Summary is the /stats/summary document.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the node's usage.
type NodeStats struct {
	NodeName  string        `json:"nodeName"`
	StartTime metav1.Time   `json:"startTime"`
	CPU       *CPUStats     `json:"cpu,omitempty"`
	Memory    *MemoryStats  `json:"memory,omitempty"`
	Network   *NetworkStats `json:"network,omitempty"`
	Fs        *FsStats      `json:"fs,omitempty"`
	Runtime   *RuntimeStats `json:"runtime,omitempty"`
}

// RuntimeStats is the container runtime's filesystem usage.
type RuntimeStats struct {
	ImageFs     *FsStats `json:"imageFs,omitempty"`
	ContainerFs *FsStats `json:"containerFs,omitempty"`
}

// PodStats is one pod's usage. VolumeStats are its disk-backed emptyDir
// volumes.
type PodStats struct {
	PodRef           PodReference     `json:"podRef"`
	StartTime        metav1.Time      `json:"startTime"`
	Containers       []ContainerStats `json:"containers"`
	CPU              *CPUStats        `json:"cpu,omitempty"`
	Memory           *MemoryStats     `json:"memory,omitempty"`
	Network          *NetworkStats    `json:"network,omitempty"`
	VolumeStats      []VolumeStats    `json:"volume,omitempty"`
	EphemeralStorage *FsStats         `json:"ephemeral-storage,omitempty"`
}

// VolumeStats is one volume's usage.
type VolumeStats struct {
	FsStats
	Name string `json:"name,omitempty"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// ContainerStats is one container's usage.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime metav1.Time  `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
	Rootfs    *FsStats     `json:"rootfs,omitempty"`
	Logs      *FsStats     `json:"logs,omitempty"`
}

// CPUStats is CPU usage: a rate and a cumulative total.
type CPUStats struct {
	Time                 metav1.Time `json:"time"`
	UsageNanoCores       *uint64     `json:"usageNanoCores,omitempty"`
	UsageCoreNanoSeconds *uint64     `json:"usageCoreNanoSeconds,omitempty"`
}

// MemoryStats is memory usage.
type MemoryStats struct {
	Time            metav1.Time `json:"time"`
	AvailableBytes  *uint64     `json:"availableBytes,omitempty"`
	UsageBytes      *uint64     `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64     `json:"workingSetBytes,omitempty"`
	RSSBytes        *uint64     `json:"rssBytes,omitempty"`
	PageFaults      *uint64     `json:"pageFaults,omitempty"`
	MajorPageFaults *uint64     `json:"majorPageFaults,omitempty"`
}

// NetworkStats is network usage: the default interface inline, and all.
type NetworkStats struct {
	Time metav1.Time `json:"time"`
	InterfaceStats
	Interfaces []InterfaceStats `json:"interfaces,omitempty"`
}

// InterfaceStats is one interface's counters.
type InterfaceStats struct {
	Name     string  `json:"name"`
	RxBytes  *uint64 `json:"rxBytes,omitempty"`
	RxErrors *uint64 `json:"rxErrors,omitempty"`
	TxBytes  *uint64 `json:"txBytes,omitempty"`
	TxErrors *uint64 `json:"txErrors,omitempty"`
}

// FsStats is a filesystem's usage.
type FsStats struct {
	Time           metav1.Time `json:"time"`
	AvailableBytes *uint64     `json:"availableBytes,omitempty"`
	CapacityBytes  *uint64     `json:"capacityBytes,omitempty"`
	UsedBytes      *uint64     `json:"usedBytes,omitempty"`
	InodesFree     *uint64     `json:"inodesFree,omitempty"`
	Inodes         *uint64     `json:"inodes,omitempty"`
	InodesUsed     *uint64     `json:"inodesUsed,omitempty"`
}

func u64(v uint64) *uint64 { return &v }

// cpuSample is a cumulative CPU reading, for rates.
type cpuSample struct {
	at    time.Time
	total uint64
}

// nodeCPU remembers the previous node CPU reading.
type nodeCPU struct {
	mu   sync.Mutex // guards last
	last cpuSample
}

var bootTime = func() time.Time {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Now()
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return time.Now()
	}
	up, _ := strconv.ParseFloat(f[0], 64)
	return time.Now().Add(-time.Duration(up * float64(time.Second)))
}()

// StatsSummary returns the node's usage summary.
func (k *Kubelet) StatsSummary(ctx context.Context) (*Summary, error) {
	now := metav1.NewTime(k.clock.Now())
	s := &Summary{Node: NodeStats{NodeName: k.cfg.NodeName, StartTime: metav1.NewTime(bootTime)}}
	s.Node.CPU = k.nodeCPUStats(now)
	s.Node.Memory = nodeMemoryStats(now)
	s.Node.Network = nodeNetworkStats(now, k.cfg.NodeIP.String())
	s.Node.Fs = statFs(k.cfg.RootDir, now)
	s.Node.Runtime = &RuntimeStats{}
	if fs, err := k.cfg.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{}); err == nil && len(fs.ImageFilesystems) > 0 {
		s.Node.Runtime.ImageFs = criFsStats(fs.ImageFilesystems[0], now)
		if len(fs.ContainerFilesystems) > 0 {
			s.Node.Runtime.ContainerFs = criFsStats(fs.ContainerFilesystems[0], now)
		} else {
			s.Node.Runtime.ContainerFs = s.Node.Runtime.ImageFs
		}
	}
	pods, err := k.podStats(ctx, now)
	if err != nil {
		return nil, err
	}
	s.Pods = pods
	return s, nil
}

// podStats builds each ready sandbox's pod stats from CRI.
func (k *Kubelet) podStats(ctx context.Context, now metav1.Time) ([]PodStats, error) {
	filter := map[string]string{labelManagedBy: managedByValue}
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}, LabelSelector: filter,
	}})
	if err != nil {
		return nil, err
	}
	cs, err := k.cfg.Runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{LabelSelector: filter}})
	if err != nil {
		return nil, err
	}
	containers, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}, LabelSelector: filter,
	}})
	if err != nil {
		return nil, err
	}
	running := map[string]*runtimeapi.Container{}
	for _, c := range containers.Containers {
		running[c.Id] = c
	}
	// Sandbox-level stats (cgroup of the pod, network namespace), when the
	// runtime has them.
	sandboxStats := map[string]*runtimeapi.PodSandboxStats{}
	if resp, err := k.cfg.Runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{LabelSelector: filter}}); err == nil {
		for _, st := range resp.Stats {
			sandboxStats[st.GetAttributes().GetId()] = st
		}
	}
	byPod := map[string][]ContainerStats{}
	for _, st := range cs.Stats {
		c, ok := running[st.GetAttributes().GetId()]
		if !ok {
			continue
		}
		logDir := k.podLogDir(c.Labels[labelPodNamespace], c.Labels[labelPodName], types.UID(c.Labels[labelPodUID]))
		logs := dirUsage(filepath.Join(logDir, c.Labels[labelContainer]), now)
		byPod[c.PodSandboxId] = append(byPod[c.PodSandboxId], ContainerStats{
			Name:      c.Labels[labelContainer],
			StartTime: metav1.NewTime(time.Unix(0, c.CreatedAt)),
			CPU:       criCPU(st.Cpu, now),
			Memory:    criMemory(st.Memory, now),
			Rootfs:    criFsStats(st.WritableLayer, now),
			Logs:      logs,
		})
	}
	var out []PodStats
	for _, sb := range sbs.Items {
		ps := PodStats{
			PodRef:     PodReference{Name: sb.Metadata.Name, Namespace: sb.Metadata.Namespace, UID: sb.Metadata.Uid},
			StartTime:  metav1.NewTime(time.Unix(0, sb.CreatedAt)),
			Containers: byPod[sb.Id],
		}
		if ps.Containers == nil {
			ps.Containers = []ContainerStats{}
		}
		if st := sandboxStats[sb.Id].GetLinux(); st != nil {
			ps.CPU, ps.Memory = criCPU(st.Cpu, now), criMemory(st.Memory, now)
			ps.Network = criNetwork(st.Network, now)
		}
		// Without sandbox stats, the pod is the sum of its containers.
		if ps.CPU == nil {
			ps.CPU, ps.Memory = sumContainers(ps.Containers, now)
		}
		ps.VolumeStats = k.emptyDirStats(types.UID(sb.Metadata.Uid), now)
		ps.EphemeralStorage = ephemeral(ps.Containers, ps.VolumeStats, now)
		out = append(out, ps)
	}
	return out, nil
}

func criCPU(c *runtimeapi.CpuUsage, now metav1.Time) *CPUStats {
	if c == nil {
		return nil
	}
	s := &CPUStats{Time: now}
	if c.Timestamp != 0 {
		s.Time = metav1.NewTime(time.Unix(0, c.Timestamp))
	}
	if c.UsageNanoCores != nil {
		s.UsageNanoCores = u64(c.UsageNanoCores.Value)
	}
	if c.UsageCoreNanoSeconds != nil {
		s.UsageCoreNanoSeconds = u64(c.UsageCoreNanoSeconds.Value)
	}
	return s
}

func criMemory(m *runtimeapi.MemoryUsage, now metav1.Time) *MemoryStats {
	if m == nil {
		return nil
	}
	s := &MemoryStats{Time: now}
	if m.Timestamp != 0 {
		s.Time = metav1.NewTime(time.Unix(0, m.Timestamp))
	}
	opt := func(v *runtimeapi.UInt64Value) *uint64 {
		if v == nil {
			return nil
		}
		return u64(v.Value)
	}
	s.WorkingSetBytes, s.UsageBytes, s.RSSBytes = opt(m.WorkingSetBytes), opt(m.UsageBytes), opt(m.RssBytes)
	s.PageFaults, s.MajorPageFaults, s.AvailableBytes = opt(m.PageFaults), opt(m.MajorPageFaults), opt(m.AvailableBytes)
	return s
}

func criNetwork(n *runtimeapi.NetworkUsage, now metav1.Time) *NetworkStats {
	if n == nil || n.DefaultInterface == nil {
		return nil
	}
	iface := func(i *runtimeapi.NetworkInterfaceUsage) InterfaceStats {
		s := InterfaceStats{Name: i.Name}
		if i.RxBytes != nil {
			s.RxBytes = u64(i.RxBytes.Value)
		}
		if i.RxErrors != nil {
			s.RxErrors = u64(i.RxErrors.Value)
		}
		if i.TxBytes != nil {
			s.TxBytes = u64(i.TxBytes.Value)
		}
		if i.TxErrors != nil {
			s.TxErrors = u64(i.TxErrors.Value)
		}
		return s
	}
	s := &NetworkStats{Time: now, InterfaceStats: iface(n.DefaultInterface)}
	s.Interfaces = append(s.Interfaces, s.InterfaceStats)
	for _, i := range n.Interfaces {
		if i.Name != n.DefaultInterface.Name {
			s.Interfaces = append(s.Interfaces, iface(i))
		}
	}
	return s
}

func criFsStats(f *runtimeapi.FilesystemUsage, now metav1.Time) *FsStats {
	if f == nil {
		return nil
	}
	s := &FsStats{Time: now}
	if f.UsedBytes != nil {
		s.UsedBytes = u64(f.UsedBytes.Value)
	}
	if f.InodesUsed != nil {
		s.InodesUsed = u64(f.InodesUsed.Value)
	}
	if mp := f.GetFsId().GetMountpoint(); mp != "" {
		if fs := statFs(mp, now); fs != nil {
			s.CapacityBytes, s.AvailableBytes, s.Inodes, s.InodesFree = fs.CapacityBytes, fs.AvailableBytes, fs.Inodes, fs.InodesFree
		}
	}
	return s
}

func sumContainers(cs []ContainerStats, now metav1.Time) (*CPUStats, *MemoryStats) {
	var cores, total, ws, usage uint64
	for _, c := range cs {
		if c.CPU != nil && c.CPU.UsageNanoCores != nil {
			cores += *c.CPU.UsageNanoCores
		}
		if c.CPU != nil && c.CPU.UsageCoreNanoSeconds != nil {
			total += *c.CPU.UsageCoreNanoSeconds
		}
		if c.Memory != nil && c.Memory.WorkingSetBytes != nil {
			ws += *c.Memory.WorkingSetBytes
		}
		if c.Memory != nil && c.Memory.UsageBytes != nil {
			usage += *c.Memory.UsageBytes
		}
	}
	return &CPUStats{Time: now, UsageNanoCores: u64(cores), UsageCoreNanoSeconds: u64(total)},
		&MemoryStats{Time: now, WorkingSetBytes: u64(ws), UsageBytes: u64(usage)}
}

// ephemeral is the pod's ephemeral storage: its containers' writable
// layers and logs, and its disk-backed emptyDir volumes.
func ephemeral(cs []ContainerStats, vs []VolumeStats, now metav1.Time) *FsStats {
	var used, inodes uint64
	add := func(f *FsStats) {
		if f != nil && f.UsedBytes != nil {
			used += *f.UsedBytes
		}
		if f != nil && f.InodesUsed != nil {
			inodes += *f.InodesUsed
		}
	}
	for _, c := range cs {
		add(c.Rootfs)
		add(c.Logs)
	}
	for i := range vs {
		add(&vs[i].FsStats)
	}
	return &FsStats{Time: now, UsedBytes: u64(used), InodesUsed: u64(inodes)}
}

// emptyDirStats measures the pod's emptyDir volumes on disk; memory-backed
// ones (tmpfs mounts) count as memory, not ephemeral storage, and are left
// out.
func (k *Kubelet) emptyDirStats(uid types.UID, now metav1.Time) []VolumeStats {
	dir := filepath.Join(k.podDir(uid), "volumes", emptyDirPlugin)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []VolumeStats
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !e.IsDir() || isMountPoint(path) {
			continue
		}
		if fs := dirUsage(path, now); fs != nil {
			// As upstream's volume metrics: usage under the directory, and
			// the capacity of the filesystem holding it.
			if info := statFs(path, now); info != nil {
				fs.CapacityBytes, fs.AvailableBytes, fs.Inodes, fs.InodesFree = info.CapacityBytes, info.AvailableBytes, info.Inodes, info.InodesFree
			}
			out = append(out, VolumeStats{FsStats: *fs, Name: e.Name()})
		}
	}
	return out
}

// statFs returns capacity and availability of the filesystem holding path.
func statFs(path string, now metav1.Time) *FsStats {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return nil
	}
	bs := uint64(st.Bsize)
	return &FsStats{
		Time:           now,
		CapacityBytes:  u64(st.Blocks * bs),
		AvailableBytes: u64(st.Bavail * bs),
		UsedBytes:      u64((st.Blocks - st.Bfree) * bs),
		Inodes:         u64(st.Files),
		InodesFree:     u64(st.Ffree),
		InodesUsed:     u64(st.Files - st.Ffree),
	}
}

// dirUsage sums the sizes of the files under dir.
func dirUsage(dir string, now metav1.Time) *FsStats {
	var used, inodes uint64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			used += uint64(fi.Size())
			inodes++
		}
		return nil
	})
	if err != nil || inodes == 0 {
		return nil
	}
	return &FsStats{Time: now, UsedBytes: u64(used), InodesUsed: u64(inodes)}
}

// nodeCPUStats reads /proc/stat; the rate is against the previous call.
func (k *Kubelet) nodeCPUStats(now metav1.Time) *CPUStats {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return nil
	}
	var busy uint64
	for i, v := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		busy += n
	}
	// USER_HZ is 100 on Linux: one tick is 10 ms.
	total := busy * uint64(10*time.Millisecond)
	s := &CPUStats{Time: now, UsageCoreNanoSeconds: u64(total)}
	k.cpu.mu.Lock()
	defer k.cpu.mu.Unlock()
	if last := k.cpu.last; !last.at.IsZero() && now.Time.After(last.at) && total >= last.total {
		s.UsageNanoCores = u64(uint64(float64(total-last.total) / now.Time.Sub(last.at).Seconds()))
	}
	k.cpu.last = cpuSample{at: now.Time, total: total}
	return s
}

// nodeMemoryStats reads the root memory cgroup (working set = usage minus
// inactive file pages, as upstream counts it) or /proc/meminfo.
func nodeMemoryStats(now metav1.Time) *MemoryStats {
	total := uint64(memTotal())
	var usage, inactive uint64
	if data, err := os.ReadFile("/sys/fs/cgroup/memory/memory.usage_in_bytes"); err == nil {
		usage, _ = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		inactive = statField("/sys/fs/cgroup/memory/memory.stat", "total_inactive_file")
	} else {
		free := meminfoField("MemFree")
		usage = total - free
		inactive = meminfoField("Inactive(file)")
	}
	ws := usage
	if inactive < ws {
		ws -= inactive
	} else {
		ws = 0
	}
	avail := uint64(0)
	if total > ws {
		avail = total - ws
	}
	return &MemoryStats{Time: now, UsageBytes: u64(usage), WorkingSetBytes: u64(ws), AvailableBytes: u64(avail)}
}

func statField(path, key string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func meminfoField(key string) uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			return v * 1024
		}
	}
	return 0
}

// nodeNetworkStats reads /proc/net/dev; the default interface is the one
// holding the node's IP.
func nodeNetworkStats(now metav1.Time, nodeIP string) *NetworkStats {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return nil
	}
	def := defaultInterface(nodeIP)
	s := &NetworkStats{Time: now}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if len(f) < 16 || name == "lo" || strings.HasPrefix(name, "veth") {
			continue
		}
		n := func(i int) *uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return u64(v) }
		is := InterfaceStats{Name: name, RxBytes: n(0), RxErrors: n(2), TxBytes: n(8), TxErrors: n(10)}
		s.Interfaces = append(s.Interfaces, is)
		if name == def {
			s.InterfaceStats = is
		}
	}
	return s
}

func defaultInterface(ip string) string {
	ifaces, _ := netInterfaces()
	for name, addrs := range ifaces {
		for _, a := range addrs {
			if a == ip {
				return name
			}
		}
	}
	return ""
}

// StatsHandler serves GET /stats/summary (and /stats/summary/) as JSON.
// It does no authentication: mount it behind the agent's authenticated
// server.
func (k *Kubelet) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s, err := k.StatsSummary(r.Context())
		if err != nil {
			http.Error(w, "Internal Error: failed to get node stats: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
}

// netInterfaces returns each interface's IP addresses.
func netInterfaces() (map[string][]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, i := range ifaces {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				out[i.Name] = append(out[i.Name], ipn.IP.String())
			}
		}
	}
	return out, nil
}
