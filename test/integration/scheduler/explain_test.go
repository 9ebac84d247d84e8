package scheduler

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler"
)

// TestExplainFromAPI dry-runs the scheduler from a separate client (as
// `skiff explain pod` does) while the real scheduler runs: per node verdicts
// for an unschedulable pod, and for a bound pod an answer that does not
// count the pod against its own node.
func TestExplainFromAPI(t *testing.T) {
	e := start(t, nil)
	e.node("small", 500)
	e.node("medium", 1500)
	e.node("tainted", 8000, taint("key", "value", corev1.TaintEffectNoSchedule))

	e.pod("web", 1000)
	if node := e.waitBound("web"); node != "medium" {
		t.Fatalf("web bound to %s; want medium (the only node it fits)", node)
	}
	e.pod("huge", 4000)
	e.waitUnschedulable("huge")

	explain := func(name string) (*scheduler.Explanation, *corev1.Pod) {
		t.Helper()
		pod, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := scheduler.ExplainFromAPI(context.Background(), e.client, nil, pod)
		if err != nil {
			t.Fatalf("ExplainFromAPI(%s): %v", name, err)
		}
		return ex, pod
	}
	verdicts := func(ex *scheduler.Explanation) map[string]string {
		m := map[string]string{}
		for _, n := range ex.Nodes {
			m[n.Node] = n.Filter + ":" + strings.Join(n.Reasons, ",")
		}
		return m
	}

	ex, _ := explain("huge")
	if ex.Node != "" || ex.Total != 3 || ex.Examined != 3 {
		t.Errorf("huge: node %q, %d/%d examined; want none, 3/3", ex.Node, ex.Examined, ex.Total)
	}
	wantMsg := "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu."
	if ex.Message != wantMsg {
		t.Errorf("huge: message %q; want %q", ex.Message, wantMsg)
	}
	got := verdicts(ex)
	want := map[string]string{
		"small":   "NodeResourcesFit:Insufficient cpu",
		"medium":  "NodeResourcesFit:Insufficient cpu",
		"tainted": "TaintToleration:node(s) had untolerated taint {key: value}",
	}
	for n, v := range want {
		if got[n] != v {
			t.Errorf("huge on %s: got %q; want %q", n, got[n], v)
		}
	}

	ex, pod := explain("web")
	if ex.Node != "medium" {
		t.Fatalf("web: best node %q; want medium (its own 1000m must not count against it)\n%s", ex.Node, ex)
	}
	var scored bool
	for _, n := range ex.Nodes {
		if n.Node == "medium" {
			scored = n.Filter == "" && len(n.Scores) > 0
		}
	}
	if !scored {
		t.Errorf("web: medium has no per-plugin scores (a single feasible node is still scored in a dry run)\n%s", ex)
	}

	var b strings.Builder
	if err := scheduler.WriteExplanation(&b, ex, pod.Spec.NodeName, true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"Bound to:  medium\n", "Best node: medium (1 feasible of 3 nodes)\n", "NodeResourcesFit*1", "TaintToleration*3"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}
