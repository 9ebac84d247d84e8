package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkCreate measures create throughput with 16 concurrent clients.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("cm-%d", n.Add(1))
			if _, err := e.cm.Create(ctx, "ns", name, cm("ns", name, map[string]string{"app": "bench"}, "some data")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func benchList(b *testing.B, opts ListOptions) {
	e := newEnv(b, nil)
	ctx := context.Background()
	for i := 0; i < 5000; i++ {
		name := fmt.Sprintf("cm-%05d", i)
		if _, err := e.cm.Create(ctx, fmt.Sprintf("ns-%d", i%10), name, cm("", name, map[string]string{"app": "bench"}, "some data")); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.cm.List(ctx, "", opts)
		if err != nil {
			b.Fatal(err)
		}
		if opts.Limit == 0 && len(res.Items) != 5000 {
			b.Fatalf("got %d items", len(res.Items))
		}
	}
}

// BenchmarkList5000Consistent lists 5,000 objects with RV "" (cache after a
// freshness check against etcd).
func BenchmarkList5000Consistent(b *testing.B) { benchList(b, ListOptions{}) }

// BenchmarkList5000Cache lists 5,000 objects with RV "0".
func BenchmarkList5000Cache(b *testing.B) { benchList(b, ListOptions{ResourceVersion: "0"}) }

// BenchmarkList5000Paged500 reads the first 500-item page from etcd.
func BenchmarkList5000Paged500(b *testing.B) { benchList(b, ListOptions{Limit: 500}) }

func BenchmarkGet(b *testing.B) {
	e := newEnv(b, nil)
	e.create("ns", "a", nil, "x")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.cm.Get(ctx, "ns", "a", GetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
