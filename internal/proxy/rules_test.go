package proxy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.nft from the current output")

// TestRulesGolden programs a set of Services and slices from scratch and
// compares the table with testdata/NAME.nft (the knftables fake's dump,
// which reads like an nft script). Run with -update to rewrite the files,
// then read the diff: the files are the specification.
func TestRulesGolden(t *testing.T) {
	local := ep{ip: "10.42.0.5", node: testNode}
	remote := ep{ip: "10.42.1.7", node: "node-b"}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		zone string
		objs []any
	}{
		{name: "clusterip", objs: []any{
			svc("ns", "web", "10.43.0.20"),
			httpSlice("ns", "web", local, remote),
		}},
		{name: "nodeport", objs: []any{
			svc("ns", "web", "10.43.0.20", nodePort(30080)),
			httpSlice("ns", "web", local, remote),
		}},
		{name: "loadbalancer", objs: []any{
			svc("ns", "web", "10.43.0.20", loadBalancer(30080, "192.168.0.10", "192.168.0.11")),
			httpSlice("ns", "web", remote),
		}},
		{name: "externalips", objs: []any{
			svc("ns", "web", "10.43.0.20", externalIPs("203.0.113.5")),
			httpSlice("ns", "web", remote),
		}},
		{name: "headless-and-externalname", objs: []any{
			svc("ns", "headless", "None"),
			httpSlice("ns", "headless", local),
			func() *corev1.Service {
				s := svc("ns", "ext", "")
				s.Spec.Type = corev1.ServiceTypeExternalName
				s.Spec.ExternalName = "example.com"
				return s
			}(),
		}},
		{name: "affinity", objs: []any{
			svc("ns", "web", "10.43.0.20", affinity(60)),
			httpSlice("ns", "web", local, remote),
		}},
		{name: "etp-local", objs: []any{
			svc("ns", "web", "10.43.0.20", loadBalancer(30080, "192.168.0.10"), etpLocal(32000)),
			httpSlice("ns", "web", local, remote),
		}},
		{name: "etp-local-no-local-endpoints", objs: []any{
			svc("ns", "web", "10.43.0.20", nodePort(30080), etpLocal(0)),
			httpSlice("ns", "web", remote),
		}},
		{name: "itp-local", objs: []any{
			svc("ns", "web", "10.43.0.20", itpLocal),
			httpSlice("ns", "web", local, remote),
			svc("ns", "nolocal", "10.43.0.21", itpLocal),
			httpSlice("ns", "nolocal", remote),
		}},
		{name: "prefer-close", zone: "z1", objs: []any{
			svc("ns", "web", "10.43.0.20"),
			httpSlice("ns", "web",
				ep{ip: "10.42.0.5", node: testNode, zone: "z1", hintZones: []string{"z1"}},
				ep{ip: "10.42.1.7", node: "node-b", zone: "z1", hintZones: []string{"z1"}},
				ep{ip: "10.42.2.9", node: "node-c", zone: "z2", hintZones: []string{"z2"}}),
			// One endpoint without hints: topology is ignored.
			svc("ns", "partial", "10.43.0.21"),
			httpSlice("ns", "partial",
				ep{ip: "10.42.0.6", node: testNode, zone: "z1", hintZones: []string{"z1"}},
				ep{ip: "10.42.2.8", node: "node-c", zone: "z2"}),
			// No endpoint for our zone: all of them.
			svc("ns", "elsewhere", "10.43.0.22"),
			httpSlice("ns", "elsewhere",
				ep{ip: "10.42.2.10", node: "node-c", zone: "z2", hintZones: []string{"z2"}}),
		}},
		{name: "terminating", objs: []any{
			// No ready endpoint: the serving terminating one is used, the
			// not-serving one is not.
			svc("ns", "web", "10.43.0.20"),
			httpSlice("ns", "web",
				ep{ip: "10.42.0.5", node: testNode, terminating: "y"},
				ep{ip: "10.42.1.7", node: "node-b", terminating: "y", notServing: true}),
			// A ready one remains: terminating ones are not used.
			svc("ns", "ready", "10.43.0.21"),
			httpSlice("ns", "ready",
				ep{ip: "10.42.0.6", node: testNode, terminating: "y"},
				ep{ip: "10.42.1.8", node: "node-b"},
				ep{ip: "10.42.1.9", node: "node-b", notReady: "y"}),
		}},
		{name: "no-endpoints", objs: []any{
			svc("ns", "web", "10.43.0.20", nodePort(30080), externalIPs("203.0.113.5")),
			httpSlice("ns", "web", ep{ip: "10.42.1.9", node: "node-b", notReady: "y"}),
			svc("ns", "noslice", "10.43.0.21"),
		}},
		{name: "udp", objs: []any{
			svc("kube-system", "kube-dns", "10.43.0.10", udp),
			slice("kube-system", "kube-dns", "kube-dns-x", "dns", corev1.ProtocolUDP, 53, ep{ip: "10.42.0.1", node: testNode}),
		}},
		{name: "multiport", objs: []any{
			func() *corev1.Service {
				s := svc("ns", "web", "10.43.0.20")
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP})
				return s
			}(),
			httpSlice("ns", "web", local),
			slice("ns", "web", "web-metrics", "metrics", corev1.ProtocolTCP, 9100, local),
		}},
		{name: "bad-input", objs: []any{
			// An endpoint address that is not an IP is skipped; the good
			// one is kept.
			svc("ns", "web", "10.43.0.20", externalIPs("not-an-ip")),
			httpSlice("ns", "web", ep{ip: "not-an-ip", node: testNode}, remote),
			// Two Services on one NodePort: the first (by name) keeps it.
			svc("ns", "a-first", "10.43.0.30", nodePort(30080)),
			httpSlice("ns", "a-first", remote),
			svc("ns", "b-second", "10.43.0.31", nodePort(30080)),
			httpSlice("ns", "b-second", ep{ip: "10.42.1.8", node: "node-b"}),
			// A ClusterIP that is not an address: the Service is skipped.
			svc("ns", "broken", "10.43.0.999"),
		}},
		{name: "localhost-nodeports", cfg: func(c *Config) {
			c.NodePortAddresses = []string{"primary", "127.0.0.1/32"}
		}, objs: []any{
			svc("ns", "web", "10.43.0.20", nodePort(30080)),
			httpSlice("ns", "web", remote),
		}},
		{name: "no-cluster-cidr", cfg: func(c *Config) { c.ClusterCIDR, c.ServiceCIDR = "", "" }, objs: []any{
			svc("ns", "web", "10.43.0.20", nodePort(30080), etpLocal(0)),
			httpSlice("ns", "web", local),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			tp := newTestProxier(t, cfg)
			tp.zone = tc.zone
			tp.set(tc.objs...)
			if !tp.mustSync(t) {
				t.Fatal("first sync was not full")
			}
			checkGolden(t, tc.name, tp.nft.Dump())
		})
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".nft")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s:\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff is a small diff: lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := map[string]int{}, map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		w[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		g[l]++
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
