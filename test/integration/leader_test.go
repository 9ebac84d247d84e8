package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestLostLeaseResumes steals the Leases of the server's scheduler and
// controller manager. Each must notice (its renewals fail), stop, campaign
// again and take the Lease back once the thief's runs out — then a
// ReplicaSet must get its pod (controller manager) and the pod a node
// (scheduler). Before, both stopped for good on a lost Lease.
func TestLostLeaseResumes(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Scheduler: true, ControllerManager: true})
	c := s.Client
	ctx := context.Background()
	createReadyNode(t, c, "leader-node")
	createNamespace(t, c, "leader")
	leases := []string{"kube-scheduler", "kube-controller-manager"}
	holders := map[string]string{}
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, name := range leases {
			h := leaseHolder(c, name)
			if h == "" {
				return false, name + " has no holder"
			}
			holders[name] = h
		}
		return true, ""
	})
	runReplicaSet(t, c, "before")

	// Steal both Leases: the thief just renewed a 15 s Lease.
	stolen := time.Now()
	for _, name := range leases {
		l, err := c.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.Spec.HolderIdentity = ptr.To("thief")
		l.Spec.LeaseDurationSeconds = ptr.To[int32](15)
		l.Spec.AcquireTime = &metav1.MicroTime{Time: stolen}
		l.Spec.RenewTime = &metav1.MicroTime{Time: stolen}
		if _, err := c.CoordinationV1().Leases("kube-system").Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("steal %s: %v", name, err)
		}
	}
	// The thief never renews: after its 15 s the components must take
	// the Leases back (retry period 2 s, with jitter).
	eventually(t, 25*time.Second, func() (bool, string) {
		for _, name := range leases {
			if h := leaseHolder(c, name); h != holders[name] {
				return false, fmt.Sprintf("%s held by %q; want %q back", name, h, holders[name])
			}
		}
		return true, ""
	})
	t.Logf("Leases back %v after the theft", time.Since(stolen).Round(100*time.Millisecond))
	runReplicaSet(t, c, "after")
}

func leaseHolder(c kubernetes.Interface, name string) string {
	l, err := c.CoordinationV1().Leases("kube-system").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

func createReadyNode(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res, Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}},
	}
	if _, err := c.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}
}

// runReplicaSet creates a one-replica ReplicaSet and waits for its pod to
// be created and bound.
func runReplicaSet(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if _, err := c.AppsV1().ReplicaSets("leader").Create(context.Background(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create replicaset %s: %v", name, err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		pods, err := c.CoreV1().Pods("leader").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err.Error()
		}
		if len(pods.Items) != 1 {
			return false, fmt.Sprintf("replicaset %s has %d pods; want 1", name, len(pods.Items))
		}
		if n := pods.Items[0].Spec.NodeName; n == "" {
			return false, fmt.Sprintf("pod %s not scheduled", pods.Items[0].Name)
		}
		return true, ""
	})
}
