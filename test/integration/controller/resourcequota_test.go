package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestResourceQuotaStatus checks that a quota gets status.hard and a
// correct status.used, that admission charges creates, and that the
// controller releases usage when objects are deleted.
func TestResourceQuotaStatus(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	const ns = "quota"
	createNamespace(t, c, ns)
	// Pods need the default account, and the root CA ConfigMap counts
	// as a configmap: wait for both before measuring.
	eventually(t, 20*time.Second, func() (bool, string) {
		_, err1 := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		_, err2 := c.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err1 == nil && err2 == nil, fmt.Sprintf("default account: %v, root CA: %v", err1, err2)
	})

	hard := corev1.ResourceList{
		corev1.ResourcePods:        resource.MustParse("5"),
		"count/pods":               resource.MustParse("5"),
		corev1.ResourceRequestsCPU: resource.MustParse("2"),
		corev1.ResourceLimitsCPU:   resource.MustParse("4"),
		corev1.ResourceConfigMaps:  resource.MustParse("10"),
		"count/configmaps":         resource.MustParse("10"),
		corev1.ResourceSecrets:     resource.MustParse("10"),
	}
	_, err := c.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute"},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUsed(t, c, ns, "compute", hard, "pods=0 count/pods=0 requests.cpu=0 limits.cpu=0 configmaps=1 count/configmaps=1 secrets=0")

	// A create that fails in storage after admission charged it (the
	// name is taken) leaves a charge behind; the recalculations below
	// must release it.
	_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v; want AlreadyExists", err)
	}
	for i := range 2 {
		createPod(t, c, ns, fmt.Sprintf("p%d", i), "500m")
	}
	for i := range 3 {
		createConfigMap(t, c, ns, fmt.Sprintf("cm%d", i), nil)
	}
	waitUsed(t, c, ns, "compute", hard, "pods=2 count/pods=2 requests.cpu=1 limits.cpu=2 configmaps=4 count/configmaps=4 secrets=0")

	zero := int64(0)
	if err := c.CoreV1().Pods(ns).Delete(ctx, "p0", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := c.CoreV1().ConfigMaps(ns).Delete(ctx, fmt.Sprintf("cm%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUsed(t, c, ns, "compute", hard, "pods=1 count/pods=1 requests.cpu=500m limits.cpu=1 configmaps=2 count/configmaps=2 secrets=0")

	// A pod that finished stops counting.
	p, err := c.CoreV1().Pods(ns).Get(ctx, "p1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, c, ns, "compute", hard, "pods=0 count/pods=0 requests.cpu=0 limits.cpu=0 configmaps=2 count/configmaps=2 secrets=0")

	// A raised limit is copied to status.hard.
	q, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("7")
	if _, err := c.CoreV1().ResourceQuotas(ns).Update(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, c, ns, "compute", q.Spec.Hard, "pods=0 count/pods=0 requests.cpu=0 limits.cpu=0 configmaps=2 count/configmaps=2 secrets=0")
}

func createPod(t *testing.T, c kubernetes.Interface, ns, name, cpu string) {
	t.Helper()
	q := resource.MustParse(cpu)
	lim := q.DeepCopy()
	lim.Add(q)
	_, err := c.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: q},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: lim},
			}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
}

// waitUsed waits until the quota's status.hard equals hard and its
// status.used equals want, given as "name=quantity ..." pairs.
func waitUsed(t *testing.T, c kubernetes.Interface, ns, name string, hard corev1.ResourceList, want string) {
	t.Helper()
	wantUsed := corev1.ResourceList{}
	for _, pair := range strings.Fields(want) {
		k, v, _ := strings.Cut(pair, "=")
		wantUsed[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		q, err := c.CoreV1().ResourceQuotas(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if !equality.Semantic.DeepEqual(q.Status.Hard, hard) {
			return false, fmt.Sprintf("status.hard = %v; want %v", q.Status.Hard, hard)
		}
		if !equality.Semantic.DeepEqual(q.Status.Used, wantUsed) {
			return false, fmt.Sprintf("status.used = %v; want %v", q.Status.Used, wantUsed)
		}
		return true, ""
	})
}
