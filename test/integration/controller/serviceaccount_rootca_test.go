package controller

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/rootcacert"
)

// TestNamespaceDefaults checks that a new namespace gets the default
// ServiceAccount and the kube-root-ca.crt ConfigMap, and that both come
// back when deleted and the ConfigMap is repaired when edited.
func TestNamespaceDefaults(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	wantCA := s.Config.CAData
	if len(wantCA) == 0 {
		b, err := os.ReadFile(s.Config.CAFile)
		if err != nil {
			t.Fatalf("read CA: %v", err)
		}
		wantCA = b
	}
	const ns = "defaults"
	createNamespace(t, c, ns)
	waitDefaults(t, c, ns, wantCA)

	if err := c.CoreV1().ServiceAccounts(ns).Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().ConfigMaps(ns).Delete(ctx, rootcacert.ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDefaults(t, c, ns, wantCA)

	patch := []byte(`{"data":{"ca.crt":"tampered","extra":"x"},"metadata":{"annotations":{"kubernetes.io/description":null}}}`)
	if _, err := c.CoreV1().ConfigMaps(ns).Patch(ctx, rootcacert.ConfigMapName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDefaults(t, c, ns, wantCA)

	// Namespaces that existed before the manager started are covered too.
	waitDefaults(t, c, "default", wantCA)
}

// waitDefaults waits until ns holds the default ServiceAccount and an
// intact kube-root-ca.crt.
func waitDefaults(t *testing.T, c kubernetes.Interface, ns string, wantCA []byte) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 20*time.Second, func() (bool, string) {
		if _, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, fmt.Sprintf("service account %s/default: %v", ns, err)
		}
		cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("configmap %s/%s: %v", ns, rootcacert.ConfigMapName, err)
		}
		if len(cm.Data) != 1 || !bytes.Equal([]byte(cm.Data["ca.crt"]), wantCA) {
			return false, fmt.Sprintf("configmap data has keys %d, ca.crt %.40q; want only the cluster CA", len(cm.Data), cm.Data["ca.crt"])
		}
		if got := cm.Annotations["kubernetes.io/description"]; got != rootcacert.Description {
			return false, fmt.Sprintf("description annotation %q", got)
		}
		return true, ""
	})
}
