package dns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

// benchObjects is n ClusterIP Services over 10 namespaces ("bench-0" …),
// each with a named port and an EndpointSlice of three ready endpoints.
func benchObjects(n int) []runtime.Object {
	var objs []runtime.Object
	for i := 0; i < n; i++ {
		ns, name := fmt.Sprintf("bench-%d", i%10), fmt.Sprintf("svc-%d", i)
		ip := netip.AddrFrom4([4]byte{10, 43, byte(1 + i/250), byte(i % 250)}).String()
		objs = append(objs, service(ns, name, ip, port("http", corev1.ProtocolTCP, 80)))
		var eps []ep
		for j := 0; j < 3; j++ {
			eps = append(eps, ep{addr: netip.AddrFrom4([4]byte{10, 42, byte(i / 80), byte(3*(i%80) + j)}).String()})
		}
		objs = append(objs, slice(ns, name, name+"-abcde", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)}, eps...))
	}
	return objs
}

func benchNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("svc-%d.bench-%d.svc.cluster.local.", i, i%10)
	}
	return names
}

// BenchmarkResolve is the resolver alone: one A query for one of 1,000
// Services, no sockets.
func BenchmarkResolve(b *testing.B) {
	r, _ := newTestResolver(&testing.T{}, benchObjects(1000))
	names := benchNames(1000)
	reqs := make([]*miekg.Msg, len(names))
	for i, n := range names {
		reqs[i] = query(n, miekg.TypeA)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m := r.Resolve(context.Background(), reqs[i%len(reqs)], false)
			if len(m.Answer) != 1 {
				b.Fatalf("answer %v", m)
			}
			i++
		}
	})
}

// TestServeForBenchmark serves 1,000 Services for an external load
// generator (dnsperf). It runs only when SKIFF_DNS_BENCH_ADDR is set:
//
//	SKIFF_DNS_BENCH_ADDR=127.0.0.1:5300   where to listen (UDP and TCP)
//	SKIFF_DNS_BENCH_SECONDS=60            how long to serve
//	SKIFF_DNS_BENCH_QUERIES=/tmp/q.txt    write a dnsperf query file here
//	SKIFF_DNS_BENCH_KUBECONFIG=FILE       create the Services in that API
//	                                      server and serve from it (else a
//	                                      fake clientset)
func TestServeForBenchmark(t *testing.T) {
	addr := os.Getenv("SKIFF_DNS_BENCH_ADDR")
	if addr == "" {
		t.Skip("SKIFF_DNS_BENCH_ADDR not set")
	}
	seconds, _ := strconv.Atoi(os.Getenv("SKIFF_DNS_BENCH_SECONDS"))
	if seconds == 0 {
		seconds = 60
	}
	objs := benchObjects(1000)
	if path := os.Getenv("SKIFF_DNS_BENCH_QUERIES"); path != "" {
		var b strings.Builder
		for _, n := range benchNames(1000) {
			fmt.Fprintf(&b, "%s A\n", n)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var client kubernetes.Interface = fake.NewClientset(objs...)
	if kc := os.Getenv("SKIFF_DNS_BENCH_KUBECONFIG"); kc != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cfg.QPS, cfg.Burst = -1, 0
		cs := kubernetes.NewForConfigOrDie(cfg)
		createBenchObjects(t, cs, objs)
		client = cs
	}
	srv, err := New(Config{Client: client, ListenAddr: addr, Upstreams: []string{"127.0.0.1:1"},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	if err := srv.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func createBenchObjects(t *testing.T, cs kubernetes.Interface, objs []runtime.Object) {
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			_, err = cs.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = cs.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}
