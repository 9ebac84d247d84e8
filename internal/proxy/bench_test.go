package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// The scale benchmark: SKIFF_PROXY_BENCH=1 go test ./internal/proxy -run
// TestScaleRealNftables -v -timeout 30m. It programs BENCH_SERVICES
// Services (default 10,000) with BENCH_ENDPOINTS endpoints each (default
// 5) into the kernel inside a network namespace, then measures full
// resyncs and the time from an EndpointSlice update to the end of the
// nftables transaction carrying it, over BENCH_CHANGES changes (200) that
// replace an endpoint and BENCH_SCALE_CHANGES (100) that add or remove
// one.
const benchEnv = "SKIFF_PROXY_BENCH"

func TestScaleRealNftables(t *testing.T) {
	if os.Getenv(benchEnv) == "" {
		t.Skip("set " + benchEnv + "=1 to run the scale benchmark")
	}
	if os.Getenv(netnsEnv) != "" {
		return
	}
	nodeNS, _ := testbed(t)
	runInNetns(t, nodeNS, "TestScaleRealNftablesHelper", netnsEnv+"="+nodeNS)
}

// benchLogger logs debug output to stderr when BENCH_DEBUG is set.
func benchLogger() *slog.Logger {
	if os.Getenv("BENCH_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func envInt(name string, def int) int {
	var v int
	if _, err := fmt.Sscan(os.Getenv(name), &v); err == nil && v > 0 {
		return v
	}
	return def
}

func TestScaleRealNftablesHelper(t *testing.T) {
	if os.Getenv(netnsEnv) == "" || os.Getenv(benchEnv) == "" {
		t.Skip("runs only inside the namespace TestScaleRealNftables creates")
	}
	nSvc, nEP, nChanges := envInt("BENCH_SERVICES", 10000), envInt("BENCH_ENDPOINTS", 5), envInt("BENCH_CHANGES", 200)
	epIP := func(n int) string { return fmt.Sprintf("10.42.%d.%d", n/250, n%250+1) }
	var objs []k8sruntime.Object
	slices := make([]*discoveryv1.EndpointSlice, nSvc)
	for i := range nSvc {
		name := fmt.Sprintf("svc-%05d", i)
		objs = append(objs, svc("bench", name, fmt.Sprintf("10.43.%d.%d", i/250, i%250+1)))
		var eps []ep
		for j := range nEP {
			eps = append(eps, ep{ip: epIP(i*nEP + j), node: fmt.Sprintf("node-%d", j)})
		}
		slices[i] = httpSlice("bench", name, eps...)
		objs = append(objs, slices[i])
	}
	client := fake.NewSimpleClientset(objs...)
	objs = nil
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	p, err := New(Config{
		Client: client, NodeName: testNode, NodeIPs: []net.IP{net.ParseIP("10.42.0.1")},
		ClusterCIDR: testClusterCIDR, ServiceCIDR: testServiceCIDR,
		MinSyncPeriod: time.Millisecond, SyncPeriod: time.Hour,
		Logger: benchLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	type synced struct {
		full bool
		keys map[string]bool
		took time.Duration
		at   time.Time
	}
	var mu sync.Mutex
	var syncs []synced
	cond := sync.NewCond(&mu)
	p.onSynced = func(full bool, keys []string, took time.Duration) {
		s := synced{full: full, keys: map[string]bool{}, took: took, at: time.Now()}
		for _, k := range keys {
			s.keys[k] = true
		}
		mu.Lock()
		syncs = append(syncs, s)
		cond.Broadcast()
		mu.Unlock()
	}
	// waitSync waits for a sync after index from that satisfies ok.
	waitSync := func(from int, ok func(synced) bool) synced {
		mu.Lock()
		defer mu.Unlock()
		for i := from; ; i++ {
			for i >= len(syncs) {
				cond.Wait()
			}
			if ok(syncs[i]) {
				return syncs[i]
			}
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(syncs) }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	first := waitSync(0, func(s synced) bool { return s.full })
	t.Logf("first full sync (%d Services, %d endpoints): %v (%v after Run started, informer lists included)",
		nSvc, nSvc*nEP, first.took, time.Since(start))

	// CPU time of the whole process (the kernel's work on our batches
	// included): on a shared machine the wall time also counts waiting
	// for a core.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var fulls, fullCPU []time.Duration
	for range 5 {
		n := count()
		c0 := cpu()
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
		p.poke()
		fulls = append(fulls, waitSync(n, func(s synced) bool { return s.full }).took)
		fullCPU = append(fullCPU, (cpu() - c0).Round(time.Millisecond))
	}
	t.Logf("full resync of the programmed table: %v (process CPU %v)", fulls, fullCPU)

	rng := rand.New(rand.NewSource(1))
	var lat, took []time.Duration
	next := nSvc * nEP
	for c := range nChanges {
		i := rng.Intn(nSvc)
		s := slices[i].DeepCopy()
		s.Endpoints[rng.Intn(len(s.Endpoints))].Addresses = []string{epIP(next % 65000)}
		next++
		slices[i] = s
		key := "bench/" + s.Labels[discoveryv1.LabelServiceName]
		n := count()
		t0 := time.Now()
		if _, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitSync(n, func(s synced) bool { return s.keys[key] })
		lat = append(lat, got.at.Sub(t0))
		took = append(took, got.took)
		if c%50 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Intn(5)) * time.Millisecond)
	}
	pct := func(d []time.Duration, q float64) time.Duration {
		c := append([]time.Duration(nil), d...)
		sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
		return c[min(len(c)-1, int(q*float64(len(c))))]
	}
	t.Logf("EndpointSlice update → transaction done, %d changes: p50 %v p90 %v p99 %v max %v",
		len(lat), pct(lat, .5), pct(lat, .9), pct(lat, .99), pct(lat, 1))
	t.Logf("partial sync time alone: p50 %v p99 %v", pct(took, .5), pct(took, .99))

	// Scale changes: an endpoint added to a random Service (or, if it
	// has more than nEP, one removed). The endpoint count changes, so the
	// Service chain's rule is rewritten and the kernel re-validates the
	// table.
	lat, took = nil, nil
	for range envInt("BENCH_SCALE_CHANGES", 100) {
		i := rng.Intn(nSvc)
		s := slices[i].DeepCopy()
		if len(s.Endpoints) > nEP {
			s.Endpoints = s.Endpoints[:nEP]
		} else {
			e := *s.Endpoints[0].DeepCopy()
			e.Addresses = []string{epIP(next % 65000)}
			next++
			s.Endpoints = append(s.Endpoints, e)
		}
		slices[i] = s
		key := "bench/" + s.Labels[discoveryv1.LabelServiceName]
		n := count()
		t0 := time.Now()
		if _, err := client.DiscoveryV1().EndpointSlices("bench").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitSync(n, func(s synced) bool { return s.keys[key] })
		lat = append(lat, got.at.Sub(t0))
		took = append(took, got.took)
		time.Sleep(time.Duration(rng.Intn(5)) * time.Millisecond)
	}
	t.Logf("scale change (endpoint count ±1) → transaction done, %d changes: p50 %v p90 %v p99 %v max %v",
		len(lat), pct(lat, .5), pct(lat, .9), pct(lat, .99), pct(lat, 1))
	t.Logf("partial sync time alone: p50 %v p99 %v", pct(took, .5), pct(took, .99))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	var rss string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
			rss += strings.Join(strings.Fields(l), " ") + " "
		}
	}
	t.Logf("Go heap in use after GC: %.1f MiB, of which %.1f MiB since the fake API objects were made (informer caches + Proxier); whole test process %s",
		float64(ms.HeapInuse)/(1<<20), float64(ms.HeapInuse-before.HeapInuse)/(1<<20), rss)
	out, _ := exec.Command("sh", "-c", "nft list table ip skiff-proxy | wc -l").Output()
	t.Logf("nft list table: %s lines", strings.TrimSpace(string(out)))
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("loadavg: %s", strings.TrimSpace(string(load)))

	if d, err := time.ParseDuration(os.Getenv("BENCH_HOLD")); err == nil {
		t.Logf("holding the table for %v (BENCH_HOLD)", d)
		time.Sleep(d)
	}
	cancel()
	t0 := time.Now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("Run returned (table deleted) %v after cancel", time.Since(t0))
	if _, err := exec.Command("nft", "list", "table", "ip", tableName).CombinedOutput(); err == nil {
		t.Error("table left after Run")
	}
	_ = corev1.ProtocolTCP
}
