package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	testclock "k8s.io/utils/clock/testing"
)

func queuePod(name string, prio int32, created time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: k8stypes.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{Priority: &prio},
	}
}

func TestQueueOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		pods []*corev1.Pod
		want []string
	}{
		{"priority first", []*corev1.Pod{queuePod("low", 1, t0), queuePod("high", 10, t0.Add(time.Hour))}, []string{"high", "low"}},
		{"then creation time", []*corev1.Pod{queuePod("new", 5, t0.Add(time.Second)), queuePod("old", 5, t0)}, []string{"old", "new"}},
		{"then arrival", []*corev1.Pod{queuePod("a", 5, t0), queuePod("b", 5, t0), queuePod("c", 5, t0)}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := NewQueue(QueueOptions{Clock: testclock.NewFakeClock(t0)})
			for _, p := range tt.pods {
				q.Add(p)
			}
			for i, want := range tt.want {
				qp, _, ok := q.Pop()
				if !ok || qp.Pod.Name != want {
					t.Fatalf("pop %d: got %v; want %s", i, qp.Pod.Name, want)
				}
			}
		})
	}
}

func TestQueueBackoffDoubles(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {9, 10 * time.Second}}
	q := NewQueue(QueueOptions{})
	for _, tt := range tests {
		if got := q.backoffFor(tt.attempts); got != tt.want {
			t.Errorf("backoffFor(%d) = %v; want %v", tt.attempts, got, tt.want)
		}
	}
}

func TestQueueUnschedulableMovedByRelevantEvent(t *testing.T) {
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(QueueOptions{Clock: clk, Relevant: relevant})
	q.Add(queuePod("p", 0, clk.Now()))
	qp, cycle, _ := q.Pop()
	qp.UnschedulablePlugins = sets.New("NodeResourcesFit")
	q.Requeue(qp, cycle, true)
	if a, b, u := q.Len(); a != 0 || b != 0 || u != 1 {
		t.Fatalf("after requeue: active %d backoff %d unschedulable %d; want 0 0 1", a, b, u)
	}
	// Flushing the backoff or an irrelevant event leaves it waiting.
	clk.Step(2 * time.Second)
	q.Flush()
	q.MoveAll(EventAssignedPodAdd)
	if _, _, u := q.Len(); u != 1 {
		t.Fatalf("irrelevant event moved the pod")
	}
	q.MoveAll(EventNodeAdd)
	if a, _, _ := q.Len(); a != 1 {
		t.Fatalf("node add did not make the pod active")
	}
}

func TestQueueEventDuringCycleGoesToBackoff(t *testing.T) {
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(QueueOptions{Clock: clk})
	q.Add(queuePod("p", 0, clk.Now()))
	qp, cycle, _ := q.Pop()
	q.MoveAll(EventNodeAdd) // a node arrives while the pod is being scheduled
	q.Requeue(qp, cycle, true)
	if _, b, u := q.Len(); b != 1 || u != 0 {
		t.Fatalf("backoff %d unschedulable %d; want 1 0", b, u)
	}
	q.Flush()
	if a, _, _ := q.Len(); a != 0 {
		t.Fatalf("left backoff before it expired")
	}
	clk.Step(time.Second)
	q.Flush()
	if a, _, _ := q.Len(); a != 1 {
		t.Fatalf("not active after the 1s backoff")
	}
}

func TestQueueUnschedulableTimeoutFlush(t *testing.T) {
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	q := NewQueue(QueueOptions{Clock: clk})
	q.Add(queuePod("p", 0, clk.Now()))
	qp, cycle, _ := q.Pop()
	q.Requeue(qp, cycle, true)
	clk.Step(4 * time.Minute)
	q.Flush()
	if _, _, u := q.Len(); u != 1 {
		t.Fatalf("flushed before 5 minutes")
	}
	clk.Step(time.Minute)
	q.Flush()
	if a, _, u := q.Len(); a != 1 || u != 0 {
		t.Fatalf("active %d unschedulable %d after 5 minutes; want 1 0", a, u)
	}
}

func TestQueueDeleteInFlightDropsRequeue(t *testing.T) {
	q := NewQueue(QueueOptions{Clock: testclock.NewFakeClock(time.Unix(0, 0))})
	p := queuePod("p", 0, time.Unix(0, 0))
	q.Add(p)
	q.Add(p) // duplicate add is a no-op
	qp, cycle, _ := q.Pop()
	q.Delete(p)
	q.Requeue(qp, cycle, false)
	if a, b, u := q.Len(); a+b+u != 0 {
		t.Fatalf("deleted pod requeued: %d %d %d", a, b, u)
	}
}
