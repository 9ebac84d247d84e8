package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// BenchmarkScheduling500Nodes5000Pods measures binding throughput: 5,000
// pending pods are created first, then a scheduler starts and the clock runs
// until every pod is bound (API server, bindings and events included).
// Reports pods/s.
func BenchmarkScheduling500Nodes5000Pods(b *testing.B) {
	const nodes, pods = 500, 5000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := testserver.Start(b, testserver.Options{})
		cfg := rest.CopyConfig(srv.Config)
		cfg.QPS, cfg.Burst = 10000, 20000
		e := &env{t: b, client: kubernetes.NewForConfigOrDie(cfg)}
		for n := 0; n < nodes; n++ {
			e.node(fmt.Sprintf("n%03d", n), 32000, labels(corev1.LabelTopologyZone, fmt.Sprintf("z%d", n%5)))
		}
		var list []*corev1.Pod
		for p := 0; p < pods; p++ {
			list = append(list, newPod("default", fmt.Sprintf("p%05d", p), 100))
		}
		createPods(b, srv.Client, list, 32)

		var bound atomic.Int64
		done := make(chan struct{})
		f := informers.NewSharedInformerFactory(srv.Client, 0)
		f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(o, n any) {
				if o.(*corev1.Pod).Spec.NodeName == "" && n.(*corev1.Pod).Spec.NodeName != "" {
					if bound.Add(1) == pods {
						close(done)
					}
				}
			},
		})
		ctx, cancel := context.WithCancel(context.Background())
		f.Start(ctx.Done())
		f.WaitForCacheSync(ctx.Done())

		b.StartTimer()
		began := time.Now()
		e.runScheduler(nil)
		select {
		case <-done:
		case <-time.After(120 * time.Second):
			b.Fatalf("only %d/%d pods bound after 120s", bound.Load(), pods)
		}
		elapsed := time.Since(began)
		b.StopTimer()
		b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
		cancel()
		f.Shutdown()
	}
}
