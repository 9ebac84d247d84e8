package nodelifecycle

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func newTest(t *testing.T, clk *testingclock.FakeClock, objs ...runtime.Object) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	t.Helper()
	client := fake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(client, 0)
	c := New(Config{Client: client, Nodes: f.Core().V1().Nodes(), Leases: f.Coordination().V1().Leases(),
		Pods: f.Core().V1().Pods(), Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Node:
			_ = f.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			_ = f.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	return c, client, f
}

func node(ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: taints}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	}
	return n
}

func TestSyncNodeTaints(t *testing.T) {
	notReadyNS := corev1.Taint{Key: TaintNotReady, Effect: corev1.TaintEffectNoSchedule}
	custom := corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		node *corev1.Node
		want []string
	}{
		{"ready node loses admission taint", node(corev1.ConditionTrue, notReadyNS, custom), []string{"dedicated:NoSchedule"}},
		{"unreported node keeps it", node("", notReadyNS), []string{TaintNotReady + ":NoSchedule"}},
		{"not ready node gets both effects", node(corev1.ConditionFalse), []string{TaintNotReady + ":NoSchedule", TaintNotReady + ":NoExecute"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(time.Now())
			c, client, _ := newTest(t, clk, tt.node)
			if _, err := c.SyncNode(context.Background(), "n1"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			var keys []string
			for _, tt := range got.Spec.Taints {
				keys = append(keys, tt.Key+":"+string(tt.Effect))
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("taints = %v; want %v", keys, tt.want)
			}
			for i := range keys {
				if keys[i] != tt.want[i] {
					t.Fatalf("taints = %v; want %v", keys, tt.want)
				}
			}
		})
	}
}

func TestSyncNodeConditionTaints(t *testing.T) {
	withConds := func(ready corev1.ConditionStatus, conds map[corev1.NodeConditionType]corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
		n := node(ready, taints...)
		for _, typ := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure, corev1.NodeNetworkUnavailable} {
			if st, ok := conds[typ]; ok {
				n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: typ, Status: st})
			}
		}
		return n
	}
	disk := corev1.Taint{Key: TaintDiskPressure, Effect: corev1.TaintEffectNoSchedule}
	custom := corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		node *corev1.Node
		want []string
	}{
		{"disk pressure taints", withConds(corev1.ConditionTrue, map[corev1.NodeConditionType]corev1.ConditionStatus{
			corev1.NodeMemoryPressure: corev1.ConditionFalse, corev1.NodeDiskPressure: corev1.ConditionTrue,
		}), []string{TaintDiskPressure + ":NoSchedule"}},
		{"disk pressure over removes the taint", withConds(corev1.ConditionTrue, map[corev1.NodeConditionType]corev1.ConditionStatus{
			corev1.NodeDiskPressure: corev1.ConditionFalse,
		}, disk, custom), []string{"dedicated:NoSchedule"}},
		{"taint kept while pressure lasts", withConds(corev1.ConditionTrue, map[corev1.NodeConditionType]corev1.ConditionStatus{
			corev1.NodeDiskPressure: corev1.ConditionTrue,
		}, custom, disk), []string{"dedicated:NoSchedule", TaintDiskPressure + ":NoSchedule"}},
		{"every pressure", withConds(corev1.ConditionTrue, map[corev1.NodeConditionType]corev1.ConditionStatus{
			corev1.NodeMemoryPressure: corev1.ConditionTrue, corev1.NodeDiskPressure: corev1.ConditionTrue,
			corev1.NodePIDPressure: corev1.ConditionTrue, corev1.NodeNetworkUnavailable: corev1.ConditionTrue,
		}), []string{TaintMemoryPressure + ":NoSchedule", TaintDiskPressure + ":NoSchedule", TaintPIDPressure + ":NoSchedule", TaintNetworkUnavailable + ":NoSchedule"}},
		{"unknown pressure is no pressure", withConds(corev1.ConditionUnknown, map[corev1.NodeConditionType]corev1.ConditionStatus{
			corev1.NodeDiskPressure: corev1.ConditionUnknown,
		}, disk), []string{TaintUnreachable + ":NoSchedule", TaintUnreachable + ":NoExecute"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client, _ := newTest(t, testingclock.NewFakeClock(time.Now()), tt.node)
			if _, err := c.SyncNode(context.Background(), "n1"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			var keys []string
			for _, taint := range got.Spec.Taints {
				keys = append(keys, taint.Key+":"+string(taint.Effect))
			}
			if strings.Join(keys, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("taints = %v; want %v", keys, tt.want)
			}
		})
	}
}

func TestSyncNodeGracePeriod(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	c, client, _ := newTest(t, clk, node(corev1.ConditionTrue))
	res, err := c.SyncNode(context.Background(), "n1")
	if err != nil || res.RequeueAfter != DefaultGracePeriod {
		t.Fatalf("first sync: %v, requeue %v; want requeue %v", err, res.RequeueAfter, DefaultGracePeriod)
	}
	clk.Step(DefaultGracePeriod)
	if _, err := c.SyncNode(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	r := readyCondition(got)
	if r.Status != corev1.ConditionUnknown || r.Reason != ReasonUnknown || r.Message != MessageUnknown {
		t.Fatalf("ready = %+v; want Unknown/%s", r, ReasonUnknown)
	}
}

func TestEvictionDelay(t *testing.T) {
	now := time.Now()
	added := metav1.NewTime(now.Add(-100 * time.Second))
	n := node(corev1.ConditionUnknown, corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added})
	tol := func(secs *int64) []corev1.Toleration {
		return []corev1.Toleration{{Key: TaintUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}}
	}
	tests := []struct {
		name  string
		tols  []corev1.Toleration
		wait  time.Duration
		evict bool
	}{
		{"no toleration", nil, 0, true},
		{"300s", tol(ptr.To[int64](300)), 200 * time.Second, true},
		{"50s passed", tol(ptr.To[int64](50)), 0, true},
		{"forever", tol(nil), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: tt.tols}}
			wait, evict := evictionDelay(pod, n, now)
			if wait != tt.wait || evict != tt.evict {
				t.Fatalf("got %v %v; want %v %v", wait, evict, tt.wait, tt.evict)
			}
		})
	}
}
