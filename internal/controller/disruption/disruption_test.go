package disruption

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestSync(t *testing.T) {
	now := time.Now()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "rs", UID: "rs-uid"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4)}}
	pod := func(name string, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": "x"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: ptr.To(true)}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	pods := []*corev1.Pod{pod("a", true), pod("b", true), pod("c", true), pod("d", false)}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	tests := []struct {
		name                                string
		spec                                policyv1.PodDisruptionBudgetSpec
		disrupted                           map[string]metav1.Time
		expected, desired, healthy, allowed int32
	}{
		{"minAvailable int", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: sel}, nil, 4, 2, 3, 1},
		{"minAvailable percent uses scale", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("50%")), Selector: sel}, nil, 4, 2, 3, 1},
		{"maxUnavailable", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: sel}, nil, 4, 3, 3, 0},
		{"disrupted pod not healthy", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: sel},
			map[string]metav1.Time{"a": metav1.NewTime(now)}, 4, 2, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pdb", Generation: 3},
				Spec: tt.spec, Status: policyv1.PodDisruptionBudgetStatus{DisruptedPods: tt.disrupted}}
			client := fake.NewClientset(pdb)
			f := informers.NewSharedInformerFactory(client, 0)
			c := New(Config{Client: client, PDBs: f.Policy().V1().PodDisruptionBudgets(), Pods: f.Core().V1().Pods(),
				ReplicationControllers: f.Core().V1().ReplicationControllers(), ReplicaSets: f.Apps().V1().ReplicaSets(),
				Deployments: f.Apps().V1().Deployments(), StatefulSets: f.Apps().V1().StatefulSets(),
				Clock: testingclock.NewFakeClock(now), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			_ = f.Policy().V1().PodDisruptionBudgets().Informer().GetIndexer().Add(pdb)
			_ = f.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs)
			for _, p := range pods {
				_ = f.Core().V1().Pods().Informer().GetIndexer().Add(p)
			}
			if _, err := c.Sync(context.Background(), "ns/pdb"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.PolicyV1().PodDisruptionBudgets("ns").Get(context.Background(), "pdb", metav1.GetOptions{})
			st := got.Status
			if st.ExpectedPods != tt.expected || st.DesiredHealthy != tt.desired || st.CurrentHealthy != tt.healthy || st.DisruptionsAllowed != tt.allowed || st.ObservedGeneration != 3 {
				t.Fatalf("status = %+v; want expected %d desired %d healthy %d allowed %d", st, tt.expected, tt.desired, tt.healthy, tt.allowed)
			}
			if len(st.Conditions) != 1 || st.Conditions[0].Type != policyv1.DisruptionAllowedCondition {
				t.Fatalf("conditions = %+v", st.Conditions)
			}
		})
	}
}
