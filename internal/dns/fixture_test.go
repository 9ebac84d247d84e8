package dns

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"
)

// testTime is the fake clock's time; the SOA serial is its Unix seconds.
var testTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports, Type: corev1.ServiceTypeClusterIP},
	}
	if clusterIP != corev1.ClusterIPNone && clusterIP != "" {
		svc.Spec.ClusterIPs = strings.Split(clusterIP, ",")
		svc.Spec.ClusterIP = svc.Spec.ClusterIPs[0]
	}
	return svc
}

func port(name string, proto corev1.Protocol, n int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: n, TargetPort: intstr.FromInt32(n)}
}

func externalName(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

type ep struct {
	addr     string
	hostname string
	notReady bool
}

func slice(ns, svcName, name string, family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: family,
		Ports:       ports,
	}
	for _, e := range eps {
		ready := !e.notReady
		x := discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
		if e.hostname != "" {
			x.Hostname = &e.hostname
		}
		es.Endpoints = append(es.Endpoints, x)
	}
	return es
}

func slicePort(name string, proto corev1.Protocol, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &n}
}

// fixture is the cluster the unit tests query: the specification's
// examples plus the cases around them.
func fixture() []runtime.Object {
	https := []discoveryv1.EndpointPort{slicePort("https", corev1.ProtocolTCP, 443)}
	published := service("default", "published", corev1.ClusterIPNone, port("http", corev1.ProtocolTCP, 80))
	published.Spec.PublishNotReadyAddresses = true
	return []runtime.Object{
		service("default", "kubernetes", "10.43.0.1", port("https", corev1.ProtocolTCP, 443)),
		service("kube-system", "kube-dns", "10.43.0.10",
			port("dns", corev1.ProtocolUDP, 53), port("dns-tcp", corev1.ProtocolTCP, 53), port("metrics", corev1.ProtocolTCP, 9153)),
		service("default", "v6", "2001:db8::1", port("http", corev1.ProtocolTCP, 80)),
		service("default", "dual", "10.43.0.20,2001:db8::20", port("", corev1.ProtocolTCP, 8080)),
		service("default", "headless", corev1.ClusterIPNone, port("https", corev1.ProtocolTCP, 443)),
		slice("default", "headless", "headless-abc", discoveryv1.AddressTypeIPv4, https,
			ep{addr: "10.42.0.1", hostname: "my-pet"},
			ep{addr: "10.42.0.2", hostname: "my-pet-2"},
			ep{addr: "10.42.0.3"},
			ep{addr: "10.42.0.4", notReady: true}),
		slice("default", "headless", "headless-v6", discoveryv1.AddressTypeIPv6, https,
			ep{addr: "2001:db8::100", hostname: "my-pet"}),
		service("default", "empty", corev1.ClusterIPNone, port("http", corev1.ProtocolTCP, 80)),
		published,
		slice("default", "published", "published-1", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 80)},
			ep{addr: "10.42.1.7", notReady: true}),
		externalName("default", "foo", "www.example.com"),
		externalName("default", "alias", "kubernetes.default.svc.cluster.local."),
		service("other", "web", "10.43.5.5", port("http", corev1.ProtocolTCP, 80)),
		slice("other", "web", "web-1", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)},
			ep{addr: "10.42.2.9"}),
	}
}

// fakeUpstream answers every forwarded query with one A record (or
// NXDOMAIN for names starting "nx.") and records the names it saw.
type fakeUpstream struct {
	names []string
}

func (f *fakeUpstream) Exchange(_ context.Context, req *miekg.Msg, _ bool) (*miekg.Msg, error) {
	q := req.Question[0]
	f.names = append(f.names, q.Name)
	m := new(miekg.Msg)
	m.SetReply(req)
	if strings.HasPrefix(q.Name, "nx.") {
		m.Rcode = miekg.RcodeNameError
		return m, nil
	}
	if q.Qtype == miekg.TypeA {
		m.Answer = append(m.Answer, mustRR("%s 300 IN A 192.0.2.53", q.Name))
	}
	return m, nil
}

func mustRR(format string, args ...any) miekg.RR {
	rr, err := miekg.NewRR(sprintf(format, args...))
	if err != nil {
		panic(err)
	}
	return rr
}

// newTestResolver builds an index from objs the way the informers do.
func newTestResolver(t *testing.T, objs []runtime.Object, reverse ...string) (*resolver, *fakeUpstream) {
	t.Helper()
	ix := newIndex("cluster.local.", clocktesting.NewFakePassiveClock(testTime))
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			ix.setService(o)
		case *discoveryv1.EndpointSlice:
			ix.setSlice(o)
		}
	}
	up := &fakeUpstream{}
	r := &resolver{zone: "cluster.local.", ttl: 5, ix: ix, fwd: up, log: slog.New(slog.DiscardHandler)}
	for _, s := range reverse {
		p := netip.MustParsePrefix(s)
		r.reverseZones = append(r.reverseZones, reverseZone{prefix: p, zone: reverseZoneOf(p)})
	}
	return r, up
}

func query(name string, qtype uint16) *miekg.Msg {
	m := new(miekg.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rrStrings is rrs in presentation format, tabs as spaces, sorted.
func rrStrings(rrs []miekg.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return out
}
