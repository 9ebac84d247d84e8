package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkPodToPod measures TCP from a pod on a1 to a pod on a2, directly
// and through a ClusterIP (the proxy's cost), over the cluster's backend
// (vxlan, or $SKIFF_CLUSTER_BACKEND). Run:
//
//	go test ./test/cluster -run '^$' -bench PodToPod -benchtime=1x -count=5
//	SKIFF_CLUSTER_BACKEND=host-gw go test ./test/cluster -run '^$' -bench PodToPod -benchtime=1x -count=5
func BenchmarkPodToPod(b *testing.B) {
	ns := newNamespace(b)
	apply(b, ns, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: sink, labels: {app: sink}}
spec:
  nodeName: a2
  terminationGracePeriodSeconds: 1
  containers:
  - {name: s, image: %s, command: ["netbench", "serve", "9000"]}
---
apiVersion: v1
kind: Service
metadata: {name: sink}
spec:
  selector: {app: sink}
  ports: [{port: 9000}]
`, BusyboxImage)+"---\n"+clientPod("client", "a1"))
	waitReady(b, ns, "sink", "client")
	podAddr := podIP(b, ns, "sink") + ":9000"
	svcAddr := serviceIP(b, ns, "sink") + ":9000"
	for _, c := range []struct{ name, addr string }{{"direct", podAddr}, {"clusterIP", svcAddr}} {
		b.Run(c.name, func(b *testing.B) {
			var mbps, p50, p99 float64
			for i := 0; i < b.N; i++ {
				var out string
				deadline := time.Now().Add(30 * time.Second)
				for {
					var err error
					out, err = execIn(ns, "client", "netbench", "run", c.addr, "200", "2000")
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("netbench: %v: %s", err, out)
					}
					time.Sleep(500 * time.Millisecond)
				}
				var m, a, z float64
				if _, err := fmt.Sscanf(strings.TrimSpace(out), "MBps=%f p50us=%f p99us=%f", &m, &a, &z); err != nil {
					b.Fatalf("netbench said %q: %v", out, err)
				}
				mbps, p50, p99 = mbps+m, p50+a, p99+z
			}
			n := float64(b.N)
			b.ReportMetric(mbps/n, "MB/s")
			b.ReportMetric(p50/n, "rtt-p50-µs")
			b.ReportMetric(p99/n, "rtt-p99-µs")
		})
	}
}
