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
