package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// drainSetup creates a Ready node unique to the test, two Running and
// Ready pods on it, and a PodDisruptionBudget with minAvailable over them.
// There is no node agent: the test plays its part by setting statuses.
func drainSetup(t *testing.T, minAvailable int32) (c kubernetes.Interface, ns, node string) {
	t.Helper()
	ctx := context.Background()
	c, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	ns = newNamespace(t)
	node = "drain-" + ns
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	_, _ = c.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: ptr.To(metav1.NewMicroTime(time.Now()))},
	}, metav1.CreateOptions{})
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lbls := map[string]string{"app": "drained"}
	for i := range 2 {
		pod, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Labels: lbls},
			Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = fmt.Sprintf("10.250.0.%d", i+1)
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	min := intstr.FromInt32(minAvailable)
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "pdb"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &min, Selector: &metav1.LabelSelector{MatchLabels: lbls}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		p, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "pdb", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.ObservedGeneration != p.Generation || p.Status.CurrentHealthy != 2 {
			return fmt.Errorf("pdb status %+v", p.Status)
		}
		return nil
	})
	return c, ns, node
}

func podCount(t *testing.T, c kubernetes.Interface, ns string) int {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// A budget that allows no disruption blocks kubectl drain: it cordons
// the node, then retries the refused evictions until its timeout.
func TestDrainBlockedByPDB(t *testing.T) {
	t.Parallel()
	c, ns, node := drainSetup(t, 2)
	r := kubectl(t, "", "drain", node, "--ignore-daemonsets", "--force", "--timeout=6s")
	if r.Code == 0 {
		t.Fatalf("drain succeeded despite the budget: %s", r)
	}
	if !strings.Contains(r.Stdout+r.Stderr, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Errorf("drain output lacks the eviction refusal: %s", r)
	}
	if n := podCount(t, c, ns); n != 2 {
		t.Errorf("%d pods left; want 2", n)
	}
	if got := mustKubectl(t, "", "get", "node", node, "-o", "jsonpath={.spec.unschedulable}"); got != "true" {
		t.Errorf("node unschedulable = %q; want true (cordoned)", got)
	}
}

// A budget allowing one disruption lets drain evict exactly one pod.
func TestDrainEvictsWithinPDB(t *testing.T) {
	t.Parallel()
	c, ns, node := drainSetup(t, 1)
	r := kubectl(t, "", "drain", node, "--ignore-daemonsets", "--force", "--timeout=6s")
	if n := podCount(t, c, ns); n != 1 {
		t.Fatalf("%d pods left; want 1\n%s", n, r)
	}
	if !strings.Contains(r.Stdout, "evicting pod") {
		t.Errorf("drain output: %s", r)
	}
}
