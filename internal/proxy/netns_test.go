package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// The real-kernel tests run the test binary again inside a network
// namespace the test creates ("ip netns exec"), so every nft command, the
// sysctls and the conntrack calls of the Proxier touch only that
// namespace. A second namespace holds the "pod": a veth pair joins them.
//
//	node ns  lo, veth-n 10.42.0.1/24, default route via veth-n
//	pod ns   lo, veth-p 10.42.0.5/24, default route via 10.42.0.1
const netnsEnv = "SKIFF_PROXY_NETNS" // "nodeNS,podNS" in the helper

// testbed creates the two namespaces and the veth pair; t.Cleanup deletes
// them.
func testbed(t *testing.T) (nodeNS, podNS string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	id := fmt.Sprintf("skp%d", os.Getpid())
	nodeNS, podNS = id+"-node", id+"-pod"
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", nodeNS).Run()
		_ = exec.Command("ip", "netns", "del", podNS).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", nodeNS},
		{"netns", "add", podNS},
		{"link", "add", "veth-n", "netns", nodeNS, "type", "veth", "peer", "name", "veth-p", "netns", podNS},
		{"-n", nodeNS, "link", "set", "lo", "up"},
		{"-n", podNS, "link", "set", "lo", "up"},
		{"-n", nodeNS, "addr", "add", "10.42.0.1/24", "dev", "veth-n"},
		{"-n", podNS, "addr", "add", "10.42.0.5/24", "dev", "veth-p"},
		{"-n", nodeNS, "link", "set", "veth-n", "up"},
		{"-n", podNS, "link", "set", "veth-p", "up"},
		{"-n", nodeNS, "route", "add", "default", "dev", "veth-n"},
		{"-n", podNS, "route", "add", "default", "via", "10.42.0.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// One link for everything: the node would send the pod ICMP
	// redirects ("reach 10.43.0.20 directly") that a real node, whose
	// pods sit behind their own bridge port, does not.
	// Redirects would also use up the node's per-host ICMP rate limit
	// that the "port unreachable" of a rejected connection needs.
	for ns, path := range map[string]string{
		nodeNS: "/proc/sys/net/ipv4/conf/*/send_redirects",
		podNS:  "/proc/sys/net/ipv4/conf/*/accept_redirects",
	} {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "for f in "+path+"; do echo 0 > $f; done").CombinedOutput(); err != nil {
			t.Fatalf("%s in %s: %v: %s", path, ns, err, out)
		}
	}
	return nodeNS, podNS
}

// runInNetns runs the test named helper of this binary inside ns.
func runInNetns(t *testing.T, ns, helper, env string, extra ...string) {
	t.Helper()
	args := append([]string{"netns", "exec", ns, os.Args[0], "-test.run", "^" + helper + "$", "-test.v", "-test.count=1"}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	t.Logf("%s in %s:\n%s", helper, ns, out)
	if err != nil {
		t.Fatalf("%s failed: %v", helper, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+helper) {
		t.Fatalf("%s did not pass", helper)
	}
}

// inNetns runs fn on a thread switched into ns (for sockets that must
// live there). If switching back fails the thread is left locked, so Go
// discards it.
func inNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// TestRealNftables runs the Proxier against the kernel in a namespace:
// rules in `nft list table ip skiff-proxy`, TCP through a ClusterIP and
// a NodePort (hairpin, from the endpoint itself) reaching a listener in
// the pod namespace, a fast "connection refused" once scaled to zero,
// and no table left when Run returns.
func TestRealNftables(t *testing.T) {
	nodeNS, podNS := testbed(t)
	runInNetns(t, nodeNS, "TestRealNftablesHelper", netnsEnv+"="+nodeNS+","+podNS)
}

func TestRealNftablesHelper(t *testing.T) {
	env := os.Getenv(netnsEnv)
	if env == "" {
		t.Skip("runs only inside the namespace TestRealNftables creates")
	}
	// Every golden table is a valid nft script the kernel accepts (the
	// fake does not parse rules), checked as a dry run.
	goldens, _ := filepath.Glob("testdata/*.nft")
	if len(goldens) == 0 {
		t.Error("no golden files found")
	}
	for _, g := range goldens {
		if out, err := exec.Command("nft", "--check", "-f", g).CombinedOutput(); err != nil {
			t.Errorf("kernel rejects %s: %v\n%s", g, err, out)
		}
	}
	testNetlinkMatchesNft(t, goldens)

	_, podNS, _ := strings.Cut(env, ",")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The "pod": a TCP listener on 10.42.0.5:8080 in the pod namespace
	// that answers with its peer's address.
	var ln net.Listener
	if err := inNetns(podNS, func() (err error) {
		ln, err = net.Listen("tcp4", "10.42.0.5:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", c.RemoteAddr())
			c.Close()
		}
	}()

	// A table left by a crashed proxy of another version: a base chain
	// at another priority (which cannot be changed in place) and a stray
	// Service chain. The first sync replaces it all.
	leftover := exec.Command("nft", "-f", "-")
	leftover.Stdin = strings.NewReader("add table ip skiff-proxy\n" +
		"add chain ip skiff-proxy nat-prerouting { type nat hook prerouting priority 0 ; }\n" +
		"add chain ip skiff-proxy service-OLD-ns/gone/tcp/http\n")
	if out, err := leftover.CombinedOutput(); err != nil {
		t.Fatalf("making a leftover table: %v: %s", err, out)
	}

	web := svc("ns", "web", "10.43.0.20", nodePort(30080))
	sl := httpSlice("ns", "web", ep{ip: "10.42.0.5", node: testNode})
	client := fake.NewSimpleClientset(web, sl)
	p, err := New(Config{
		Client: client, NodeName: testNode, NodeIPs: []net.IP{net.ParseIP("10.42.0.1")},
		ClusterCIDR: testClusterCIDR, ServiceCIDR: testServiceCIDR, MinSyncPeriod: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	table := waitTable(t, "10.42.0.5 . 8080")
	for _, want := range []string{
		"type nat hook prerouting priority dstnat",
		"10.43.0.20 . tcp . 80 : goto service-",
		"tcp . 30080 : goto external-",
		"ip daddr @cluster-ips ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
		"masquerade fully-random",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "ns/gone") || strings.Contains(table, "priority filter") {
		t.Errorf("leftover table not replaced:\n%s", table)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("ip_forward = %q", b)
	}

	// From the node to the ClusterIP (nat output, no masquerade).
	if got := dial(t, "", "10.43.0.20:80"); !strings.HasPrefix(got, "hello from 10.42.0.1:") {
		t.Errorf("node → ClusterIP: %q", got)
	}
	// From the pod to its own Service (hairpin: masqueraded to the node).
	if got := dial(t, podNS, "10.43.0.20:80"); !strings.HasPrefix(got, "hello from 10.42.0.1:") {
		t.Errorf("pod → own ClusterIP: %q; want the node's address as source", got)
	}
	// From the pod to the NodePort on the node's address.
	if got := dial(t, podNS, "10.42.0.1:30080"); !strings.HasPrefix(got, "hello from 10.42.0.1:") {
		t.Errorf("pod → NodePort: %q", got)
	}

	// UDP: a flow DNATed to an endpoint that goes away is deleted from
	// conntrack, so the client's next datagram picks a live endpoint.
	testStaleUDP(ctx, t, client, podNS)

	// Scale to zero: refused at once (reject), not a timeout.
	empty := sl.DeepCopy()
	empty.Endpoints = nil
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, empty, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, "10.43.0.20 . tcp . 80 : goto reject-chain")
	for _, src := range []string{"", podNS} {
		start := time.Now()
		err := dialErr(src, "10.43.0.20:80")
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > time.Second {
			t.Errorf("scaled to zero, from %q: err %v after %v; want connection refused at once", src, err, time.Since(start))
		}
	}
	// A port the Service does not have is refused; an unallocated
	// address in the service CIDR is dropped (a timeout).
	if err := dialErr(podNS, "10.43.0.20:81"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("wrong port of a ClusterIP: %v; want connection refused", err)
	}
	if err := dialErrTimeout(podNS, "10.43.9.9:80", 300*time.Millisecond); err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("unallocated service address: %v; want a timeout", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if out, err := exec.Command("nft", "list", "table", "ip", tableName).CombinedOutput(); err == nil {
		t.Errorf("table still there after Run returned:\n%s", out)
	}
	// Cleanup on a missing table is fine.
	if err := Cleanup(context.Background()); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	testRealPartialSyncs(t)
}

// testRealPartialSyncs runs partial syncs that delete elements, flush and
// delete chains and replace affinity sets against the kernel, which checks
// references and ordering more strictly than the fake.
func testRealPartialSyncs(t *testing.T) {
	nft, err := knftables.New(knftables.IPv4Family, tableName, knftables.UseNetlink)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.NodeIPs = []net.IP{net.ParseIP("10.42.0.1")}
	tp := newTestProxierWith(t, cfg, nft)
	tp.writer = newNLWriter() // as New does
	clk := cfg.Clock.(*clocktesting.FakeClock)
	local := ep{ip: "10.42.0.5", node: testNode}
	remote := ep{ip: "10.42.1.7", node: "node-b"}
	steps := []struct {
		name   string
		set    []any
		remove []any
		want   string // in `nft list table` afterwards
		absent string // not in it
	}{
		{"initial", []any{svc("ns", "aff", "10.43.0.30", affinity(60), nodePort(30090)), httpSlice("ns", "aff", local, remote),
			svc("ns", "lb", "10.43.0.31", loadBalancer(30091, "10.42.0.1"), etpLocal(0)), httpSlice("ns", "lb", local, remote)}, nil,
			"timeout 1m", ""},
		{"affinity endpoint removed", []any{httpSlice("ns", "aff", remote)}, nil, "dnat to 10.42.1.7:8080", "ns/aff/tcp/http__10.42.0.5/8080"},
		{"affinity timeout changed", []any{svc("ns", "aff", "10.43.0.30", affinity(90), nodePort(30090))}, nil, "timeout 1m30s", ""},
		{"local endpoint gone under eTP Local", []any{httpSlice("ns", "lb", remote)}, nil, "tcp . 30091 : drop", ""},
		{"affinity dropped", []any{svc("ns", "aff", "10.43.0.30", nodePort(30090))}, nil, "", "affinity-"},
		{"services deleted", nil, []any{svc("ns", "aff", "10.43.0.30"), svc("ns", "lb", "10.43.0.31")}, "", "ns/aff"},
	}
	for i, st := range steps {
		tp.set(st.set...)
		tp.remove(st.remove...)
		full, err := tp.sync(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if full != (i == 0) {
			t.Errorf("%s: full = %v", st.name, full)
		}
		clk.Step(2 * staleChainDelay)
		if _, err := tp.sync(context.Background()); err != nil { // deletes stale chains
			t.Fatalf("%s: deleting stale chains: %v", st.name, err)
		}
		out, _ := exec.Command("nft", "list", "table", "ip", tableName).CombinedOutput()
		if st.want != "" && !strings.Contains(string(out), st.want) {
			t.Errorf("%s: table lacks %q:\n%s", st.name, st.want, out)
		}
		if st.absent != "" && strings.Contains(string(out), st.absent) {
			t.Errorf("%s: table still has %q:\n%s", st.name, st.absent, out)
		}
	}
	if err := deleteTable(context.Background(), nft); err != nil {
		t.Fatal(err)
	}
}

func testStaleUDP(ctx context.Context, t *testing.T, client *fake.Clientset, podNS string) {
	t.Helper()
	dns := svc("ns", "dns", "10.43.0.53", udp)
	sl := slice("ns", "dns", "dns-a", "dns", corev1.ProtocolUDP, 5353, ep{ip: "10.42.0.5", node: testNode})
	if _, err := client.CoreV1().Services("ns").Create(ctx, dns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, "10.42.0.5 . 5353")
	// A datagram from the node creates the flow (nobody needs to answer).
	c, err := net.Dial("udp4", "10.43.0.53:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	flowTo := func(ip string) bool {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flows {
			if f.Forward.Protocol == unix.IPPROTO_UDP && f.Forward.DstIP.String() == "10.43.0.53" && f.Reverse.SrcIP.String() == ip {
				return true
			}
		}
		return false
	}
	if !flowTo("10.42.0.5") {
		t.Fatal("no conntrack flow 10.43.0.53:53 → 10.42.0.5")
	}
	moved := sl.DeepCopy()
	moved.Endpoints[0].Addresses = []string{"10.42.0.6"}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, "10.42.0.6 . 5353")
	deadline := time.Now().Add(5 * time.Second)
	for flowTo("10.42.0.5") {
		if time.Now().After(deadline) {
			t.Fatal("stale UDP flow to the old endpoint still in conntrack")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitTable(t *testing.T, text string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var out []byte
	for time.Now().Before(deadline) {
		out, _ = exec.Command("nft", "list", "table", "ip", tableName).CombinedOutput()
		if strings.Contains(string(out), text) {
			return string(out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("table never contained %q:\n%s", text, out)
	return ""
}

func dialErr(ns, addr string) error { return dialErrTimeout(ns, addr, 3*time.Second) }

func dialErrTimeout(ns, addr string, timeout time.Duration) error {
	var c net.Conn
	var err error
	do := func() error {
		c, err = net.DialTimeout("tcp4", addr, timeout)
		return nil
	}
	if ns == "" {
		_ = do()
	} else if e := inNetns(ns, do); e != nil {
		return e
	}
	if err == nil {
		c.Close()
	}
	return err
}

func dial(t *testing.T, ns, addr string) string {
	t.Helper()
	var c net.Conn
	do := func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	}
	var err error
	if ns == "" {
		err = do()
	} else {
		err = inNetns(ns, do)
	}
	if err != nil {
		t.Errorf("dial %s from %q: %v", addr, ns, err)
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

var (
	_ = corev1.ProtocolTCP
	_ = discoveryv1.AddressTypeIPv4
	_ = ptr.To[int]
)
