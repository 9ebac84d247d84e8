package scheduler

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// BenchmarkScheduling measures the scheduler end to end against an
// in-process API server with N Node objects and no node agent: the
// scheduler runs first, then P pods are created by 32 clients as fast as the
// server takes them, and the clock runs until every pod is bound (API
// server, bindings, events and status writes included, all on the same
// cores). It reports pods/s (P divided by the time from the first create to
// the last binding seen) and the p50/p99 of each pod's time from its create
// request to its binding as seen by a watch.
//
//	go test ./test/integration/scheduler -run XXX -bench Scheduling -benchtime 1x -timeout 60m
//
// Variants: plain (100m cpu pods), spread (a zone topology spread
// constraint, maxSkew 1, DoNotSchedule) and antiaffinity (ten groups of
// pods, each with a required hostname anti-affinity to its own group).
// SKIFF_SCHED_CPUPROFILE=DIR writes a CPU profile of each run to DIR.
func BenchmarkScheduling(b *testing.B) {
	sizes := []struct{ nodes, pods int }{{500, 5000}, {5000, 10000}}
	variants := []struct {
		name string
		pod  func(i int) []podOpt
	}{
		{"plain", func(int) []podOpt { return nil }},
		{"spread", func(int) []podOpt { return []podOpt{podLabels("app", "spread"), zoneSpread("app", "spread")} }},
		{"antiaffinity", func(i int) []podOpt {
			g := "g" + strconv.Itoa(i%10)
			return []podOpt{podLabels("group", g), antiAffinity("group", g)}
		}},
	}
	for _, sz := range sizes {
		for _, v := range variants {
			b.Run(fmt.Sprintf("nodes=%d/pods=%d/%s", sz.nodes, sz.pods, v.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					benchScheduling(b, sz.nodes, sz.pods, v.name, v.pod)
				}
			})
		}
	}
}

func zoneSpread(key, value string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}},
		})
	}
}

func antiAffinity(key, value string) podOpt {
	return affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey:   corev1.LabelHostname,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}},
		}},
	}})
}

func benchScheduling(b *testing.B, nodes, pods int, variant string, opts func(int) []podOpt) {
	b.StopTimer()
	srv := testserver.Start(b, testserver.Options{})
	cfg := rest.CopyConfig(srv.Config)
	cfg.QPS, cfg.Burst = 10000, 20000
	client := kubernetes.NewForConfigOrDie(cfg)
	e := &env{t: b, client: client}
	createNodes(b, client, nodes)

	created := make([]atomic.Int64, pods)
	boundAt := make([]int64, pods)
	var bound atomic.Int64
	done := make(chan struct{})
	f := informers.NewSharedInformerFactory(client, 0)
	_, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			if o.(*corev1.Pod).Spec.NodeName != "" || n.(*corev1.Pod).Spec.NodeName == "" {
				return
			}
			i, err := strconv.Atoi(n.(*corev1.Pod).Name[1:])
			if err != nil || i >= pods {
				return
			}
			boundAt[i] = time.Now().UnixNano() // one informer goroutine; read after done
			if bound.Add(1) == int64(pods) {
				close(done)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer f.Shutdown()
	defer cancel() // before Shutdown, which waits for the informers to stop
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	e.runScheduler(nil)
	// Let the scheduler's informers sync the nodes before the clock starts.
	for e.sched.NodeCount() < nodes {
		time.Sleep(10 * time.Millisecond)
	}

	if dir := os.Getenv("SKIFF_SCHED_CPUPROFILE"); dir != "" {
		pf, err := os.Create(fmt.Sprintf("%s/sched-%d-%d-%s.pprof", dir, nodes, pods, variant))
		if err != nil {
			b.Fatal(err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	b.StartTimer()
	began := time.Now()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= pods {
					return
				}
				p := newPod("default", fmt.Sprintf("p%05d", i), 100, opts(i)...)
				created[i].Store(time.Now().UnixNano())
				if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					b.Errorf("create pod: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	timeout := time.Duration(pods/10) * time.Second
	select {
	case <-done:
	case <-time.After(timeout):
		b.Fatalf("only %d/%d pods bound after %v", bound.Load(), pods, timeout)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	lat := make([]time.Duration, pods)
	for i := range lat {
		lat[i] = time.Duration(boundAt[i] - created[i].Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
	b.ReportMetric(float64(lat[pods/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[pods*99/100].Milliseconds()), "p99-ms")
}

// createNodes creates n nodes (32 cpu, 16Gi, 110 pods, five zones) with 32
// clients.
func createNodes(b *testing.B, client kubernetes.Interface, n int) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &env{t: b, client: client}
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				e.node(fmt.Sprintf("n%04d", i), 32000, labels(corev1.LabelTopologyZone, fmt.Sprintf("z%d", i%5)))
			}
		}()
	}
	wg.Wait()
}
