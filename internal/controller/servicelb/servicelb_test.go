package servicelb

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
)

func node(name string, ready bool, lbls map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Status: corev1.NodeStatus{
			Addresses:  addrs,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
		},
	}
}

func internal(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
}
func external(ip string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip}
}

func ips(in []corev1.LoadBalancerIngress) []string { return ingressIPs(in) }

func TestNodeIngress(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*corev1.Node
		want  []string
	}{
		{name: "ready nodes, sorted", nodes: []*corev1.Node{
			node("b", true, nil, internal("10.0.0.2")), node("a", true, nil, internal("10.0.0.1")),
		}, want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "not ready left out", nodes: []*corev1.Node{
			node("a", true, nil, internal("10.0.0.1")), node("b", false, nil, internal("10.0.0.2")),
		}, want: []string{"10.0.0.1"}},
		{name: "external preferred", nodes: []*corev1.Node{
			node("a", true, nil, internal("10.0.0.1"), external("192.0.2.1")),
		}, want: []string{"192.0.2.1"}},
		{name: "enablelb restricts", nodes: []*corev1.Node{
			node("a", true, map[string]string{EnableLBLabel: "true"}, internal("10.0.0.1")),
			node("b", true, nil, internal("10.0.0.2")),
		}, want: []string{"10.0.0.1"}},
		{name: "excluded", nodes: []*corev1.Node{
			node("a", true, map[string]string{ExcludeLabel: ""}, internal("10.0.0.1")),
			node("b", true, nil, internal("10.0.0.2")),
		}, want: []string{"10.0.0.2"}},
		{name: "no nodes", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NodeIngress(tt.nodes)
			if g := ips(got); !slices.Equal(g, tt.want) {
				t.Fatalf("got %v; want %v", g, tt.want)
			}
			for _, in := range got {
				if ptr.Deref(in.IPMode, "") != corev1.LoadBalancerIPModeVIP {
					t.Errorf("ipMode = %v; want VIP", in.IPMode)
				}
			}
		})
	}
}

func svc(name string, typ corev1.ServiceType, created int, ports ...int32) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(created), 0))},
		Spec:       corev1.ServiceSpec{Type: typ},
	}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p, Protocol: corev1.ProtocolTCP})
	}
	return s
}

func TestAssign(t *testing.T) {
	ingress := []corev1.LoadBalancerIngress{{IP: "10.0.0.1"}}
	older := svc("older", corev1.ServiceTypeLoadBalancer, 1, 80)
	newer := svc("newer", corev1.ServiceTypeLoadBalancer, 2, 443, 80)
	other := svc("other", corev1.ServiceTypeLoadBalancer, 3, 8080)
	classed := svc("classed", corev1.ServiceTypeLoadBalancer, 0, 9090)
	classed.Spec.LoadBalancerClass = ptr.To("example.com/lb")
	wasLB := svc("was-lb", corev1.ServiceTypeClusterIP, 0, 80)
	wasLB.Status.LoadBalancer.Ingress = ingress
	plain := svc("plain", corev1.ServiceTypeClusterIP, 0, 80)

	got := Assign([]*corev1.Service{newer, other, older, classed, wasLB, plain}, ingress)
	if w := got[older]; len(w.Ingress) != 1 || w.Conflict != "" {
		t.Errorf("older = %+v; want the ingress", w)
	}
	if w := got[newer]; len(w.Ingress) != 0 || w.Conflict == "" {
		t.Errorf("newer = %+v; want a conflict and no ingress", w)
	}
	if w := got[other]; len(w.Ingress) != 1 {
		t.Errorf("other = %+v; want the ingress", w)
	}
	if _, ok := got[classed]; ok {
		t.Errorf("a Service with a loadBalancerClass is not ours")
	}
	if w, ok := got[wasLB]; !ok || len(w.Ingress) != 0 {
		t.Errorf("was-lb = %+v, %v; want its ingress cleared", w, ok)
	}
	if _, ok := got[plain]; ok {
		t.Errorf("a ClusterIP Service without ingress is left alone")
	}
}

func TestSyncWritesStatus(t *testing.T) {
	lb := svc("web", corev1.ServiceTypeLoadBalancer, 1, 80)
	n := node("a", true, nil, internal("10.0.0.1"))
	client := fake.NewClientset(lb, n)
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(Config{Client: client, Services: f.Core().V1().Services(), Nodes: f.Core().V1().Nodes(), Recorder: &events.FakeRecorder{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	if _, err := c.Sync(ctx, "service-lb"); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Services("ns").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g := ips(got.Status.LoadBalancer.Ingress); !slices.Equal(g, []string{"10.0.0.1"}) {
		t.Fatalf("ingress = %v; want [10.0.0.1]", g)
	}
}
