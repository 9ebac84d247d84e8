package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestGracefulDeletionAndPropagationFinalizers checks what DELETE stores:
// a pod bound to a node lingers for its grace period, an unbound one goes
// at once, grace 0 finishes a graceful deletion, and propagation policies
// leave their finalizers for the garbage collector.
func TestGracefulDeletionAndPropagationFinalizers(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "del")
	pod := func(name, node string) *corev1.Pod {
		grace := int64(45)
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "del"},
			Spec: corev1.PodSpec{
				NodeName:                      node,
				TerminationGracePeriodSeconds: &grace,
				Containers:                    []corev1.Container{{Name: "c", Image: "busybox"}},
			},
		}
	}
	pods := c.CoreV1().Pods("del")

	if _, err := pods.Create(ctx, pod("unbound", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "unbound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "unbound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod after delete: %v; want NotFound at once", err)
	}

	if _, err := pods.Create(ctx, pod("bound", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("bound pod after delete: %v; want it kept for its grace period", err)
	}
	if g := got.DeletionGracePeriodSeconds; g == nil || *g != 45 {
		t.Errorf("deletionGracePeriodSeconds = %v; want 45", g)
	}
	if ts := got.DeletionTimestamp; ts == nil || ts.Time.Before(before.Add(44*time.Second)) || ts.Time.After(time.Now().Add(46*time.Second)) {
		t.Errorf("deletionTimestamp = %v; want about now+45s", ts)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("bound pod after delete with grace 0: %v; want NotFound", err)
	}

	cms := c.CoreV1().ConfigMaps("del")
	for name, policy := range map[string]metav1.DeletionPropagation{"orphaned": metav1.DeletePropagationOrphan, "foreground": metav1.DeletePropagationForeground} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{"example.com/keep"}}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
		got, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v; want it kept by its finalizers", name, err)
		}
		want := map[metav1.DeletionPropagation]string{metav1.DeletePropagationOrphan: metav1.FinalizerOrphanDependents, metav1.DeletePropagationForeground: metav1.FinalizerDeleteDependents}[policy]
		if got.DeletionTimestamp == nil || !slices.Contains(got.Finalizers, want) || !slices.Contains(got.Finalizers, "example.com/keep") {
			t.Errorf("%s: deletionTimestamp %v, finalizers %v; want set, with %q and example.com/keep", name, got.DeletionTimestamp, got.Finalizers, want)
		}
		// Removing every finalizer lets the server finish the deletion.
		got.Finalizers = nil
		if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s after its finalizers were removed: %v; want NotFound", name, err)
		}
	}
}
