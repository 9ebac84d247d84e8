package podgc

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

func TestPass(t *testing.T) {
	now := time.Now()
	pod := func(name, node string, phase corev1.PodPhase, age time.Duration) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	}
	pods := []*corev1.Pod{
		pod("old-done", "n1", corev1.PodSucceeded, 3*time.Hour),
		pod("new-done", "n1", corev1.PodFailed, time.Hour),
		pod("orphan", "gone", corev1.PodRunning, time.Hour),
		pod("live", "n1", corev1.PodRunning, time.Hour),
	}
	n1 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	client := fake.NewClientset(n1, pods[0], pods[1], pods[2], pods[3])
	f := informers.NewSharedInformerFactory(client, 0)
	clk := testingclock.NewFakeClock(now)
	c := New(Config{Client: client, Pods: f.Core().V1().Pods(), Nodes: f.Core().V1().Nodes(), Threshold: 1,
		Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(n1)
	for _, p := range pods {
		_ = f.Core().V1().Pods().Informer().GetIndexer().Add(p)
	}
	exists := func(name string) bool {
		_, err := client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}
	if err := c.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists("old-done") || !exists("new-done") {
		t.Fatalf("threshold 1: old-done exists %v, new-done exists %v; want false, true", exists("old-done"), exists("new-done"))
	}
	if !exists("orphan") {
		t.Fatal("orphan deleted before the quarantine")
	}
	clk.Step(DefaultQuarantine)
	if err := c.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists("orphan") || !exists("live") {
		t.Fatalf("after quarantine: orphan exists %v, live exists %v; want false, true", exists("orphan"), exists("live"))
	}
}
