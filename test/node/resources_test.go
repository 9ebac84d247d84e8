package node

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Resources as the kernel enforces them (cgroup v1 CPU and memory
// settings of each container) and as the agent reports usage on
// /stats/summary.

// cgroupFiles reads cgroup files inside the container (runc on cgroup v1
// mounts the container's own cgroups at /sys/fs/cgroup/SUBSYSTEM).
func cgroupFiles(t *testing.T, ns, pod, container string, files ...string) map[string]string {
	t.Helper()
	script := ""
	for _, f := range files {
		script += fmt.Sprintf("echo %s=$(cat /sys/fs/cgroup/%s); ", f, f)
	}
	out := execIn(t, ns, pod, container, "sh", "-c", script)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	return got
}

// cpuStat returns one counter of the container's cpu.stat.
func cpuStat(ns, pod, container, key string) (int64, error) {
	out, err := kubectlTry("-n", ns, "exec", pod, "-c", container, "--", "cat", "/sys/fs/cgroup/cpu/cpu.stat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in cpu.stat:\n%s", key, out)
}

func TestResourceLimitsReachCgroup(t *testing.T) {
	ns := newNamespace(t)
	// The limited container spins in the background, so CFS throttles it.
	limited := applyPod(t, ns, "limited", `  containers:
  - name: busy
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "while :; do :; done & exec sleep 3600"]
    resources:
      limits: {cpu: 200m, memory: 64Mi}
      requests: {cpu: 100m}
`)
	bestEffort := applyPod(t, ns, "besteffort", `  containers:
  - name: idle
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`)
	waitPod(t, ns, "limited", "running", running)
	waitPod(t, ns, "besteffort", "running", running)

	tests := []struct {
		pod, container string
		want           map[string]string
	}{
		// shares = 100m * 1024 / 1000; quota = 200m of a 100 ms period.
		{"limited", "busy", map[string]string{
			"cpu/cpu.cfs_quota_us":         "20000",
			"cpu/cpu.cfs_period_us":        "100000",
			"cpu/cpu.shares":               "102",
			"memory/memory.limit_in_bytes": "67108864",
		}},
		// No request: the minimum shares; no limit: no quota.
		{"besteffort", "idle", map[string]string{
			"cpu/cpu.cfs_quota_us": "-1",
			"cpu/cpu.shares":       "2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.pod, func(t *testing.T) {
			var files []string
			for f := range tt.want {
				files = append(files, f)
			}
			got := cgroupFiles(t, ns, tt.pod, tt.container, files...)
			for _, f := range files {
				if got[f] != tt.want[f] {
					t.Errorf("%s = %q; want %s", f, got[f], tt.want[f])
				}
			}
		})
	}

	poll(t, 30*time.Second, "throttling of the busy container", func() error {
		n, err := cpuStat(ns, "limited", "busy", "nr_throttled")
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("nr_throttled = 0")
		}
		return nil
	})
	deletePod(t, ns, limited)
	deletePod(t, ns, bestEffort)
}

// summary mirrors the fields of upstream's stats/v1alpha1 Summary
// (k8s.io/kubelet/pkg/apis/stats/v1alpha1) the test reads, with
// upstream's JSON names.
type summary struct {
	Node struct {
		NodeName string    `json:"nodeName"`
		CPU      *cpuStats `json:"cpu"`
		Memory   *memStats `json:"memory"`
		Network  *netStats `json:"network"`
		Fs       *fsStats  `json:"fs"`
		Runtime  *struct {
			ImageFs *fsStats `json:"imageFs"`
		} `json:"runtime"`
	} `json:"node"`
	Pods []podStats `json:"pods"`
}

type podStats struct {
	PodRef struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"podRef"`
	Containers []struct {
		Name   string    `json:"name"`
		CPU    *cpuStats `json:"cpu"`
		Memory *memStats `json:"memory"`
		Rootfs *fsStats  `json:"rootfs"`
		Logs   *fsStats  `json:"logs"`
	} `json:"containers"`
	CPU     *cpuStats `json:"cpu"`
	Memory  *memStats `json:"memory"`
	Network *netStats `json:"network"`
	Volumes []struct {
		fsStats
		Name string `json:"name"`
	} `json:"volume"`
	EphemeralStorage *fsStats `json:"ephemeral-storage"`
}

type cpuStats struct {
	UsageNanoCores       *uint64 `json:"usageNanoCores"`
	UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
}

type memStats struct {
	AvailableBytes  *uint64 `json:"availableBytes"`
	UsageBytes      *uint64 `json:"usageBytes"`
	WorkingSetBytes *uint64 `json:"workingSetBytes"`
}

type ifaceStats struct {
	Name    string  `json:"name"`
	RxBytes *uint64 `json:"rxBytes"`
	TxBytes *uint64 `json:"txBytes"`
}

type netStats struct {
	ifaceStats
	Interfaces []ifaceStats `json:"interfaces"`
}

type fsStats struct {
	AvailableBytes *uint64 `json:"availableBytes"`
	CapacityBytes  *uint64 `json:"capacityBytes"`
	UsedBytes      *uint64 `json:"usedBytes"`
	InodesUsed     *uint64 `json:"inodesUsed"`
}

func val(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// getSummary fetches the node's summary through the API server's node
// proxy, as metrics-server does.
func getSummary() (*summary, error) {
	out, err := kubectlTry("get", "--raw", "/api/v1/nodes/"+nodeName+"/proxy/stats/summary")
	if err != nil {
		return nil, err
	}
	var s summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("%v in %s", err, out)
	}
	return &s, nil
}

func (s *summary) pod(ns, name string) *podStats {
	for i := range s.Pods {
		if s.Pods[i].PodRef.Namespace == ns && s.Pods[i].PodRef.Name == name {
			return &s.Pods[i]
		}
	}
	return nil
}

func TestStatsSummary(t *testing.T) {
	ns := newNamespace(t)
	// 1 MiB in the writable layer, 512 KiB in the emptyDir, a 256 KiB file
	// to serve, a line of log.
	pod := applyPod(t, ns, "measured", `  containers:
  - name: web
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "dd if=/dev/zero of=/tmp/layer bs=1k count=1024 && dd if=/dev/zero of=/data/vol bs=1k count=512 && mkdir /www && dd if=/dev/zero of=/www/blob bs=1k count=256 && echo serving && exec httpd -f -p 8080 -h /www"]
    volumeMounts: [{name: data, mountPath: /data}]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
  volumes:
  - name: data
    emptyDir: {}
`)
	pod = waitPod(t, ns, "measured", "ready", func(p *corev1.Pod) bool {
		return running(p) && condition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	// Traffic: 4 x 256 KiB out of the pod.
	for i := 0; i < 4; i++ {
		body, err := httpGet("http://" + pod.Status.PodIP + ":8080/blob")
		if err != nil || len(body) != 256<<10 {
			t.Fatalf("GET blob: %d bytes, %v", len(body), err)
		}
	}

	const mib = 1 << 20
	poll(t, 45*time.Second, "a complete summary", func() error {
		s, err := getSummary()
		if err != nil {
			return err
		}
		n := s.Node
		switch {
		case n.NodeName != nodeName:
			return fmt.Errorf("node.nodeName = %q", n.NodeName)
		case n.CPU == nil || n.CPU.UsageCoreNanoSeconds == nil || n.CPU.UsageNanoCores == nil:
			return fmt.Errorf("node.cpu = %+v; want usageCoreNanoSeconds and (after a second sample) usageNanoCores", n.CPU)
		case n.Memory == nil || val(n.Memory.WorkingSetBytes) == 0 || val(n.Memory.AvailableBytes) == 0:
			return fmt.Errorf("node.memory = %+v", n.Memory)
		case n.Fs == nil || val(n.Fs.CapacityBytes) == 0 || val(n.Fs.AvailableBytes) == 0 || val(n.Fs.UsedBytes) == 0:
			return fmt.Errorf("node.fs = %+v", n.Fs)
		case n.Runtime == nil || n.Runtime.ImageFs == nil || val(n.Runtime.ImageFs.UsedBytes) == 0 || val(n.Runtime.ImageFs.CapacityBytes) == 0:
			return fmt.Errorf("node.runtime = %+v; want imageFs with capacity and the images' usage", n.Runtime)
		case n.Network == nil || len(n.Network.Interfaces) == 0 || n.Network.Name == "" || n.Network.RxBytes == nil:
			return fmt.Errorf("node.network = %+v; want the default interface and the list", n.Network)
		}
		p := s.pod(ns, "measured")
		if p == nil {
			return fmt.Errorf("pod %s/measured not in the summary", ns)
		}
		if p.PodRef.UID != string(pod.UID) {
			return fmt.Errorf("podRef = %+v; want uid %s", p.PodRef, pod.UID)
		}
		if len(p.Containers) != 1 || p.Containers[0].Name != "web" {
			return fmt.Errorf("containers = %+v; want web", p.Containers)
		}
		c := p.Containers[0]
		switch {
		case c.CPU == nil || c.CPU.UsageNanoCores == nil || c.CPU.UsageCoreNanoSeconds == nil:
			return fmt.Errorf("container cpu = %+v", c.CPU)
		case c.Memory == nil || val(c.Memory.WorkingSetBytes) == 0:
			return fmt.Errorf("container memory = %+v", c.Memory)
		case c.Rootfs == nil || val(c.Rootfs.UsedBytes) < mib:
			return fmt.Errorf("container rootfs = %+v; want used >= 1 MiB", c.Rootfs)
		case c.Logs == nil || val(c.Logs.UsedBytes) == 0:
			return fmt.Errorf("container logs = %+v", c.Logs)
		case p.CPU == nil || p.Memory == nil || val(p.Memory.WorkingSetBytes) == 0:
			return fmt.Errorf("pod cpu %+v memory %+v", p.CPU, p.Memory)
		case p.Network == nil || p.Network.Name != "eth0" || val(p.Network.TxBytes) < mib || val(p.Network.RxBytes) == 0:
			return fmt.Errorf("pod network = %+v; want eth0 with tx >= 1 MiB", p.Network)
		case p.EphemeralStorage == nil || val(p.EphemeralStorage.UsedBytes) < mib+mib/2:
			return fmt.Errorf("pod ephemeral-storage = %+v", p.EphemeralStorage)
		}
		for _, v := range p.Volumes {
			if v.Name == "data" {
				if val(v.UsedBytes) < mib/2 || val(v.InodesUsed) == 0 || val(v.CapacityBytes) == 0 || val(v.AvailableBytes) == 0 {
					return fmt.Errorf("volume data = %+v; want used >= 512 KiB, inodes used, capacity and available", v.fsStats)
				}
				return nil
			}
		}
		return fmt.Errorf("volumes = %+v; want data", p.Volumes)
	})
	deletePod(t, ns, pod)
}
