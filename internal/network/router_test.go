package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/knftables"
)

// fakeKernel models the kernel state the router touches and records every
// call, in order.
type fakeKernel struct {
	// mu guards everything below: Run's worker calls in while a test
	// polls.
	mu        sync.Mutex
	ops       []string
	routes    map[netip.Prefix]route
	neighbors map[netip.Addr]neighbor
	fdb       map[string]fdbEntry
	links     map[string]vxlanLink
	addrs     map[string]netip.Prefix
	forward   bool
	// unreachable IPs fail the host-gw check; failOn makes calls whose
	// op starts with it fail.
	unreachable map[netip.Addr]bool
	failOn      string
}

var _ kernel = (*fakeKernel)(nil)

func newFakeKernel() *fakeKernel {
	return &fakeKernel{
		routes: map[netip.Prefix]route{}, neighbors: map[netip.Addr]neighbor{},
		fdb: map[string]fdbEntry{}, links: map[string]vxlanLink{}, addrs: map[string]netip.Prefix{},
		unreachable: map[netip.Addr]bool{},
	}
}

func (k *fakeKernel) record(format string, args ...any) error {
	op := fmt.Sprintf(format, args...)
	k.ops = append(k.ops, op)
	if k.failOn != "" && strings.HasPrefix(op, k.failOn) {
		return errors.New("injected failure: " + op)
	}
	return nil
}

func (k *fakeKernel) Underlay(ip netip.Addr) (int, int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return 7, 1500, nil
}
func (k *fakeKernel) EnableForwarding() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forward = true
	return k.record("forward")
}
func (k *fakeKernel) EnsureVXLAN(l vxlanLink) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("link %s vni %d port %d local %s mtu %d", l.Name, l.VNI, l.Port, l.Local, l.MTU); err != nil {
		return err
	}
	k.links[l.Name] = l
	return nil
}
func (k *fakeKernel) SetAddress(dev string, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("addr %s %s", dev, p); err != nil {
		return err
	}
	k.addrs[dev] = p
	return nil
}
func (k *fakeKernel) DeleteLink(dev string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("dellink %s", dev); err != nil {
		return err
	}
	delete(k.links, dev)
	delete(k.addrs, dev)
	for p, r := range k.routes {
		if r.Dev == dev {
			delete(k.routes, p)
		}
	}
	for a, n := range k.neighbors {
		if n.Dev == dev {
			delete(k.neighbors, a)
		}
	}
	for m, f := range k.fdb {
		if f.Dev == dev {
			delete(k.fdb, m)
		}
	}
	return nil
}
func (k *fakeKernel) Reachable(ip netip.Addr) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.unreachable[ip], nil
}
func (k *fakeKernel) ReplaceRoute(r route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("route %s via %s dev %q onlink %v", r.Dst, r.Gw, r.Dev, r.Onlink); err != nil {
		return err
	}
	k.routes[r.Dst] = r
	return nil
}
func (k *fakeKernel) DeleteRoute(r route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("delroute %s", r.Dst); err != nil {
		return err
	}
	delete(k.routes, r.Dst)
	return nil
}
func (k *fakeKernel) DeleteOwnRoutes(within netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("sweep %s", within); err != nil {
		return err
	}
	for p := range k.routes {
		if within.Contains(p.Addr()) {
			delete(k.routes, p)
		}
	}
	return nil
}
func (k *fakeKernel) SetNeighbor(n neighbor) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("neigh %s %s", n.IP, n.MAC); err != nil {
		return err
	}
	k.neighbors[n.IP] = n
	return nil
}
func (k *fakeKernel) DeleteNeighbor(n neighbor) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("delneigh %s", n.IP); err != nil {
		return err
	}
	delete(k.neighbors, n.IP)
	return nil
}
func (k *fakeKernel) SetFDB(f fdbEntry) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("fdb %s %s", f.MAC, f.Dst); err != nil {
		return err
	}
	k.fdb[f.MAC] = f
	return nil
}
func (k *fakeKernel) DeleteFDB(f fdbEntry) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.record("delfdb %s", f.MAC); err != nil {
		return err
	}
	delete(k.fdb, f.MAC)
	return nil
}

// routeTable renders the fake's routes, sorted.
func (k *fakeKernel) routeTable() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.routes {
		s := fmt.Sprintf("%s via %s", r.Dst, r.Gw)
		if r.Dev != "" {
			s += " dev " + r.Dev
		}
		if r.Onlink {
			s += " onlink"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func (k *fakeKernel) neighborTable() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, n := range k.neighbors {
		out = append(out, n.IP.String()+" "+n.MAC)
	}
	for _, f := range k.fdb {
		out = append(out, "fdb "+f.MAC+" dst "+f.Dst.String())
	}
	slices.Sort(out)
	return out
}

const (
	macB = "0a:00:00:00:00:0b"
	macC = "0a:00:00:00:00:0c"
)

type nodeOpt func(*corev1.Node)

func withVXLAN(mac string) nodeOpt {
	return func(n *corev1.Node) {
		n.Annotations[AnnotationBackendType] = BackendVXLAN
		n.Annotations[AnnotationBackendData] = fmt.Sprintf(`{"VNI":1,"VtepMAC":%q}`, mac)
	}
}

func withAnnotation(k, v string) nodeOpt {
	return func(n *corev1.Node) { n.Annotations[k] = v }
}

func withInternalIP(ip string) nodeOpt {
	return func(n *corev1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
}

// node builds a Node; publicIP "" leaves the annotation out.
func node(name, podCIDR, publicIP string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
	n.Spec.PodCIDR = podCIDR
	if publicIP != "" {
		n.Annotations[AnnotationPublicIP] = publicIP
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func testRouter(t *testing.T, backend string, objs ...*corev1.Node) (*Router, *fakeKernel, *fake.Clientset, *knftables.Fake) {
	t.Helper()
	var rt []runtime.Object
	for _, o := range objs {
		rt = append(rt, o)
	}
	client := fake.NewClientset(rt...)
	k := newFakeKernel()
	nft := knftables.NewFake(knftables.IPv4Family, MasqTable)
	r, err := newRouter(RouterConfig{
		Client: client, NodeName: "a", NodeIP: net.ParseIP("172.30.99.1"), Backend: backend,
		ClusterCIDR: "10.42.0.0/16", Logger: testLogger(t),
	}, k, func() (knftables.Interface, error) { return nft, nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := r.nodes.GetIndexer().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return r, k, client, nft
}

func syncAll(t *testing.T, r *Router, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := r.sync(context.Background(), n); err != nil {
			t.Fatalf("sync %s: %v", n, err)
		}
	}
}

func TestParsePeer(t *testing.T) {
	cluster := netip.MustParsePrefix("10.42.0.0/16")
	for _, tc := range []struct {
		name    string
		node    *corev1.Node
		backend string
		want    peer
		wantErr string
	}{
		{name: "vxlan", backend: BackendVXLAN,
			node: node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN("0A:00:00:00:00:0B")),
			want: peer{name: "b", podCIDR: netip.MustParsePrefix("10.42.2.0/24"), ip: netip.MustParseAddr("172.30.99.2"), vtepMAC: macB}},
		{name: "host-gw falls back to InternalIP", backend: BackendHostGW,
			node: node("b", "10.42.2.7/24", "", withInternalIP("fd00::1"), withInternalIP("172.30.99.2")),
			want: peer{name: "b", podCIDR: netip.MustParsePrefix("10.42.2.0/24"), ip: netip.MustParseAddr("172.30.99.2")}},
		{name: "podCIDRs preferred, first IPv4", backend: BackendHostGW,
			node: func() *corev1.Node {
				n := node("b", "10.42.9.0/24", "172.30.99.2")
				n.Spec.PodCIDRs = []string{"fd42::/64", "10.42.2.0/24"}
				return n
			}(),
			want: peer{name: "b", podCIDR: netip.MustParsePrefix("10.42.2.0/24"), ip: netip.MustParseAddr("172.30.99.2")}},
		{name: "no pod CIDR", backend: BackendVXLAN, node: node("b", "", "172.30.99.2", withVXLAN(macB)), wantErr: "no pod CIDR"},
		{name: "bad pod CIDR", backend: BackendVXLAN, node: node("b", "10.42.2/24", "172.30.99.2", withVXLAN(macB)), wantErr: "pod CIDR"},
		{name: "outside cluster", backend: BackendHostGW, node: node("b", "10.99.2.0/24", "172.30.99.2"), wantErr: "outside the cluster CIDR"},
		{name: "wider than cluster", backend: BackendHostGW, node: node("b", "10.0.0.0/8", "172.30.99.2"), wantErr: "outside the cluster CIDR"},
		{name: "no address", backend: BackendHostGW, node: node("b", "10.42.2.0/24", ""), wantErr: "no IPv4 InternalIP"},
		{name: "bad public-ip", backend: BackendHostGW, node: node("b", "10.42.2.0/24", "nope"), wantErr: "not a usable IPv4"},
		{name: "loopback public-ip", backend: BackendHostGW, node: node("b", "10.42.2.0/24", "127.0.0.1"), wantErr: "not a usable IPv4"},
		{name: "other backend", backend: BackendHostGW, node: node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN(macB)), wantErr: `backend "vxlan"`},
		{name: "vxlan without data", backend: BackendVXLAN, node: node("b", "10.42.2.0/24", "172.30.99.2"), wantErr: "no flannel.alpha.coreos.com/backend-data"},
		{name: "vxlan bad json", backend: BackendVXLAN,
			node: node("b", "10.42.2.0/24", "172.30.99.2", withAnnotation(AnnotationBackendData, "{")), wantErr: "backend-data"},
		{name: "vxlan bad mac", backend: BackendVXLAN, node: node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN("zz")), wantErr: "VtepMAC"},
		{name: "vxlan multicast mac", backend: BackendVXLAN, node: node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN("01:00:5e:00:00:01")), wantErr: "VtepMAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePeer(tc.node, tc.backend, cluster)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrBadPeer) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want ErrBadPeer containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parsePeer = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestOwnAnnotations(t *testing.T) {
	mac := vtepMAC("a")
	if mac[0]&1 != 0 || mac[0]&2 == 0 {
		t.Errorf("vtep MAC %s: want unicast, locally administered", mac)
	}
	if vtepMAC("a").String() != mac.String() || vtepMAC("b").String() == mac.String() {
		t.Errorf("vtep MAC not stable per node name")
	}
	got, err := ownAnnotations(BackendVXLAN, netip.MustParseAddr("172.30.99.1"), 1, mac)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		AnnotationBackendType:       "vxlan",
		AnnotationBackendData:       fmt.Sprintf(`{"VNI":1,"VtepMAC":"%s"}`, mac),
		AnnotationPublicIP:          "172.30.99.1",
		AnnotationKubeSubnetManager: "true",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("annotations = %v; want %v", got, want)
	}
	// What we publish, a peer parses back.
	n := node("a", "10.42.1.0/24", "")
	n.Annotations = got
	p, err := parsePeer(n, BackendVXLAN, netip.MustParsePrefix("10.42.0.0/16"))
	if err != nil || p.vtepMAC != mac.String() || p.ip.String() != "172.30.99.1" {
		t.Errorf("round trip = %+v, %v", p, err)
	}
	hg, _ := ownAnnotations(BackendHostGW, netip.MustParseAddr("172.30.99.1"), 1, nil)
	if hg[AnnotationBackendData] != "null" || hg[AnnotationBackendType] != "host-gw" {
		t.Errorf("host-gw annotations = %v", hg)
	}
}

func TestSyncVXLAN(t *testing.T) {
	self := node("a", "10.42.1.0/24", "", withInternalIP("172.30.99.1"))
	b := node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN(macB))
	c := node("c", "10.42.3.0/24", "172.30.99.3", withVXLAN(macC))
	noCIDR := node("d", "", "172.30.99.4", withVXLAN("0a:00:00:00:00:0d"))
	r, k, _, _ := testRouter(t, BackendVXLAN, self, b, c, noCIDR)
	syncAll(t, r, "a", "b", "c", "d")

	if got := k.addrs[DefaultDevice]; got.String() != "10.42.1.0/32" {
		t.Errorf("device address = %v; want 10.42.1.0/32", got)
	}
	wantRoutes := []string{
		"10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink",
		"10.42.3.0/24 via 10.42.3.0 dev flannel.1 onlink",
	}
	if got := k.routeTable(); !slices.Equal(got, wantRoutes) {
		t.Errorf("routes = %q; want %q", got, wantRoutes)
	}
	wantNeigh := []string{
		"10.42.2.0 " + macB, "10.42.3.0 " + macC,
		"fdb " + macB + " dst 172.30.99.2", "fdb " + macC + " dst 172.30.99.3",
	}
	if got := k.neighborTable(); !slices.Equal(got, wantNeigh) {
		t.Errorf("neighbors = %q; want %q", got, wantNeigh)
	}
	// Neighbor and FDB entries precede the route that needs them.
	iNeigh := slices.Index(k.ops, "neigh 10.42.2.0 "+macB)
	iRoute := slices.Index(k.ops, `route 10.42.2.0/24 via 10.42.2.0 dev "flannel.1" onlink true`)
	if iNeigh < 0 || iRoute < iNeigh {
		t.Errorf("ops = %q; want neighbor before route", k.ops)
	}

	// b moves to another host and gets a new vtep: entries follow.
	b2 := b.DeepCopy()
	b2.Annotations[AnnotationPublicIP] = "172.30.99.22"
	withVXLAN("0a:00:00:00:00:22")(b2)
	if err := r.nodes.GetIndexer().Update(b2); err != nil {
		t.Fatal(err)
	}
	syncAll(t, r, "b")
	wantNeigh = []string{
		"10.42.2.0 0a:00:00:00:00:22", "10.42.3.0 " + macC,
		"fdb " + macC + " dst 172.30.99.3", "fdb 0a:00:00:00:00:22 dst 172.30.99.22",
	}
	if got := k.neighborTable(); !slices.Equal(got, wantNeigh) {
		t.Errorf("after update: neighbors = %q; want %q", got, wantNeigh)
	}

	// c is deleted: its route, ARP and FDB entries go.
	if err := r.nodes.GetIndexer().Delete(c); err != nil {
		t.Fatal(err)
	}
	syncAll(t, r, "c")
	if got := k.routeTable(); !slices.Equal(got, wantRoutes[:1]) {
		t.Errorf("after delete: routes = %q; want %q", got, wantRoutes[:1])
	}
	if got := k.neighborTable(); len(got) != 2 {
		t.Errorf("after delete: neighbors = %q; want b's two", got)
	}
	if _, ok := r.programmed["c"]; ok {
		t.Errorf("c still recorded as programmed")
	}
}

func TestSyncHostGW(t *testing.T) {
	self := node("a", "10.42.1.0/24", "172.30.99.1")
	b := node("b", "10.42.2.0/24", "172.30.99.2")
	far := node("far", "10.42.5.0/24", "192.0.2.5")
	overlap := node("twin", "10.42.1.0/24", "172.30.99.9")
	pending := node("new", "", "172.30.99.7")
	r, k, _, _ := testRouter(t, BackendHostGW, self, b, far, overlap, pending)
	events := record.NewFakeRecorder(10)
	r.recorder = events
	k.unreachable[netip.MustParseAddr("192.0.2.5")] = true
	syncAll(t, r, "a", "b", "far", "twin", "new", "far", "twin", "new")
	var got []string
	for len(events.Events) > 0 {
		got = append(got, <-events.Events)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "Warning RouteRefused") || !strings.Contains(got[0], "directly connected") ||
		!strings.Contains(got[1], "overlaps") {
		t.Errorf("events = %q; want one RouteRefused each for far and twin, none for the pending node", got)
	}
	want := []string{"10.42.2.0/24 via 172.30.99.2"}
	if got := k.routeTable(); !slices.Equal(got, want) {
		t.Errorf("routes = %q; want %q", got, want)
	}
	if len(k.neighbors)+len(k.fdb)+len(k.links)+len(k.addrs) != 0 {
		t.Errorf("host-gw touched vxlan state: %q", k.ops)
	}

	// b's pod CIDR goes away: its route goes with it.
	b2 := b.DeepCopy()
	b2.Spec.PodCIDR = ""
	if err := r.nodes.GetIndexer().Update(b2); err != nil {
		t.Fatal(err)
	}
	syncAll(t, r, "b")
	if got := k.routeTable(); len(got) != 0 {
		t.Errorf("routes = %q; want none", got)
	}
}

func TestSyncRetriesKernelFailure(t *testing.T) {
	b := node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN(macB))
	r, k, _, _ := testRouter(t, BackendVXLAN, b)
	k.failOn = "fdb"
	if err := r.sync(context.Background(), "b"); err == nil {
		t.Fatal("sync: no error; want the FDB failure, to retry")
	}
	if len(k.routes) != 0 {
		t.Errorf("route added although its FDB entry failed: %q", k.routeTable())
	}
	// The node goes before the retry: what was half-added is removed.
	if err := r.nodes.GetIndexer().Delete(b); err != nil {
		t.Fatal(err)
	}
	k.failOn = ""
	syncAll(t, r, "b")
	if len(k.neighbors)+len(k.fdb)+len(k.routes) != 0 || len(r.programmed) != 0 {
		t.Errorf("left behind: %q, programmed %v", k.neighborTable(), r.programmed)
	}
}

func TestSyncSelfPublishesAnnotations(t *testing.T) {
	self := node("a", "", "", withInternalIP("172.30.99.1"))
	r, k, client, _ := testRouter(t, BackendVXLAN, self)
	syncAll(t, r, "a")
	got, err := client.CoreV1().Nodes().Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range r.annots {
		if got.Annotations[key] != v {
			t.Errorf("annotation %s = %q; want %q", key, got.Annotations[key], v)
		}
	}
	select {
	case <-r.Ready():
		t.Fatal("ready before the node has a pod CIDR")
	default:
	}
	if len(k.addrs) != 0 {
		t.Errorf("device addressed without a pod CIDR: %v", k.addrs)
	}

	// With the annotations in the cache and a pod CIDR, no second patch.
	got.Spec.PodCIDR = "10.42.1.0/24"
	if err := r.nodes.GetIndexer().Update(got); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	syncAll(t, r, "a")
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("patched again: %v", a)
		}
	}
	select {
	case <-r.Ready():
	default:
		t.Fatal("not ready after the pod CIDR came")
	}
}

func TestNewRouterConfig(t *testing.T) {
	client := fake.NewClientset()
	ok := RouterConfig{Client: client, NodeName: "a", NodeIP: net.ParseIP("172.30.99.1"), ClusterCIDR: "10.42.0.0/16"}
	nft := func() (knftables.Interface, error) { return knftables.NewFake(knftables.IPv4Family, MasqTable), nil }
	r, err := newRouter(ok, newFakeKernel(), nft)
	if err != nil {
		t.Fatal(err)
	}
	if r.backend != BackendVXLAN || r.vni != 1 || r.port != 8472 || r.dev != "flannel.1" || r.MTU() != 1450 {
		t.Errorf("defaults: backend %s vni %d port %d dev %s mtu %d", r.backend, r.vni, r.port, r.dev, r.MTU())
	}
	hg := ok
	hg.Backend = BackendHostGW
	if r, err := newRouter(hg, newFakeKernel(), nft); err != nil || r.MTU() != 1500 {
		t.Errorf("host-gw: mtu %v, %v; want 1500", r, err)
	}
	for name, mut := range map[string]func(*RouterConfig){
		"backend":  func(c *RouterConfig) { c.Backend = "udp" },
		"no node":  func(c *RouterConfig) { c.NodeName = "" },
		"no ip":    func(c *RouterConfig) { c.NodeIP = nil },
		"ipv6":     func(c *RouterConfig) { c.NodeIP = net.ParseIP("fd00::1") },
		"cidr":     func(c *RouterConfig) { c.ClusterCIDR = "10.42.0.0" },
		"vni":      func(c *RouterConfig) { c.VNI = 1 << 24 },
		"device":   func(c *RouterConfig) { c.Device = "a-very-long-device" },
		"noclient": func(c *RouterConfig) { c.Client = nil },
	} {
		c := ok
		mut(&c)
		if _, err := newRouter(c, newFakeKernel(), nft); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: err = %v; want ErrBadConfig", name, err)
		}
	}
	none := RouterConfig{Backend: BackendNone}
	if _, err := newRouter(none, newFakeKernel(), nft); err != nil {
		t.Errorf("none needs nothing else: %v", err)
	}
}

// TestRunLifecycle runs the whole router on fakes: set-up, a peer arriving
// through the informer, and clean-up when ctx ends.
func TestRunLifecycle(t *testing.T) {
	self := node("a", "10.42.1.0/24", "", withInternalIP("172.30.99.1"))
	r, k, client, nft := testRouter(t, BackendVXLAN, self)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	dump := nft.Dump()
	for _, want := range []string{
		"add rule ip skiff-net postrouting ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random",
		"add rule ip skiff-net forward ip saddr 10.42.0.0/16 accept",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("nftables lacks %q:\n%s", want, dump)
		}
	}
	_, err := client.CoreV1().Nodes().Create(ctx, node("b", "10.42.2.0/24", "172.30.99.2", withVXLAN(macB)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(k.routeTable(), "10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink") {
		if time.Now().After(deadline) {
			t.Fatalf("b never routed; routes %q", k.routeTable())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(k.links) != 0 || len(k.routes) != 0 || len(k.neighbors) != 0 {
		t.Errorf("left behind: links %v routes %q neighbors %q", k.links, k.routeTable(), k.neighborTable())
	}
	if tables, _ := nft.List(context.Background(), "table"); len(tables) != 0 {
		t.Errorf("nftables table left: %v", tables)
	}
	if !k.forward {
		t.Error("forwarding not enabled")
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run = %v; want ErrRunTwice", err)
	}
}

// testLogger sends the router's logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
