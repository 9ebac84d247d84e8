package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kinds creates one object of each of ten kinds; each returns a lister
// of the names left.
var kinds = []struct {
	name   string
	create func(ctx context.Context, c kubernetes.Interface, ns, name string) error
	count  func(ctx context.Context, c kubernetes.Interface, ns string) (int, error)
}{
	{"configmaps", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"secrets", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"serviceaccounts", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"endpoints", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().Endpoints(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"pods", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"persistentvolumeclaims", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"deployments", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		labels := map[string]string{"app": name}
		_, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
			}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"roles", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.RbacV1().Roles(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"rolebindings", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
	{"leases", func(ctx context.Context, c kubernetes.Interface, ns, name string) error {
		_, err := c.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	}, func(ctx context.Context, c kubernetes.Interface, ns string) (int, error) {
		l, err := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
		return lenOr(l, err, func() int { return len(l.Items) })
	}},
}

func lenOr(_ any, err error, n func() int) (int, error) {
	if err != nil {
		return 0, err
	}
	return n(), nil
}

func TestNamespaceDeletionRemovesEverything(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	const ns, perKind = "big", 50
	createNamespace(t, c, ns)

	var wg sync.WaitGroup
	errs := make(chan error, len(kinds)*perKind)
	sem := make(chan struct{}, 16)
	for _, k := range kinds {
		for i := range perKind {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := k.create(ctx, c, ns, fmt.Sprintf("%s-%d", k.name[:3], i)); err != nil {
					errs <- fmt.Errorf("create %s %d: %w", k.name, i, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Keep one object per kind counted before the deletion as a sanity check.
	for _, k := range kinds {
		if n, err := k.count(ctx, c, ns); err != nil || n < perKind {
			t.Fatalf("%s: %d objects, err %v; want >= %d", k.name, n, err, perKind)
		}
	}

	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, func() (bool, string) {
		got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("namespace still there: phase %s, conditions %v", got.Status.Phase, got.Status.Conditions)
	})
	for _, k := range kinds {
		if n, err := k.count(ctx, c, ns); err != nil || n != 0 {
			t.Errorf("%s left in deleted namespace: %d (err %v)", k.name, n, err)
		}
	}
}

func TestNamespaceWaitsForFinalizers(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	const ns = "held"
	createNamespace(t, c, ns)
	createConfigMap(t, c, ns, "keeper", []string{"example.com/hold"})
	createConfigMap(t, c, ns, "plain", nil)

	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	const wantMsg = "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
	eventually(t, 20*time.Second, func() (bool, string) {
		got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if got.Status.Phase != corev1.NamespaceTerminating {
			return false, fmt.Sprintf("phase %s; want Terminating", got.Status.Phase)
		}
		var fin, content *corev1.NamespaceCondition
		for i := range got.Status.Conditions {
			switch got.Status.Conditions[i].Type {
			case corev1.NamespaceFinalizersRemaining:
				fin = &got.Status.Conditions[i]
			case corev1.NamespaceContentRemaining:
				content = &got.Status.Conditions[i]
			}
		}
		if fin == nil || fin.Status != corev1.ConditionTrue || fin.Reason != "SomeFinalizersRemain" || fin.Message != wantMsg {
			return false, fmt.Sprintf("NamespaceFinalizersRemaining = %+v; want True/SomeFinalizersRemain/%q", fin, wantMsg)
		}
		if content == nil || content.Status != corev1.ConditionTrue || !strings.Contains(content.Message, "configmaps. has 1 resource instances") {
			return false, fmt.Sprintf("NamespaceContentRemaining = %+v", content)
		}
		return true, ""
	})
	if gone, msg := configMapGone(c, ns, "plain"); !gone {
		t.Fatalf("plain configmap: %s", msg)
	}
	// Still held a while later.
	time.Sleep(500 * time.Millisecond)
	if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace gone while content with a finalizer remained: %v", err)
	}

	removeFinalizers(t, c, ns, "keeper")
	eventually(t, 20*time.Second, func() (bool, string) {
		_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("namespace still there (err %v)", err)
	})
}
