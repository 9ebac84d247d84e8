package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGarbageCollectorBackground(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	createNamespace(t, c, "bg")
	owner := createConfigMap(t, c, "bg", "owner", nil)
	for i := range 3 {
		createConfigMap(t, c, "bg", fmt.Sprintf("dep-%d", i), nil, ownedBy(owner, false))
	}
	// A dependent with a second, live owner survives, minus the dead reference.
	other := createConfigMap(t, c, "bg", "other-owner", nil)
	createConfigMap(t, c, "bg", "shared", nil, ownedBy(owner, false), ownedBy(other, false))

	deleteWith(t, c, "bg", "owner", metav1.DeletePropagationBackground)
	for i := range 3 {
		eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "bg", fmt.Sprintf("dep-%d", i)) })
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		cm, err := c.CoreV1().ConfigMaps("bg").Get(context.Background(), "shared", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != other.UID {
			return false, fmt.Sprintf("shared owners = %v; want only other-owner", cm.OwnerReferences)
		}
		return true, ""
	})
}

// A dependent created after its owner is gone is collected too: the
// collector confirms the owner's absence live, not from its cache.
func TestGarbageCollectorOwnerAlreadyGone(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	createNamespace(t, c, "late")
	owner := createConfigMap(t, c, "late", "owner", nil)
	deleteWith(t, c, "late", "owner", metav1.DeletePropagationBackground)
	for i := range 20 {
		createConfigMap(t, c, "late", fmt.Sprintf("dep-%d", i), nil, ownedBy(owner, false))
	}
	for i := range 20 {
		eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "late", fmt.Sprintf("dep-%d", i)) })
	}
}

// A namespaced dependent of a cluster-scoped owner goes with it.
func TestGarbageCollectorClusterScopedOwner(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "cs")
	cr, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gc-owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := metav1.OwnerReference{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: cr.Name, UID: cr.UID}
	createConfigMap(t, c, "cs", "dep", nil, ref)
	time.Sleep(300 * time.Millisecond)
	if gone, _ := configMapGone(c, "cs", "dep"); gone {
		t.Fatal("dependent of a live cluster-scoped owner was deleted")
	}
	if err := c.RbacV1().ClusterRoles().Delete(ctx, cr.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "cs", "dep") })
}

func TestGarbageCollectorForeground(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "fg")
	owner := createConfigMap(t, c, "fg", "owner", nil)
	createConfigMap(t, c, "fg", "plain", nil, ownedBy(owner, true))
	// held blocks the owner until its own finalizer is removed.
	createConfigMap(t, c, "fg", "held", []string{"example.com/hold"}, ownedBy(owner, true))

	deleteWith(t, c, "fg", "owner", metav1.DeletePropagationForeground)
	eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "fg", "plain") })
	eventually(t, 20*time.Second, func() (bool, string) {
		cm, err := c.CoreV1().ConfigMaps("fg").Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cm.DeletionTimestamp != nil, "held not being deleted yet"
	})
	// The owner must still be there, waiting for its blocking dependent.
	time.Sleep(300 * time.Millisecond)
	got, err := c.CoreV1().ConfigMaps("fg").Get(ctx, "owner", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("owner deleted before its blocking dependent: %v", err)
	}
	if got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Fatalf("owner: deletionTimestamp %v finalizers %v; want deleting with [%s]", got.DeletionTimestamp, got.Finalizers, metav1.FinalizerDeleteDependents)
	}
	removeFinalizers(t, c, "fg", "held")
	eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "fg", "held") })
	eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "fg", "owner") })
}

func TestGarbageCollectorOrphan(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "orphan")
	owner := createConfigMap(t, c, "orphan", "owner", nil)
	other := createConfigMap(t, c, "orphan", "other", nil)
	for i := range 3 {
		createConfigMap(t, c, "orphan", fmt.Sprintf("dep-%d", i), nil, ownedBy(owner, true), ownedBy(other, false))
	}
	deleteWith(t, c, "orphan", "owner", metav1.DeletePropagationOrphan)
	eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, "orphan", "owner") })
	for i := range 3 {
		cm, err := c.CoreV1().ConfigMaps("orphan").Get(ctx, fmt.Sprintf("dep-%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned dependent: %v", err)
		}
		if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != other.UID {
			t.Errorf("dep-%d owners = %v; want only the other owner", i, cm.OwnerReferences)
		}
	}
}
