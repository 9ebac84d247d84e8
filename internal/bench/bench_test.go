package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func TestPercentile(t *testing.T) {
	samples := make([]time.Duration, 100)
	for i := range samples {
		samples[i] = time.Duration(100-i) * time.Millisecond
	}
	l := summarize(samples)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.P50Ms, 50}, {"p90", l.P90Ms, 90}, {"p99", l.P99Ms, 99}, {"max", l.MaxMs, 100},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v; want zero", got)
	}
}

// TestRunSmall runs every phase at a tiny size against an in-process server.
func TestRunSmall(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	load, err := Run(context.Background(), s.Config, Options{
		Creates: 50, Clients: 4, GetsPerClient: 10, Lists: 2, ListLimit: 20,
		Watchers: 3, WatchEvents: 20, WatchRate: 200,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if load.Create.Errors != 0 || load.Get.Errors != 0 || load.List.Errors != 0 || load.Watch.Errors != 0 {
		t.Errorf("errors: create %d, get %d, list %d, watch %d; want none",
			load.Create.Errors, load.Get.Errors, load.List.Errors, load.Watch.Errors)
	}
	if got, want := load.Watch.Deliveries, 60; got != want || load.Watch.Missing != 0 {
		t.Errorf("watch deliveries = %d (missing %d); want %d", got, load.Watch.Missing, want)
	}
	if got, want := load.List.Page.Count, 2*3; got != want {
		t.Errorf("pages = %d; want %d (50 objects in pages of 20, twice)", got, want)
	}
}

// The benchmarks below drive an in-process server through client-go
// (protobuf), so they measure the API path end to end: TLS, HTTP/2,
// decoding, storage, etcd. Client and server share the process's CPUs.

// BenchmarkCreate creates ConfigMaps with 16 concurrent clients, each on
// its own connection.
func BenchmarkCreate(b *testing.B) {
	s := testserver.Start(b, testserver.Options{})
	ctx := context.Background()
	clients, err := newClients(s.Config, 16)
	if err != nil {
		b.Fatal(err)
	}
	var n, client atomic.Int64
	b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := clients[int(client.Add(1)-1)%len(clients)]
		for pb.Next() {
			name := fmt.Sprintf("cm-%d", n.Add(1))
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}
			if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkGet reads one ConfigMap with 16 concurrent clients.
func BenchmarkGet(b *testing.B) {
	s := testserver.Start(b, testserver.Options{})
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "v"}}
	if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	clients, err := newClients(s.Config, 16)
	if err != nil {
		b.Fatal(err)
	}
	var client atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := clients[int(client.Add(1)-1)%len(clients)]
		for pb.Next() {
			if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "a", metav1.GetOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}

func benchList(b *testing.B, limit int64) {
	s := testserver.Start(b, testserver.Options{})
	ctx := context.Background()
	if _, err := Run(ctx, s.Config, Options{Namespace: "bench", Creates: 5000, Phases: []string{PhaseCreate}}); err != nil {
		b.Fatal(err)
	}
	c, err := newClient(s.Config)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n, cont := 0, ""
		for {
			l, err := c.CoreV1().ConfigMaps("bench").List(ctx, metav1.ListOptions{Limit: limit, Continue: cont})
			if err != nil {
				b.Fatal(err)
			}
			n += len(l.Items)
			if cont = l.Continue; cont == "" {
				break
			}
		}
		if n != 5000 {
			b.Fatalf("listed %d; want 5000", n)
		}
	}
}

// BenchmarkList5000 lists 5,000 ConfigMaps in one request.
func BenchmarkList5000(b *testing.B) { benchList(b, 0) }

// BenchmarkList5000Paged500 lists 5,000 ConfigMaps in pages of 500, as
// kubectl does.
func BenchmarkList5000Paged500(b *testing.B) { benchList(b, 500) }

func TestStartServerFailureIncludesLog(t *testing.T) {
	_, err := StartServer(context.Background(), ServerOptions{
		Binary: "/bin/sh",
		Args:   []string{"-c", "echo boom >&2; exit 3", "sh"},
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("StartServer error = %v; want one quoting the server log", err)
	}
}
