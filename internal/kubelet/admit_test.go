package kubelet

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPressureRejects(t *testing.T) {
	bestEffort := podWith("be")
	burstable := podWith("bu", rl("100m", ""))
	tolerant := podWith("tol")
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	critical := podWith("crit")
	prio := int32(systemCriticalPriority)
	critical.Spec.Priority = &prio

	tests := []struct {
		name         string
		pod          *corev1.Pod
		memory, disk bool
		want         string // the message, "" when admitted
	}{
		{"no pressure", bestEffort, false, false, ""},
		{"memory: BestEffort refused", bestEffort, true, false, "The node had condition: [MemoryPressure]. "},
		{"memory: Burstable admitted", burstable, true, false, ""},
		{"memory: BestEffort tolerating the taint admitted", tolerant, true, false, ""},
		{"disk: Burstable refused", burstable, false, true, "The node had condition: [DiskPressure]. "},
		{"both: tolerating memory is not enough", tolerant, true, true, "The node had condition: [MemoryPressure DiskPressure]. "},
		{"disk: critical admitted", critical, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pressureRejects(tt.pod, tt.memory, tt.disk)
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("refused with %+v; want admitted", *got)
			case tt.want != "" && got == nil:
				t.Errorf("admitted; want %q", tt.want)
			case got != nil && (got.reason != "Evicted" || got.message != tt.want):
				t.Errorf("got %q %q; want Evicted %q", got.reason, got.message, tt.want)
			}
		})
	}
}

func TestMachineResourcesReserveEvictionThresholds(t *testing.T) {
	dir := t.TempDir()
	mem := resource.MustParse("200Mi")
	capacity, alloc := machineResources(dir, Threshold{Quantity: &mem}, Threshold{Percentage: 20})
	for _, tt := range []struct {
		name corev1.ResourceName
		want func(c int64) int64
	}{
		{corev1.ResourceMemory, func(c int64) int64 { return c - 200<<20 }},
		{corev1.ResourceEphemeralStorage, func(c int64) int64 { return c - int64(float64(c)*0.2) }},
		{corev1.ResourceCPU, func(c int64) int64 { return c }},
	} {
		c, a := capacity[tt.name], alloc[tt.name]
		if c.IsZero() {
			t.Fatalf("no %s capacity", tt.name)
		}
		if a.Value() != tt.want(c.Value()) {
			t.Errorf("%s: capacity %s, allocatable %s; want %d", tt.name, c.String(), a.String(), tt.want(c.Value()))
		}
	}
	// Signals turned off reserve nothing.
	capacity, alloc = machineResources(dir, Threshold{}, Threshold{})
	for _, name := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if c, a := capacity[name], alloc[name]; c.Cmp(a) != 0 {
			t.Errorf("%s with no threshold: capacity %s, allocatable %s", name, c.String(), a.String())
		}
	}
}

func TestAwaitPodCIDR(t *testing.T) {
	tests := []struct {
		name     string
		assignAt time.Duration // when the IPAM controller assigns; 0: never
		want     string
	}{
		{"assigned after a second", time.Second, "10.42.7.0/24"},
		{"never assigned: gives up after PodCIDRWait", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, clk := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
			k.cfg.PodCIDRChanged = func(string) {}
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
			if _, err := k.client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			done := make(chan *corev1.Node, 1)
			go func() { done <- k.awaitPodCIDR(context.Background(), node) }()
			start := clk.Now()
			for {
				select {
				case got := <-done:
					if got.Spec.PodCIDR != tt.want {
						t.Errorf("pod CIDR %q; want %q", got.Spec.PodCIDR, tt.want)
					}
					if waited := clk.Since(start); tt.want == "" && waited < PodCIDRWait {
						t.Errorf("gave up after %s; want %s", waited, PodCIDRWait)
					}
					return
				default:
				}
				if !clk.HasWaiters() {
					time.Sleep(time.Millisecond) // let the poller reach its wait
					continue
				}
				if tt.assignAt > 0 && clk.Since(start) >= tt.assignAt {
					n, _ := k.client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
					if n.Spec.PodCIDR == "" {
						n.Spec.PodCIDR = "10.42.7.0/24"
						if _, err := k.client.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
							t.Fatal(err)
						}
					}
				}
				if clk.Since(start) > 2*PodCIDRWait {
					t.Fatal("still waiting long after PodCIDRWait")
				}
				clk.Step(250 * time.Millisecond)
			}
		})
	}
}
