package testserver

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStartServesSystemNamespaces(t *testing.T) {
	s := Start(t, Options{})
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns, err := s.Client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get namespace %s: %v", name, err)
		}
		if ns.Status.Phase != "Active" {
			t.Errorf("namespace %s phase = %q; want Active", name, ns.Status.Phase)
		}
	}
}

// TestRestartKeepsObjects restarts on the same data: bootstrap must find
// its objects (the default/kubernetes Service holds a cluster IP that
// re-creating would fail to allocate) and earlier writes must survive.
func TestRestartKeepsObjects(t *testing.T) {
	s := Start(t, Options{})
	ctx := context.Background()
	before, err := s.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get kubernetes service: %v", err)
	}
	s.Restart()
	after, err := s.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get kubernetes service after restart: %v", err)
	}
	if after.UID != before.UID || after.Spec.ClusterIP != before.Spec.ClusterIP {
		t.Errorf("kubernetes service after restart: uid %s ip %s; want %s %s", after.UID, after.Spec.ClusterIP, before.UID, before.Spec.ClusterIP)
	}
}
