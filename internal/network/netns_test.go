//go:build linux

package network

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"
)

// These tests build a small cluster out of network namespaces: a hub
// namespace with bridge br0 is the network between nodes (172.30.99.0/24);
// each node namespace has eth0 on it, a Router, and bridge cni0 (made by
// EnsureBridge) with one pod namespace behind it. Nothing leaves these
// namespaces; all are deleted at the end.

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
}

// inNS runs fn on a thread inside ns. The thread is thrown away if it
// cannot be moved back.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// nsNFT runs knftables (which execs nft) inside a namespace.
type nsNFT struct {
	ns    netns.NsHandle
	inner knftables.Interface
}

var _ knftables.Interface = (*nsNFT)(nil)

func newNSNFT(ns netns.NsHandle) (knftables.Interface, error) {
	n := &nsNFT{ns: ns}
	err := inNS(ns, func() (err error) {
		n.inner, err = newNFT()
		return err
	})
	return n, err
}

func (n *nsNFT) NewTransaction() *knftables.Transaction { return n.inner.NewTransaction() }
func (n *nsNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	return inNS(n.ns, func() error { return n.inner.Run(ctx, tx) })
}
func (n *nsNFT) Check(ctx context.Context, tx *knftables.Transaction) error {
	return inNS(n.ns, func() error { return n.inner.Check(ctx, tx) })
}
func (n *nsNFT) ListAll(ctx context.Context) (m map[string][]string, err error) {
	err = inNS(n.ns, func() error { m, err = n.inner.ListAll(ctx); return err })
	return m, err
}
func (n *nsNFT) List(ctx context.Context, objectType string) (l []string, err error) {
	err = inNS(n.ns, func() error { l, err = n.inner.List(ctx, objectType); return err })
	return l, err
}
func (n *nsNFT) ListRules(ctx context.Context, chain string) (l []*knftables.Rule, err error) {
	err = inNS(n.ns, func() error { l, err = n.inner.ListRules(ctx, chain); return err })
	return l, err
}
func (n *nsNFT) ListElements(ctx context.Context, objectType, name string) (l []*knftables.Element, err error) {
	err = inNS(n.ns, func() error { l, err = n.inner.ListElements(ctx, objectType, name); return err })
	return l, err
}
func (n *nsNFT) ListCounters(ctx context.Context) (l []*knftables.Counter, err error) {
	err = inNS(n.ns, func() error { l, err = n.inner.ListCounters(ctx); return err })
	return l, err
}

// testNS is one named namespace and a netlink handle into it.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
}

func newTestNS(t testing.TB, name string) *testNS {
	t.Helper()
	var ns netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		_ = netns.DeleteNamed(name) // a leftover of a killed run
		ns, err = netns.NewNamed(name)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("netns %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	n := &testNS{name: name, ns: ns, h: h}
	lo, err := h.LinkByName("lo")
	must(t, err)
	must(t, h.LinkSetUp(lo))
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// vethTo creates dev in n and peer in other, both up.
func (n *testNS) vethTo(t testing.TB, dev string, other *testNS, peer string, mtu int) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = dev
	attrs.MTU = mtu
	must(t, n.h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer, PeerNamespace: netlink.NsFd(int(other.ns))}))
	for _, x := range []struct {
		ns   *testNS
		name string
	}{{n, dev}, {other, peer}} {
		l, err := x.ns.h.LinkByName(x.name)
		must(t, err)
		must(t, x.ns.h.LinkSetUp(l))
	}
}

func (n *testNS) addr(t testing.TB, dev, cidr string) {
	t.Helper()
	l, err := n.h.LinkByName(dev)
	must(t, err)
	a, err := netlink.ParseAddr(cidr)
	must(t, err)
	must(t, n.h.AddrAdd(l, a))
}

func (n *testNS) master(t testing.TB, dev, bridge string) {
	t.Helper()
	l, err := n.h.LinkByName(dev)
	must(t, err)
	br, err := n.h.LinkByName(bridge)
	must(t, err)
	must(t, n.h.LinkSetMaster(l, br))
}

// podRoutes lists n's routes inside the cluster CIDR, as "dst via gw dev".
func (n *testNS) podRoutes(t testing.TB) []string {
	t.Helper()
	rs, err := n.h.RouteList(nil, netlink.FAMILY_V4)
	must(t, err)
	cluster := netip.MustParsePrefix("10.42.0.0/16")
	var out []string
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		if a, _ := netip.AddrFromSlice(r.Dst.IP); !cluster.Contains(a) {
			continue
		}
		dev := ""
		if l, err := n.h.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		out = append(out, fmt.Sprintf("%s via %v dev %s", r.Dst, r.Gw, dev))
	}
	slices.Sort(out)
	return out
}

// echoServer accepts on addr inside ns and writes back the source address
// each connection came from.
func echoServer(t testing.TB, ns *testNS, addr string) string {
	t.Helper()
	var ln net.Listener
	must(t, inNS(ns.ns, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			src := c.RemoteAddr().(*net.TCPAddr).IP.String()
			_, _ = c.Write([]byte(src + "\n"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// seenSource connects from ns to addr and returns the source address the
// server saw.
func seenSource(ns *testNS, addr string) (string, error) {
	var c net.Conn
	if err := inNS(ns.ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 2*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// eventually retries f until it returns nil or 20s pass.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testCluster is n nodes, each with one pod at 10.42.i.5.
type testCluster struct {
	client  *fake.Clientset
	hub     *testNS
	nodes   []*testNS
	pods    []*testNS
	routers []*Router
	cancel  context.CancelFunc
	errs    chan error
}

func nodeName(i int) string { return fmt.Sprintf("node%d", i+1) }
func nodeAddr(i int) string { return fmt.Sprintf("172.30.99.%d", i+1) }
func podAddr(i int) string  { return fmt.Sprintf("10.42.%d.5", i+1) }

func newTestCluster(t testing.TB, backend string, n int) *testCluster {
	t.Helper()
	prefix := fmt.Sprintf("skn%d%s", os.Getpid(), strings.ReplaceAll(backend, "-", ""))
	c := &testCluster{client: fake.NewClientset(), errs: make(chan error, n)}
	c.hub = newTestNS(t, prefix+"-hub")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	must(t, c.hub.h.LinkAdd(br))
	must(t, c.hub.h.LinkSetUp(br))
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for i := range n {
		node := newTestNS(t, fmt.Sprintf("%s-n%d", prefix, i+1))
		node.vethTo(t, "eth0", c.hub, fmt.Sprintf("n%d", i+1), 1500)
		c.hub.master(t, fmt.Sprintf("n%d", i+1), "br0")
		node.addr(t, "eth0", nodeAddr(i)+"/24")
		c.nodes = append(c.nodes, node)

		_, err := c.client.CoreV1().Nodes().Create(ctx, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: nodeName(i)},
			Spec:       corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.42.%d.0/24", i+1)},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nodeAddr(i)}}},
		}, metav1.CreateOptions{})
		must(t, err)
		nsHandle := node.ns
		r, err := newRouter(RouterConfig{
			Client: c.client, NodeName: nodeName(i), NodeIP: net.ParseIP(nodeAddr(i)),
			Backend: backend, ClusterCIDR: "10.42.0.0/16", Logger: testLogger(t).With("self", nodeName(i)),
		}, &netlinkKernel{h: node.h, enter: func(fn func() error) error { return inNS(nsHandle, fn) }},
			func() (knftables.Interface, error) { return newNSNFT(nsHandle) })
		must(t, err)
		c.routers = append(c.routers, r)

		// The pod: its own namespace behind cni0, as the CNI bridge
		// plugin would set it up.
		must(t, inNS(node.ns, func() error {
			return EnsureBridge("cni0", netip.MustParsePrefix(fmt.Sprintf("10.42.%d.1/24", i+1)), r.MTU())
		}))
		pod := newTestNS(t, fmt.Sprintf("%s-p%d", prefix, i+1))
		pod.vethTo(t, "eth0", node, "veth0", r.MTU())
		node.master(t, "veth0", "cni0")
		pod.addr(t, "eth0", podAddr(i)+"/24")
		must(t, pod.h.RouteAdd(&netlink.Route{Gw: net.ParseIP(fmt.Sprintf("10.42.%d.1", i+1))}))
		c.pods = append(c.pods, pod)
	}
	for _, r := range c.routers {
		go func() { c.errs <- r.Run(ctx) }()
	}
	t.Cleanup(func() { c.stop(t) })
	for i, r := range c.routers {
		select {
		case <-r.Ready():
		case err := <-c.errs:
			t.Fatalf("router %d: Run: %v", i, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("router %d not ready", i)
		}
	}
	// The fake clientset's watch can miss what happens between an
	// informer's list and its watch (it has no resource versions): touch
	// every Node once all informers are running.
	for i := range n {
		_, err := c.client.CoreV1().Nodes().Patch(ctx, nodeName(i), "application/merge-patch+json",
			[]byte(`{"metadata":{"labels":{"touched":"yes"}}}`), metav1.PatchOptions{})
		must(t, err)
	}
	return c
}

// stop ends every router and waits for them; safe twice.
func (c *testCluster) stop(t testing.TB) {
	t.Helper()
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	for range c.routers {
		if err := <-c.errs; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestNetnsCluster(t *testing.T) {
	needRoot(t)
	for _, backend := range []string{BackendVXLAN, BackendHostGW} {
		t.Run(backend, func(t *testing.T) {
			c := newTestCluster(t, backend, 3)

			// Annotations as flannel's, on every Node.
			for i := range c.nodes {
				n, err := c.client.CoreV1().Nodes().Get(context.Background(), nodeName(i), metav1.GetOptions{})
				must(t, err)
				if n.Annotations[AnnotationBackendType] != backend || n.Annotations[AnnotationPublicIP] != nodeAddr(i) ||
					n.Annotations[AnnotationKubeSubnetManager] != "true" {
					t.Errorf("node %d annotations = %v", i, n.Annotations)
				}
			}
			if backend == BackendVXLAN {
				l, err := c.nodes[0].h.LinkByName(DefaultDevice)
				must(t, err)
				v := l.(*netlink.Vxlan)
				if v.VxlanId != 1 || v.Port != 8472 || v.Learning || v.MTU != 1450 || !v.SrcAddr.Equal(net.ParseIP(nodeAddr(0))) {
					t.Errorf("vxlan device: vni %d port %d learning %v mtu %d local %v", v.VxlanId, v.Port, v.Learning, v.MTU, v.SrcAddr)
				}
			}

			// Pod to pod across nodes keeps the pod's source address.
			srv2 := echoServer(t, c.pods[1], podAddr(1)+":0")
			srv3 := echoServer(t, c.pods[2], podAddr(2)+":0")
			for _, dst := range []string{srv2, srv3} {
				eventually(t, "pod1 → "+dst, func() error {
					src, err := seenSource(c.pods[0], dst)
					if err == nil && src != podAddr(0) {
						return fmt.Errorf("source seen %s; want the pod's %s (not masqueraded)", src, podAddr(0))
					}
					return err
				})
			}
			// Pod to outside the cluster CIDR (another node's address) is
			// masqueraded to the node's address.
			outside := echoServer(t, c.nodes[1], nodeAddr(1)+":0")
			src, err := seenSource(c.pods[0], outside)
			if err != nil || src != nodeAddr(0) {
				t.Errorf("pod1 → %s: source seen %q, %v; want %s (masqueraded)", outside, src, err, nodeAddr(0))
			}

			// Node 3 goes away: node 1's route to it goes too.
			must(t, c.client.CoreV1().Nodes().Delete(context.Background(), nodeName(2), metav1.DeleteOptions{}))
			eventually(t, "route to deleted node removed", func() error {
				for _, r := range c.nodes[0].podRoutes(t) {
					if strings.HasPrefix(r, "10.42.3.0/24") {
						return fmt.Errorf("routes %q", c.nodes[0].podRoutes(t))
					}
				}
				return nil
			})
			if got := c.nodes[0].podRoutes(t); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "10.42.2.0/24") }) {
				t.Errorf("route to node 2 gone too: %q", got)
			}

			// Run's end leaves no device, route or table behind.
			c.stop(t)
			for i, node := range c.nodes {
				if _, err := node.h.LinkByName(DefaultDevice); err == nil {
					t.Errorf("node %d: %s left", i, DefaultDevice)
				}
				want := []string{fmt.Sprintf("10.42.%d.0/24 via <nil> dev cni0", i+1)}
				if got := node.podRoutes(t); !slices.Equal(got, want) {
					t.Errorf("node %d routes = %q; want only %q", i, got, want)
				}
				nft, err := newNSNFT(node.ns)
				must(t, err)
				if chains, err := nft.List(context.Background(), "chains"); !knftables.IsNotFound(err) {
					t.Errorf("node %d: table %s still there (chains %v, %v)", i, MasqTable, chains, err)
				}
			}
		})
	}
}

func TestNetnsReachableAndBridge(t *testing.T) {
	needRoot(t)
	prefix := fmt.Sprintf("skn%dr", os.Getpid())
	a := newTestNS(t, prefix+"-a")
	b := newTestNS(t, prefix+"-b")
	a.vethTo(t, "eth0", b, "eth0", 1500)
	a.addr(t, "eth0", "172.30.99.1/24")
	k := &netlinkKernel{h: a.h}
	for addr, want := range map[string]bool{"172.30.99.2": true, "192.0.2.1": false} {
		got, err := k.Reachable(netip.MustParseAddr(addr))
		if err != nil || got != want {
			t.Errorf("Reachable(%s) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, mtu, err := k.Underlay(netip.MustParseAddr("172.30.99.1")); err != nil || mtu != 1500 {
		t.Errorf("Underlay = %d, %v; want 1500", mtu, err)
	}

	// EnsureBridge creates, then fixes a changed gateway and MTU.
	for _, step := range []struct {
		gw  string
		mtu int
	}{{"10.42.3.1/24", 1450}, {"10.42.3.1/24", 1450}, {"10.42.7.1/24", 1400}} {
		// The exported function, on the calling thread's namespace.
		must(t, inNS(a.ns, func() error { return EnsureBridge("cni0", netip.MustParsePrefix(step.gw), step.mtu) }))
		l, err := a.h.LinkByName("cni0")
		must(t, err)
		addrs, err := a.h.AddrList(l, netlink.FAMILY_V4)
		must(t, err)
		if len(addrs) != 1 || addrs[0].IPNet.String() != step.gw || l.Attrs().MTU != step.mtu || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("cni0 after EnsureBridge(%s, %d): addrs %v mtu %d flags %v", step.gw, step.mtu, addrs, l.Attrs().MTU, l.Attrs().Flags)
		}
	}
	if err := ensureBridge(a.h, "eth0", netip.MustParsePrefix("10.42.3.1/24"), 0); err == nil {
		t.Error("EnsureBridge on a veth: no error")
	}
	if err := ensureBridge(a.h, "cni1", netip.MustParsePrefix("10.42.3.0/24"), 0); err == nil {
		t.Error("EnsureBridge with the network address as gateway: no error")
	}
	for range 2 {
		must(t, inNS(a.ns, func() error { return RemoveBridge("cni0") }))
	}
	if _, err := a.h.LinkByName("cni0"); !errors.As(err, new(netlink.LinkNotFoundError)) {
		t.Errorf("cni0 after RemoveBridge: %v", err)
	}
}

// TestNetnsCNIBridgeReusesBridge runs Debian's bridge CNI plugin with the
// configuration Render writes, after EnsureBridge: the plugin must accept
// the bridge and gateway it finds and leave them as they are.
func TestNetnsCNIBridgeReusesBridge(t *testing.T) {
	needRoot(t)
	const pluginDir = "/usr/lib/cni"
	if _, err := os.Stat(pluginDir + "/bridge"); err != nil {
		t.Skip("needs the CNI bridge plugin in " + pluginDir)
	}
	prefix := fmt.Sprintf("skn%dc", os.Getpid())
	node := newTestNS(t, prefix+"-node")
	pod := newTestNS(t, prefix+"-pod")
	gw := netip.MustParsePrefix("10.42.1.1/24")
	must(t, inNS(node.ns, func() error { return EnsureBridge("cni0", gw, 1450) }))

	conf, err := CNIConfig{PodCIDR: "10.42.1.0/24", Bridge: "cni0", IPAMDir: t.TempDir(), MTU: 1450, NoMasquerade: true}.Render()
	must(t, err)
	var list struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	must(t, json.Unmarshal(conf, &list))
	bridge := list.Plugins[0]
	bridge["cniVersion"], bridge["name"] = list.CNIVersion, list.Name
	stdin, err := json.Marshal(bridge)
	must(t, err)
	plugin := func(command string) ([]byte, error) {
		var out []byte
		err := inNS(node.ns, func() (err error) {
			cmd := exec.Command(pluginDir + "/bridge")
			cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=skiff-test", "CNI_NETNS=/run/netns/" + pod.name,
				"CNI_IFNAME=eth0", "CNI_PATH=" + pluginDir}
			cmd.Stdin = bytes.NewReader(stdin)
			out, err = cmd.Output()
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s %s", err, out, ee.Stderr)
			}
			return err
		})
		return out, err
	}
	out, err := plugin("ADD")
	if err != nil {
		t.Fatalf("bridge plugin ADD: %v", err)
	}
	t.Cleanup(func() {
		if _, err := plugin("DEL"); err != nil {
			t.Errorf("bridge plugin DEL: %v", err)
		}
	})
	t.Logf("ADD result: %s", out)

	br, err := node.h.LinkByName("cni0")
	must(t, err)
	addrs, err := node.h.AddrList(br, netlink.FAMILY_V4)
	must(t, err)
	if len(addrs) != 1 || addrs[0].IPNet.String() != gw.String() || br.Attrs().MTU != 1450 {
		t.Errorf("cni0 after the plugin: addrs %v mtu %d; want only %s, mtu 1450", addrs, br.Attrs().MTU, gw)
	}
	eth0, err := pod.h.LinkByName("eth0")
	must(t, err)
	paddrs, err := pod.h.AddrList(eth0, netlink.FAMILY_V4)
	must(t, err)
	if len(paddrs) != 1 || eth0.Attrs().MTU != 1450 {
		t.Fatalf("pod eth0: addrs %v mtu %d; want one address, mtu 1450", paddrs, eth0.Attrs().MTU)
	}
	// The pod reaches the node's gateway address.
	srv := echoServer(t, node, "10.42.1.1:0")
	src, err := seenSource(pod, srv)
	if err != nil || src != paddrs[0].IP.String() {
		t.Errorf("pod → gateway: source %q, %v; want %s", src, err, paddrs[0].IP)
	}
}
