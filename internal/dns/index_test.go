package dns

import (
	"context"
	"net"
	"net/netip"
	"testing"

	miekg "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// answers resolves qname/qtype and returns rcode and answer strings.
func answers(r *resolver, qname string, qtype uint16) (string, []string) {
	m := r.Resolve(context.Background(), query(qname, qtype), false)
	return miekg.RcodeToString[m.Rcode], rrStrings(m.Answer)
}

func TestIndexIncremental(t *testing.T) {
	r, _ := newTestResolver(t, nil, "10.42.0.0/16")
	ix := r.ix
	https := []discoveryv1.EndpointPort{slicePort("https", corev1.ProtocolTCP, 443)}

	// An EndpointSlice seen before its Service waits for it.
	ix.setSlice(slice("ns", "db", "db-1", discoveryv1.AddressTypeIPv4, https, ep{addr: "10.42.0.5", hostname: "db-0"}))
	if rc, _ := answers(r, "db-0.db.ns.svc.cluster.local.", miekg.TypeA); rc != "NXDOMAIN" {
		t.Errorf("before the Service: %s; want NXDOMAIN", rc)
	}
	ix.setService(service("ns", "db", corev1.ClusterIPNone, port("https", corev1.ProtocolTCP, 443)))
	if rc, got := answers(r, "db-0.db.ns.svc.cluster.local.", miekg.TypeA); rc != "NOERROR" || len(got) != 1 {
		t.Errorf("after the Service: %s %q; want the endpoint", rc, got)
	}
	if _, got := answers(r, "5.0.42.10.in-addr.arpa.", miekg.TypePTR); len(got) != 1 {
		t.Errorf("PTR %q; want one", got)
	}

	// A second slice adds; the first's update replaces.
	ix.setSlice(slice("ns", "db", "db-2", discoveryv1.AddressTypeIPv4, https, ep{addr: "10.42.0.6", hostname: "db-1"}))
	ix.setSlice(slice("ns", "db", "db-1", discoveryv1.AddressTypeIPv4, https, ep{addr: "10.42.0.7", hostname: "db-0"}))
	if _, got := answers(r, "db.ns.svc.cluster.local.", miekg.TypeA); len(got) != 2 {
		t.Errorf("A %q; want 10.42.0.6 and 10.42.0.7", got)
	}
	if rc, _ := answers(r, "5.0.42.10.in-addr.arpa.", miekg.TypePTR); rc != "NXDOMAIN" {
		t.Errorf("the replaced address's PTR: %s; want NXDOMAIN", rc)
	}

	// A relabelled slice moves to its new Service.
	moved := slice("ns", "other", "db-2", discoveryv1.AddressTypeIPv4, https, ep{addr: "10.42.0.6", hostname: "db-1"})
	ix.setSlice(moved)
	if _, got := answers(r, "db.ns.svc.cluster.local.", miekg.TypeA); len(got) != 1 {
		t.Errorf("after relabel A %q; want only 10.42.0.7", got)
	}

	// Deleting the slice, then the Service, forgets everything.
	ix.deleteSlice("ns", "db-1")
	if rc, _ := answers(r, "db.ns.svc.cluster.local.", miekg.TypeA); rc != "NXDOMAIN" {
		t.Errorf("headless without endpoints: %s; want NXDOMAIN", rc)
	}
	if rc, _ := answers(r, "ns.svc.cluster.local.", miekg.TypeA); rc != "NOERROR" {
		t.Errorf("namespace: %s; want NOERROR (NODATA)", rc)
	}
	ix.deleteService("ns", "db")
	if rc, _ := answers(r, "ns.svc.cluster.local.", miekg.TypeA); rc != "NXDOMAIN" {
		t.Errorf("namespace without Services: %s; want NXDOMAIN", rc)
	}
	ix.deleteSlice("ns", "db-2")
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(ix.services) != 0 || len(ix.reverse) != 0 || len(ix.sliceOwner) != 0 || len(ix.namespaces) != 0 {
		t.Errorf("index not empty: %d services, %d reverse, %d slices, %d namespaces",
			len(ix.services), len(ix.reverse), len(ix.sliceOwner), len(ix.namespaces))
	}
}

func TestIndexServiceTypeChange(t *testing.T) {
	r, _ := newTestResolver(t, nil)
	svc := service("ns", "web", "10.43.1.1", port("http", corev1.ProtocolTCP, 80))
	r.ix.setService(svc)
	ext := externalName("ns", "web", "example.org")
	r.ix.setService(ext)
	if _, got := answers(r, "web.ns.svc.cluster.local.", miekg.TypeCNAME); len(got) != 1 {
		t.Errorf("CNAME %q; want one", got)
	}
	if len(r.ix.ptr(netip.MustParseAddr("10.43.1.1"))) != 0 {
		t.Errorf("the old cluster IP still has a PTR")
	}
}

func TestReverseNames(t *testing.T) {
	for _, s := range []string{"10.43.0.1", "10.42.255.0", "2001:db8::1", "fd00::abcd:1"} {
		a := netip.MustParseAddr(s)
		name, err := miekg.ReverseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := reverseAddr(name)
		if !ok || got != a {
			t.Errorf("reverseAddr(%q) = %v, %v; want %v", name, got, ok, a)
		}
	}
	for _, bad := range []string{"1.2.3.in-addr.arpa.", "01.2.3.4.in-addr.arpa.", "256.2.3.4.in-addr.arpa.", "1.0.ip6.arpa."} {
		if _, ok := reverseAddr(bad); ok {
			t.Errorf("reverseAddr(%q) accepted", bad)
		}
	}
	for p, want := range map[string]string{
		"10.43.0.0/16":  "43.10.in-addr.arpa.",
		"10.42.0.0/20":  "42.10.in-addr.arpa.",
		"0.0.0.0/0":     "in-addr.arpa.",
		"fd00:10::/32":  "0.1.0.0.0.0.d.f.ip6.arpa.",
		"2001:db8::/36": "0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		if got := reverseZoneOf(netip.MustParsePrefix(p)); got != want {
			t.Errorf("reverseZoneOf(%s) = %q; want %q", p, got, want)
		}
	}
}

// recorder is a miekg ResponseWriter that keeps the written message.
type recorder struct {
	miekg.ResponseWriter
	tcp bool
	msg *miekg.Msg
}

func (w *recorder) LocalAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *recorder) WriteMsg(m *miekg.Msg) error { w.msg = m; return nil }

func TestTruncation(t *testing.T) {
	var eps []ep
	for i := 1; i <= 100; i++ {
		eps = append(eps, ep{addr: netip.AddrFrom4([4]byte{10, 42, 1, byte(i)}).String()})
	}
	objs := []runtime.Object{
		service("default", "big", corev1.ClusterIPNone, port("http", corev1.ProtocolTCP, 80)),
		slice("default", "big", "big-1", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 80)}, eps...),
	}
	r, _ := newTestResolver(t, objs)
	h := &handler{res: r, ctx: context.Background()}
	for _, tc := range []struct {
		name    string
		tcp     bool
		edns    uint16
		tc      bool
		answers int
	}{
		{name: "UDP without EDNS0 truncates at 512 bytes", tc: true},
		{name: "UDP with a 1232-byte buffer truncates", edns: 1232, tc: true},
		{name: "UDP with a 4096-byte buffer fits", edns: 4096, answers: 100},
		{name: "TCP never truncates", tcp: true, answers: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := query("big.default.svc.cluster.local.", miekg.TypeA)
			if tc.edns != 0 {
				req.SetEdns0(tc.edns, false)
			}
			w := &recorder{tcp: tc.tcp}
			h.ServeDNS(w, req)
			size := w.msg.Len()
			if w.msg.Truncated != tc.tc {
				t.Errorf("TC %v; want %v", w.msg.Truncated, tc.tc)
			}
			if !tc.tc && len(w.msg.Answer) != tc.answers {
				t.Errorf("%d answers; want %d", len(w.msg.Answer), tc.answers)
			}
			if limit := max(int(tc.edns), 512); !tc.tcp && size > limit {
				t.Errorf("%d bytes over UDP; limit %d", size, limit)
			}
			if (tc.edns != 0) != (w.msg.IsEdns0() != nil) {
				t.Errorf("OPT in the answer: %v; want %v", w.msg.IsEdns0() != nil, tc.edns != 0)
			}
		})
	}
}
