package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func TestDeletesAfterTTL(t *testing.T) {
	finished := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", UID: "u"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](60)},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.Time{Time: finished}}}},
	}
	client := fake.NewClientset(job)
	inf := informers.NewSharedInformerFactory(client, 0)
	_ = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(job)
	clk := clocktesting.NewFakeClock(finished.Add(20 * time.Second))
	c := New(Config{Client: client, Jobs: inf.Batch().V1().Jobs(), Clock: clk})

	res, err := c.Sync(context.Background(), "ns/j")
	if err != nil || res.RequeueAfter != 40*time.Second {
		t.Fatalf("Sync = %+v, %v; want requeue after 40s", res, err)
	}
	clk.Step(40 * time.Second)
	if _, err := c.Sync(context.Background(), "ns/j"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.BatchV1().Jobs("ns").Get(context.Background(), "j", metav1.GetOptions{}); err == nil {
		t.Errorf("job still exists after its TTL")
	}
}
