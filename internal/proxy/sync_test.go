package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/knftables"
)

// fullDump programs objs from scratch on a fresh proxier and returns the
// table: what any sequence of partial syncs must converge to.
func fullDump(t *testing.T, cfg Config, zone string, objs []any) string {
	t.Helper()
	tp := newTestProxier(t, cfg)
	tp.zone = zone
	tp.set(objs...)
	tp.mustSync(t)
	return tp.nft.Dump()
}

// TestPartialSyncConverges drives one proxier through a sequence of
// changes with partial syncs and checks after each step that (a) the sync
// was partial and touched only what changed, and (b) the table equals a
// full sync of the same objects on a fresh proxier.
func TestPartialSyncConverges(t *testing.T) {
	cfg := testConfig()
	clk := cfg.Clock.(*clocktesting.FakeClock)
	web := svc("ns", "web", "10.43.0.20", nodePort(30080))
	api := svc("ns", "api", "10.43.0.21", affinity(30))
	dns := svc("kube-system", "kube-dns", "10.43.0.10", udp)
	web2 := svc("ns", "web2", "10.43.0.22")
	state := map[string]any{}
	put := func(objs ...any) {
		for _, o := range objs {
			m := o.(metav1.Object)
			state[kindOf(o)+m.GetNamespace()+"/"+m.GetName()] = o
		}
	}
	drop := func(objs ...any) {
		for _, o := range objs {
			m := o.(metav1.Object)
			delete(state, kindOf(o)+m.GetNamespace()+"/"+m.GetName())
		}
	}
	current := func() []any {
		var out []any
		for _, o := range state {
			out = append(out, o)
		}
		return out
	}
	tp := newTestProxier(t, cfg)
	steps := []struct {
		name     string
		set      []any
		remove   []any
		wantOps  int    // upper bound on transaction size
		wantText string // a line the transaction must contain
		wantCT   bool   // a conntrack cleanup must run
		noRules  bool   // the transaction must not add rules
	}{
		{name: "initial", set: []any{web, httpSlice("ns", "web", ep{ip: "10.42.0.5", node: testNode}), api, httpSlice("ns", "api", ep{ip: "10.42.1.5", node: "node-b"})}},
		{name: "endpoint added", set: []any{httpSlice("ns", "web", ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.6", node: "node-b"})},
			wantOps: 12, wantText: ": 10.42.1.6 . 8080 }"},
		{name: "endpoint replaced: map elements only, no rule", set: []any{httpSlice("ns", "web", ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.7", node: "node-b"})},
			wantOps: 4, wantText: "add element ip skiff-proxy endpoints-0 { 2 : 10.42.1.7 . 8080 }", noRules: true},
		{name: "endpoint removed", set: []any{httpSlice("ns", "web", ep{ip: "10.42.1.6", node: "node-b"})},
			wantOps: 12, wantText: "delete element ip skiff-proxy hairpin { 10.42.0.5 . 10.42.0.5 }"},
		{name: "scaled to zero", set: []any{httpSlice("ns", "web")},
			wantOps: 12, wantText: "add element ip skiff-proxy no-endpoint-services { 10.43.0.20 . tcp . 80 : goto reject-chain }"},
		{name: "back from zero", set: []any{httpSlice("ns", "web", ep{ip: "10.42.0.9", node: testNode})},
			wantOps: 14, wantText: "delete element ip skiff-proxy no-endpoint-services { 10.43.0.20 . tcp . 80 }"},
		{name: "affinity timeout changed", set: []any{svc("ns", "api", "10.43.0.21", affinity(90))},
			wantOps: 14, wantText: "timeout 90s"},
		{name: "udp service gains first endpoint", set: []any{dns, slice("kube-system", "kube-dns", "kube-dns-x", "dns", corev1.ProtocolUDP, 53, ep{ip: "10.42.0.1", node: testNode})},
			wantOps: 14, wantCT: true},
		{name: "udp endpoint replaced", set: []any{slice("kube-system", "kube-dns", "kube-dns-x", "dns", corev1.ProtocolUDP, 53, ep{ip: "10.42.0.2", node: testNode})},
			wantOps: 14, wantCT: true},
		{name: "service type changed to ClusterIP", set: []any{svc("ns", "web", "10.43.0.20")},
			wantOps: 12, wantText: "delete element ip skiff-proxy service-nodeports { tcp . 30080 }"},
		{name: "second Service on the same pod", set: []any{web2, httpSlice("ns", "web2", ep{ip: "10.42.0.9", node: testNode})},
			wantOps: 12, wantText: "add element ip skiff-proxy service-ips { 10.43.0.22 . tcp . 80"},
		{name: "second Service removed, hairpin entry stays", remove: []any{web2}, wantOps: 12},
		{name: "service deleted", remove: []any{api},
			wantOps: 12, wantText: "delete element ip skiff-proxy service-ips { 10.43.0.21 . tcp . 80 }"},
		{name: "udp service deleted", remove: []any{dns},
			wantOps: 12, wantCT: true},
	}
	for i, st := range steps {
		ctBefore := tp.ct.calls
		tp.set(st.set...)
		tp.remove(st.remove...)
		put(st.set...)
		drop(st.remove...)
		full := tp.mustSync(t)
		if (i == 0) != full {
			t.Fatalf("%s: full = %v; want %v", st.name, full, i == 0)
		}
		if i > 0 {
			tx := tp.nft.LastTransaction
			if n := tx.NumOperations(); n > st.wantOps {
				t.Errorf("%s: transaction has %d operations; want at most %d:\n%s", st.name, n, st.wantOps, tx)
			}
			if st.wantText != "" && !strings.Contains(tx.String(), st.wantText) {
				t.Errorf("%s: transaction lacks %q:\n%s", st.name, st.wantText, tx)
			}
			if st.noRules && strings.Contains(tx.String(), "add rule") {
				t.Errorf("%s: transaction adds rules (the kernel re-validates the table):\n%s", st.name, tx)
			}
			if strings.Contains(tx.String(), "flush map") {
				t.Errorf("%s: partial sync flushed a map:\n%s", st.name, tx)
			}
		}
		if got := tp.ct.calls > ctBefore; got != st.wantCT {
			t.Errorf("%s: conntrack cleanup ran = %v; want %v", st.name, got, st.wantCT)
		}
		// Let flushed chains age out and be deleted before comparing.
		clk.Step(2 * staleChainDelay)
		tp.mustSync(t)
		if got, want := sortedLines(canonicalPicks(tp.nft.Dump())), sortedLines(canonicalPicks(fullDump(t, cfg, "", current()))); got != want {
			t.Fatalf("%s: partial syncs diverged from a full sync:\n%s", st.name, lineDiff(want, got))
		}
	}
	if len(tp.ct.gone) == 0 || tp.ct.gone[0] != netip.MustParseAddrPort("10.43.0.10:53") {
		t.Errorf("conntrack gone destinations = %v; want 10.43.0.10:53", tp.ct.gone)
	}
}

// canonicalPicks names the endpoints map keys by chain and index instead
// of number: which block of keys a chain holds depends on its history.
func canonicalPicks(dump string) string {
	type blk struct {
		chain, m string
		off, mod int
	}
	var blocks []blk
	ruleRE := regexp.MustCompile(`^add rule ip skiff-proxy (\S+) .*numgen random mod (\d+) offset (\d+) map @(endpoints-\d+)`)
	lines := strings.Split(dump, "\n")
	for i, l := range lines {
		if m := ruleRE.FindStringSubmatch(l); m != nil {
			mod, _ := strconv.Atoi(m[2])
			off, _ := strconv.Atoi(m[3])
			blocks = append(blocks, blk{m[1], m[4], off, mod})
			lines[i] = strings.Replace(l, "offset "+m[3], "offset <"+m[1]+">", 1)
		}
	}
	elemRE := regexp.MustCompile(`^add element ip skiff-proxy (endpoints-\d+) \{ (\d+) :`)
	for i, l := range lines {
		if m := elemRE.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[2])
			name := "<unused " + m[1] + " " + m[2] + ">"
			for _, b := range blocks {
				if m[1] == b.m && k >= b.off && k < b.off+b.mod {
					name = fmt.Sprintf("<%s>+%d", b.chain, k-b.off)
				}
			}
			lines[i] = strings.Replace(l, m[1]+" { "+m[2]+" :", "endpoints { "+name+" :", 1)
		}
	}
	return strings.Join(lines, "\n")
}

// sortedLines puts a dump in a canonical order: element order in the
// fake follows insertion, which differs between partial and full syncs.
func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func kindOf(o any) string {
	if _, ok := o.(*corev1.Service); ok {
		return "svc:"
	}
	return "slice:"
}

// TestConflictResolvedWhenOwnerLeaves: a Service that lost its NodePort to
// another gets it once the other goes away, without a full sync.
func TestConflictResolvedWhenOwnerLeaves(t *testing.T) {
	tp := newTestProxier(t, testConfig())
	a := svc("ns", "a", "10.43.0.30", nodePort(30080))
	b := svc("ns", "b", "10.43.0.31", nodePort(30080))
	tp.set(a, httpSlice("ns", "a", ep{ip: "10.42.1.7"}), b, httpSlice("ns", "b", ep{ip: "10.42.1.8"}))
	tp.mustSync(t)
	if !hasLine(tp.nft.Dump(), "service-nodeports { tcp . 30080 : goto external-", "ns/a/tcp/http }") {
		t.Fatalf("first Service should own the NodePort:\n%s", tp.nft.Dump())
	}
	tp.remove(a)
	if tp.mustSync(t) {
		t.Fatal("sync was full; want partial")
	}
	if d := tp.nft.Dump(); !hasLine(d, "service-nodeports { tcp . 30080 : goto external-", "ns/b/tcp/http }") {
		t.Errorf("second Service did not take the NodePort over:\n%s", d)
	}
}

// hasLine reports whether some line of dump contains all of parts.
func hasLine(dump string, parts ...string) bool {
	for _, l := range strings.Split(dump, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestFailedSyncFallsBackToFull: after a failed transaction the next sync
// rewrites everything.
func TestFailedSyncFallsBackToFull(t *testing.T) {
	tp := newTestProxier(t, testConfig())
	tp.set(svc("ns", "web", "10.43.0.20"), httpSlice("ns", "web", ep{ip: "10.42.1.7"}))
	tp.mustSync(t)
	// Someone deletes our table behind our back: the partial sync fails.
	tx := tp.nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := tp.nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	tp.set(httpSlice("ns", "web", ep{ip: "10.42.1.8"}))
	if _, err := tp.sync(context.Background()); err == nil {
		t.Fatal("partial sync on a missing table succeeded")
	}
	if !tp.mustSync(t) {
		t.Fatal("sync after a failure was not full")
	}
	if !strings.Contains(tp.nft.Dump(), ": 10.42.1.8 . 8080 }") {
		t.Errorf("full sync did not restore the table:\n%s", tp.nft.Dump())
	}
}

func TestZoneChangeForcesFullSync(t *testing.T) {
	tp := newTestProxier(t, testConfig())
	tp.set(svc("ns", "web", "10.43.0.20"), httpSlice("ns", "web",
		ep{ip: "10.42.0.5", zone: "z1", hintZones: []string{"z1"}}, ep{ip: "10.42.2.9", zone: "z2", hintZones: []string{"z2"}}))
	tp.mustSync(t)
	if !strings.Contains(tp.nft.Dump(), "numgen random mod 2 offset") {
		t.Fatalf("no zone: want both endpoints")
	}
	tp.setZone("z2")
	if !tp.mustSync(t) {
		t.Fatal("zone change did not force a full sync")
	}
	if d := tp.nft.Dump(); !strings.Contains(d, "numgen random mod 1 offset") || strings.Contains(d, "10.42.0.5 . 8080") || !strings.Contains(d, ": 10.42.2.9 . 8080 }") {
		t.Errorf("zone z2: want only 10.42.2.9:\n%s", d)
	}
}

func TestHealthServerResponse(t *testing.T) {
	h := newHealthServer(testConfig().Logger)
	for _, tc := range []struct {
		count    int
		wantCode int
	}{{2, http.StatusOK}, {0, http.StatusServiceUnavailable}} {
		rec := httptest.NewRecorder()
		h.serve(rec, healthPort{port: 1, namespace: "ns", name: "web", localEndpoints: tc.count})
		if rec.Code != tc.wantCode {
			t.Errorf("count %d: code %d; want %d", tc.count, rec.Code, tc.wantCode)
		}
		var body struct {
			Service             struct{ Namespace, Name string }
			LocalEndpoints      int  `json:"localEndpoints"`
			ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if body.Service.Namespace != "ns" || body.Service.Name != "web" || body.LocalEndpoints != tc.count || !body.ServiceProxyHealthy {
			t.Errorf("body = %+v", body)
		}
		if rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", rec.Header().Get("Content-Type"))
		}
	}
}

// TestHealthCheckNodePort syncs an eTP Local LoadBalancer Service and asks
// its health check port (on 127.0.0.1, the test's node address) over HTTP.
func TestHealthCheckNodePort(t *testing.T) {
	port := freePort(t)
	cfg := testConfig()
	cfg.NodeIPs = []net.IP{net.ParseIP("127.0.0.1")}
	tp := newTestProxier(t, cfg)
	s := svc("ns", "web", "10.43.0.20", loadBalancer(30080, "192.168.0.10"), etpLocal(int32(port)))
	tp.set(s, httpSlice("ns", "web", ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.7", node: "node-b"}))
	tp.mustSync(t)
	get := func() (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + itoa(port) + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || !strings.Contains(body, `"localEndpoints": 1`) {
		t.Errorf("one local endpoint: %d %s", code, body)
	}
	tp.set(httpSlice("ns", "web", ep{ip: "10.42.1.7", node: "node-b"}))
	tp.mustSync(t)
	if code, body := get(); code != 503 || !strings.Contains(body, `"localEndpoints": 0`) {
		t.Errorf("no local endpoint: %d %s", code, body)
	}
	tp.remove(s)
	tp.mustSync(t)
	if _, err := http.Get("http://127.0.0.1:" + itoa(port) + "/"); err == nil {
		t.Error("health check port still open after the Service went away")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestStaleUDPFilter(t *testing.T) {
	targets := []udpTarget{{
		dests:     []netip.AddrPort{netip.MustParseAddrPort("10.43.0.10:53")},
		nodePort:  30053,
		endpoints: map[netip.AddrPort]bool{netip.MustParseAddrPort("10.42.0.2:53"): true},
	}}
	f := newStaleUDPFilter(targets, []netip.AddrPort{netip.MustParseAddrPort("10.43.0.99:53")}, []netip.Addr{netip.MustParseAddr("192.168.0.10")})
	flow := func(proto uint8, dst, reply string) *netlink.ConntrackFlow {
		d, r := netip.MustParseAddrPort(dst), netip.MustParseAddrPort(reply)
		return &netlink.ConntrackFlow{
			Forward: netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP("10.42.0.7"), SrcPort: 40000, DstIP: d.Addr().AsSlice(), DstPort: d.Port()},
			Reverse: netlink.IPTuple{Protocol: proto, SrcIP: r.Addr().AsSlice(), SrcPort: r.Port(), DstIP: net.ParseIP("10.42.0.7"), DstPort: 40000},
		}
	}
	for _, tc := range []struct {
		name string
		fl   *netlink.ConntrackFlow
		want bool
	}{
		{"to a live endpoint", flow(unix.IPPROTO_UDP, "10.43.0.10:53", "10.42.0.2:53"), false},
		{"to a gone endpoint", flow(unix.IPPROTO_UDP, "10.43.0.10:53", "10.42.0.3:53"), true},
		{"never translated (no endpoints then)", flow(unix.IPPROTO_UDP, "10.43.0.10:53", "10.43.0.10:53"), true},
		{"node port to a gone endpoint", flow(unix.IPPROTO_UDP, "192.168.0.10:30053", "10.42.0.3:53"), true},
		{"node port to a live endpoint", flow(unix.IPPROTO_UDP, "192.168.0.10:30053", "10.42.0.2:53"), false},
		{"deleted Service", flow(unix.IPPROTO_UDP, "10.43.0.99:53", "10.42.0.8:53"), true},
		{"TCP is left alone", flow(unix.IPPROTO_TCP, "10.43.0.10:53", "10.42.0.3:53"), false},
		{"unrelated", flow(unix.IPPROTO_UDP, "8.8.8.8:53", "8.8.8.8:53"), false},
	} {
		if got := f.MatchConntrackFlow(tc.fl); got != tc.want {
			t.Errorf("%s: match = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestRunWithFakeClient runs the whole Proxier (informers, loop) against a
// fake clientset and fake nftables: rules appear, follow changes, and
// the table is gone when Run returns. Sysctls are set at start.
func TestRunWithFakeClient(t *testing.T) {
	web := svc("ns", "web", "10.43.0.20")
	sl := httpSlice("ns", "web", ep{ip: "10.42.1.7", node: "node-b"})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}
	client := fake.NewSimpleClientset(web, sl, node)
	cfg := testConfig()
	cfg.Client = client
	cfg.Clock = nil // real time: the informers and loop run for real
	cfg.MinSyncPeriod = 10 * time.Millisecond
	tp := newTestProxier(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tp.Run(ctx) }()
	waitFor(t, tp.nft, ": 10.42.1.7 . 8080 }")
	sl2 := sl.DeepCopy()
	sl2.Endpoints[0].Addresses = []string{"10.42.1.8"}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, sl2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tp.nft, ": 10.42.1.8 . 8080 }")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if d := tp.nft.Dump(); d != "" {
		t.Errorf("table left after Run:\n%s", d)
	}
	tp.sysctlMu.Lock()
	defer tp.sysctlMu.Unlock()
	if tp.sysctls["net/ipv4/ip_forward"] != "1" || tp.sysctls["net/bridge/bridge-nf-call-iptables"] != "1" {
		t.Errorf("sysctls = %v", tp.sysctls)
	}
	if _, ok := tp.sysctls["net/ipv4/conf/all/route_localnet"]; ok {
		t.Error("route_localnet set without localhost NodePorts")
	}
}

func waitFor(t *testing.T, nft *knftables.Fake, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(nft.Dump(), text) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("table never contained %q:\n%s", text, nft.Dump())
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no node name", func(c *Config) { c.NodeName = "" }},
		{"bad cluster CIDR", func(c *Config) { c.ClusterCIDR = "10.42.0.0" }},
		{"IPv6 service CIDR", func(c *Config) { c.ServiceCIDR = "fd00::/108" }},
		{"bad nodeport address", func(c *Config) { c.NodePortAddresses = []string{"eth0"} }},
	} {
		cfg := testConfig()
		tc.mod(&cfg)
		if _, err := newProxier(cfg, knftables.NewFake(knftables.IPv4Family, tableName), nil, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

var _ = discoveryv1.AddressTypeIPv4

func TestSysctlsForLocalhostNodePorts(t *testing.T) {
	cfg := testConfig()
	cfg.NodePortAddresses = []string{"127.0.0.0/8"}
	tp := newTestProxier(t, cfg)
	tp.setSysctls()
	for _, name := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables", "net/ipv4/conf/all/route_localnet"} {
		if tp.sysctls[name] != "1" {
			t.Errorf("%s = %q; want 1", name, tp.sysctls[name])
		}
	}
}

// TestSyncPanicBecomesError: a panic inside a sync is reported as an error
// and forces a full resync instead of crashing the agent.
func TestSyncPanicBecomesError(t *testing.T) {
	tp := newTestProxier(t, testConfig())
	tp.services = nil // build will dereference it
	tp.markDirty("ns/web")
	tp.full = false
	tp.programmed = map[string]*svcRules{}
	if _, err := tp.safeSync(context.Background()); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("err = %v; want a panic turned into an error", err)
	}
	if !tp.full {
		t.Error("a panicked sync did not ask for a full resync")
	}
}
