package clusterdns

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func dnsService(selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName, UID: "u1"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.43.0.10",
			Selector:  selector,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}

func node(name, cidr string, ready bool, zone string) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec:       corev1.NodeSpec{PodCIDR: cidr},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}},
	}
	if cidr != "" {
		n.Spec.PodCIDRs = []string{cidr}
	}
	if zone != "" {
		n.Labels[corev1.LabelTopologyZone] = zone
	}
	return n
}

func TestSlices(t *testing.T) {
	got := Slices(dnsService(nil), []*corev1.Node{
		node("b", "10.42.2.0/24", false, ""),
		node("a", "10.42.1.0/24", true, "z1"),
		node("no-cidr", "", true, ""),
		node("bad-cidr", "nonsense", true, ""),
	})
	if len(got) != 1 {
		t.Fatalf("got %d slices; want 1", len(got))
	}
	s := got[0]
	if s.Name != "kube-dns-skiff-0" || s.Labels[discoveryv1.LabelServiceName] != ServiceName || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
		t.Errorf("slice meta = %s %v", s.Name, s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "u1" {
		t.Errorf("owner = %+v; want the Service", s.OwnerReferences)
	}
	if len(s.Endpoints) != 2 {
		t.Fatalf("endpoints = %+v; want a and b", s.Endpoints)
	}
	a, b := s.Endpoints[0], s.Endpoints[1]
	if a.Addresses[0] != "10.42.1.1" || *a.NodeName != "a" || !*a.Conditions.Ready || a.Zone == nil || *a.Zone != "z1" {
		t.Errorf("a = %+v", a)
	}
	if b.Addresses[0] != "10.42.2.1" || *b.Conditions.Ready || *b.Conditions.Serving {
		t.Errorf("b = %+v; want not ready", b)
	}
	if len(s.Ports) != 2 || *s.Ports[0].Port != 53 || *s.Ports[0].Protocol != corev1.ProtocolUDP || *s.Ports[1].Name != "dns-tcp" {
		t.Errorf("ports = %+v", s.Ports)
	}
}

func TestSlicesSplitAtTheLimit(t *testing.T) {
	var nodes []*corev1.Node
	for i := range maxPerSlice + 1 {
		nodes = append(nodes, node(fmt.Sprintf("n%04d", i), "10.42.0.0/24", true, ""))
	}
	got := Slices(dnsService(nil), nodes)
	if len(got) != 2 || len(got[0].Endpoints) != maxPerSlice || len(got[1].Endpoints) != 1 {
		t.Fatalf("got %d slices; want %d + 1 endpoints", len(got), maxPerSlice)
	}
}

func run(t *testing.T, objs ...any) *fake.Clientset {
	t.Helper()
	client := fake.NewClientset()
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_, _ = client.CoreV1().Services(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		case *corev1.Node:
			_, _ = client.CoreV1().Nodes().Create(context.Background(), o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, _ = client.DiscoveryV1().EndpointSlices(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
	}
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(Config{Client: client, Services: f.Core().V1().Services(), Nodes: f.Core().V1().Nodes(), EndpointSlices: f.Discovery().V1().EndpointSlices()})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	if _, err := c.Sync(ctx, "cluster-dns-endpoints"); err != nil {
		t.Fatal(err)
	}
	return client
}

func ourSlices(t *testing.T, client *fake.Clientset) []discoveryv1.EndpointSlice {
	t.Helper()
	l, err := client.DiscoveryV1().EndpointSlices(Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelManagedBy + "=" + ManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestSync(t *testing.T) {
	t.Run("creates", func(t *testing.T) {
		client := run(t, dnsService(nil), node("a", "10.42.1.0/24", true, ""))
		if s := ourSlices(t, client); len(s) != 1 || s[0].Endpoints[0].Addresses[0] != "10.42.1.1" {
			t.Fatalf("slices = %+v", s)
		}
	})
	t.Run("updates a stale slice", func(t *testing.T) {
		stale := Slices(dnsService(nil), []*corev1.Node{node("old", "10.42.9.0/24", true, "")})[0]
		client := run(t, dnsService(nil), node("a", "10.42.1.0/24", true, ""), stale)
		if s := ourSlices(t, client); len(s) != 1 || len(s[0].Endpoints) != 1 || *s[0].Endpoints[0].NodeName != "a" {
			t.Fatalf("slices = %+v", s)
		}
	})
	t.Run("a user's own DNS with a selector is left alone", func(t *testing.T) {
		stale := Slices(dnsService(nil), []*corev1.Node{node("a", "10.42.1.0/24", true, "")})[0]
		client := run(t, dnsService(map[string]string{"k8s-app": "kube-dns"}), node("a", "10.42.1.0/24", true, ""), stale)
		if s := ourSlices(t, client); len(s) != 0 {
			t.Fatalf("slices = %+v; want ours deleted", s)
		}
	})
	t.Run("no service, nothing written", func(t *testing.T) {
		client := run(t, node("a", "10.42.1.0/24", true, ""))
		if s := ourSlices(t, client); len(s) != 0 {
			t.Fatalf("slices = %+v", s)
		}
	})
}
