package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// Test fixtures: one node, "node-a" at 192.168.0.10 in zone z1, k3s
// default CIDRs.
const (
	testNode        = "node-a"
	testClusterCIDR = "10.42.0.0/16"
	testServiceCIDR = "10.43.0.0/16"
)

func testConfig() Config {
	return Config{
		NodeName: testNode, NodeIPs: []net.IP{net.ParseIP("192.168.0.10")},
		ClusterCIDR: testClusterCIDR, ServiceCIDR: testServiceCIDR,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
}

// fakeConntrack records clearStaleUDP calls.
type fakeConntrack struct {
	mu    sync.Mutex
	calls int
	gone  []netip.AddrPort
}

func (f *fakeConntrack) clearStaleUDP(_ []udpTarget, gone []netip.AddrPort, _ []netip.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.gone = append(f.gone, gone...)
	return 0, nil
}

// testProxier is a Proxier on a fake nftables, with caches the test fills.
type testProxier struct {
	*Proxier
	nft      *knftables.Fake
	ct       *fakeConntrack
	svcs     cache.Indexer
	sysctls  map[string]string
	sysctlMu sync.Mutex
}

func newTestProxier(t *testing.T, cfg Config) *testProxier {
	t.Helper()
	fake := knftables.NewFake(knftables.IPv4Family, tableName)
	tp := newTestProxierWith(t, cfg, fake)
	tp.nft = fake
	return tp
}

// newTestProxierWith is newTestProxier on any nftables (the real one in
// the namespace tests); tp.nft is then nil.
func newTestProxierWith(t *testing.T, cfg Config, nft knftables.Interface) *testProxier {
	t.Helper()
	tp := &testProxier{ct: &fakeConntrack{}, sysctls: map[string]string{}}
	p, err := newProxier(cfg, nft, tp.ct, func(n, v string) error {
		tp.sysctlMu.Lock()
		defer tp.sysctlMu.Unlock()
		tp.sysctls[n] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tp.Proxier = p
	tp.svcs = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	p.services = corelisters.NewServiceLister(tp.svcs)
	p.slices = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{byServiceIndex: func(obj any) ([]string, error) {
		return []string{sliceServiceKey(obj.(*discoveryv1.EndpointSlice))}, nil
	}})
	t.Cleanup(p.health.stop)
	return tp
}

// set adds or replaces objects and marks their Services dirty, as the
// informer handlers would.
func (tp *testProxier) set(objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_ = tp.svcs.Update(o)
			tp.markDirty(o.Namespace + "/" + o.Name)
		case *discoveryv1.EndpointSlice:
			_ = tp.slices.Update(o)
			tp.markDirty(sliceServiceKey(o))
		}
	}
}

func (tp *testProxier) remove(objs ...any) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_ = tp.svcs.Delete(o)
			tp.markDirty(o.Namespace + "/" + o.Name)
		case *discoveryv1.EndpointSlice:
			_ = tp.slices.Delete(o)
			tp.markDirty(sliceServiceKey(o))
		}
	}
}

func (tp *testProxier) mustSync(t *testing.T) bool {
	t.Helper()
	full, err := tp.sync(context.Background())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return full
}

// svcOpt changes a test Service.
type svcOpt func(*corev1.Service)

// svc builds a ClusterIP Service ns/name on ip with TCP port 80 named
// "http" (unless options change it).
func svc(ns, name, ip string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func nodePort(np int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = np
	}
}

func loadBalancer(np int32, ingress ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = np
		for _, ip := range ingress {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

func externalIPs(ips ...string) svcOpt {
	return func(s *corev1.Service) { s.Spec.ExternalIPs = ips }
}

func etpLocal(hcPort int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = hcPort
	}
}

func itpLocal(s *corev1.Service) {
	s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
}

func affinity(seconds int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(seconds)}}
	}
}

func udp(s *corev1.Service) {
	s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
	s.Spec.Ports[0].Name = "dns"
	s.Spec.Ports[0].Port = 53
}

// ep is an endpoint: address, node and conditions.
type ep struct {
	ip, node                    string
	notReady, terminating, zone string // non-empty means true / the zone
	notServing                  bool
	hintZones                   []string
}

// slice builds the EndpointSlice name of Service ns/svcName with port
// 8080 named like the Service's port ("http", TCP unless proto says so).
func slice(ns, svcName, name string, portName string, proto corev1.Protocol, port int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(proto), Port: ptr.To(port)}},
	}
	for _, e := range eps {
		ready := e.notReady == "" && e.terminating == ""
		de := discoveryv1.Endpoint{
			Addresses: []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ready), Serving: ptr.To(!e.notServing && e.notReady == ""), Terminating: ptr.To(e.terminating != ""),
			},
		}
		if e.node != "" {
			de.NodeName = ptr.To(e.node)
		}
		if e.zone != "" {
			de.Zone = ptr.To(e.zone)
		}
		if len(e.hintZones) > 0 {
			de.Hints = &discoveryv1.EndpointHints{}
			for _, z := range e.hintZones {
				de.Hints.ForZones = append(de.Hints.ForZones, discoveryv1.ForZone{Name: z})
			}
		}
		s.Endpoints = append(s.Endpoints, de)
	}
	return s
}

func httpSlice(ns, svcName string, eps ...ep) *discoveryv1.EndpointSlice {
	return slice(ns, svcName, svcName+"-abc", "http", corev1.ProtocolTCP, 8080, eps...)
}
