package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestScheduledEventAndFailureMessage checks the Scheduled event, the exact
// Unschedulable condition and FailedScheduling event text, taints, the
// explanation, and that a pending pod is placed as soon as a node is added.
func TestScheduledEventAndFailureMessage(t *testing.T) {
	e := start(t, nil)
	e.node("small-1", 500)
	e.node("small-2", 500)
	for i := 1; i <= 3; i++ {
		e.node(fmt.Sprintf("tainted-%d", i), 8000, taint("key", "value", corev1.TaintEffectNoSchedule))
	}

	e.pod("fits", 100)
	node := e.waitBound("fits")
	if !strings.HasPrefix(node, "small-") {
		t.Fatalf("fits on %s; want a small node (the others are tainted)", node)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		evs, err := e.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "fits").String(),
		})
		if err != nil {
			return false, err.Error()
		}
		want := "Successfully assigned default/fits to " + node
		for _, ev := range evs.Items {
			if ev.Reason == "Scheduled" && ev.Message == want && ev.Type == corev1.EventTypeNormal {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no Scheduled event %q in %d events", want, len(evs.Items))
	})

	e.pod("big", 1000)
	msg := e.waitUnschedulable("big")
	want := "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {key: value}. " +
		"preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
	if msg != want {
		t.Fatalf("condition message\n got %q\nwant %q", msg, want)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		evs, err := e.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "big").String(),
		})
		if err != nil {
			return false, err.Error()
		}
		for _, ev := range evs.Items {
			if ev.Reason == "FailedScheduling" && ev.Message == want && ev.Type == corev1.EventTypeWarning {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no FailedScheduling event in %d events", len(evs.Items))
	})
	if ex, ok := e.sched.Explain("default", "big"); !ok || len(ex.Nodes) != 5 || ex.Nodes[0].Filter == "" {
		t.Fatalf("explanation of big: %+v, %v; want 5 rejected nodes", ex, ok)
	}

	// A tolerating pod goes to a tainted node (the small ones lack cpu).
	e.pod("tolerant", 1000, tolerate("key"))
	if node := e.waitBound("tolerant"); !strings.HasPrefix(node, "tainted-") {
		t.Fatalf("tolerant on %s; want a tainted node", node)
	}

	// A pod that fits nowhere is scheduled as soon as a node is added.
	e.node("late", 4000)
	start := time.Now()
	if node := e.waitBound("big"); node != "late" {
		t.Fatalf("big on %s; want late", node)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("big scheduled %v after the node was added; want < 3s", d)
	}
}

func TestSpreadAndAffinity(t *testing.T) {
	e := start(t, nil)
	for _, z := range []string{"a", "b", "c"} {
		for i := 1; i <= 2; i++ {
			e.node(fmt.Sprintf("node-%s%d", z, i), 4000, labels(corev1.LabelTopologyZone, "zone-"+z))
		}
	}
	spread := func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}
	}
	zones := map[string]int{}
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("web-%d", i)
		e.pod(name, 100, podLabels("app", "web"), spread)
		node := e.waitBound(name)
		zones[node[:len("node-a")]]++
	}
	for z, n := range zones {
		if n != 2 {
			t.Fatalf("zone counts %v (%s has %d); want 2 per zone", zones, z, n)
		}
	}

	// Required anti-affinity on hostname: one per node, the 7th fails.
	anti := affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "solo"}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}})
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("solo-%d", i)
		e.pod(name, 100, podLabels("app", "solo"), anti)
		node := e.waitBound(name)
		if seen[node] {
			t.Fatalf("two solo pods on %s", node)
		}
		seen[node] = true
	}
	e.pod("solo-6", 100, podLabels("app", "solo"), anti)
	msg := e.waitUnschedulable("solo-6")
	if !strings.HasPrefix(msg, "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules.") {
		t.Fatalf("solo-6 message %q", msg)
	}

	// Required affinity: follow the db pod to its node's zone.
	e.pod("db", 100, podLabels("app", "db"))
	dbNode := e.waitBound("db")
	e.pod("cache", 100, affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}))
	if node := e.waitBound("cache"); node != dbNode {
		t.Fatalf("cache on %s; want db's node %s", node, dbNode)
	}
}

func TestPreemptionRespectsPDB(t *testing.T) {
	e := start(t, nil)
	ctx := context.Background()
	e.node("n1", 1000)
	e.node("n2", 1000)
	low := e.priority(10)
	e.pod("guarded", 1000, podLabels("app", "guarded"), low, affinity(nodeIs("n1")))
	e.pod("plain", 1000, podLabels("app", "plain"), low, affinity(nodeIs("n2")))
	e.waitBound("guarded")
	e.waitBound("plain")
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "guard"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptrTo(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
		},
	}
	if _, err := e.client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Let the PDB reach the scheduler's informer.
	time.Sleep(300 * time.Millisecond)

	e.pod("vip", 1000, e.priority(1000))
	if node := e.waitBound("vip"); node != "n2" {
		t.Fatalf("vip on %s; want n2 (n1's pod is guarded by a PDB)", node)
	}
	if _, err := e.client.CoreV1().Pods("default").Get(ctx, "plain", metav1.GetOptions{}); err == nil {
		t.Fatalf("victim plain still exists")
	}
	if _, err := e.client.CoreV1().Pods("default").Get(ctx, "guarded", metav1.GetOptions{}); err != nil {
		t.Fatalf("guarded pod: %v; want it kept", err)
	}
}

func nodeIs(name string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{name}}},
		}}},
	}}
}

func ptrTo[T any](v T) *T { return &v }

// TestNoDoubleBooking races 1,000 pods for 10 nodes that hold 830 of them.
func TestNoDoubleBooking(t *testing.T) {
	e := start(t, nil)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		e.node(fmt.Sprintf("n%d", i), 10000)
	}
	var pods []*corev1.Pod
	for i := 0; i < 1000; i++ {
		pods = append(pods, newPod("default", fmt.Sprintf("p%04d", i), 120))
	}
	createPods(t, e.client, pods, 16)
	var bound int
	eventually(t, 45*time.Second, func() (bool, string) {
		list, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		bound = 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return bound == 830, fmt.Sprintf("%d pods bound; want 830", bound)
	})
	time.Sleep(500 * time.Millisecond)
	list, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int64{}
	for _, p := range list.Items {
		if p.Spec.NodeName != "" {
			used[p.Spec.NodeName] += p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
		}
	}
	total := 0
	for n, m := range used {
		if m > 10000 {
			t.Errorf("node %s has %dm requested; allocatable 10000m", n, m)
		}
		total += int(m / 120)
	}
	if total != 830 {
		t.Fatalf("%d pods bound after settling; want 830", total)
	}
}
