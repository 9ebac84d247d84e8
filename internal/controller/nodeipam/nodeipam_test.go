package nodeipam

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestAllocateSkipsRecovered(t *testing.T) {
	used := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}
	fresh := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
	client := fake.NewClientset(used, fresh)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Nodes: f.Core().V1().Nodes()})
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(used)
	_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(fresh)
	c.occupy(used.Spec.PodCIDRs)
	if _, err := c.Sync(context.Background(), "new"); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Nodes().Get(context.Background(), "new", metav1.GetOptions{})
	if got.Spec.PodCIDR != "10.42.1.0/24" || len(got.Spec.PodCIDRs) != 1 {
		t.Fatalf("podCIDR = %q %v; want 10.42.1.0/24", got.Spec.PodCIDR, got.Spec.PodCIDRs)
	}
}

func TestPoolFull(t *testing.T) {
	c, err := New(Config{ClusterCIDRs: []string{"10.0.0.0/23"}, Nodes: informers.NewSharedInformerFactory(fake.NewClientset(), 0).Core().V1().Nodes()})
	if err != nil {
		t.Fatal(err)
	}
	p := c.pools[0]
	for _, want := range []string{"10.0.0.0/24", "10.0.1.0/24"} {
		if got, err := p.allocate(); err != nil || got != want {
			t.Fatalf("allocate = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := p.allocate(); err == nil {
		t.Fatal("allocate from a full pool succeeded")
	}
}
