package daemonset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	c        *Controller
	clock    *clocktesting.FakeClock
	recorder *events.FakeRecorder
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	seq := 0
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			seq++
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, seq)
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{t: t, client: client, clock: clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
		// Room for every event a test records without draining.
		recorder: events.NewFakeRecorder(1000)}
	apps, core := factory.Apps().V1(), factory.Core().V1()
	f.c = New(Config{Client: client, DaemonSets: apps.DaemonSets(), Pods: core.Pods(), Nodes: core.Nodes(),
		Revisions: apps.ControllerRevisions(), Recorder: f.recorder, Clock: f.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.refresh()
	return f
}

// refresh copies the fake API's objects into the caches and clears
// expectations, as the watch events would.
func (f *fixture) refresh() {
	ctx := context.Background()
	ds, _ := f.client.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	nodes, _ := f.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	revs, _ := f.client.AppsV1().ControllerRevisions("").List(ctx, metav1.ListOptions{})
	lists := [][]any{}
	var a []any
	for i := range ds.Items {
		a = append(a, &ds.Items[i])
	}
	lists = append(lists, a)
	a = nil
	for i := range pods.Items {
		a = append(a, &pods.Items[i])
	}
	lists = append(lists, a)
	a = nil
	for i := range nodes.Items {
		a = append(a, &nodes.Items[i])
	}
	lists = append(lists, a)
	a = nil
	for i := range revs.Items {
		a = append(a, &revs.Items[i])
	}
	lists = append(lists, a)
	for i, inf := range f.c.informers {
		if err := inf.GetIndexer().Replace(lists[i], ""); err != nil {
			f.t.Fatal(err)
		}
	}
	f.c.expect.forget("ns/ds")
}

func (f *fixture) sync() {
	f.t.Helper()
	if _, err := f.c.Sync(context.Background(), "ns/ds"); err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
	f.refresh()
}

// podNodes lists the node of every live pod, sorted.
func (f *fixture) podNodes() []string {
	pods, _ := f.c.pods.Pods("ns").List(labels.Everything())
	var out []string
	for _, p := range pods {
		out = append(out, nodeOf(p))
	}
	slices.Sort(out)
	return out
}

// wantEvents fails the test unless the events recorded since the last
// call are exactly want, in order.
func (f *fixture) wantEvents(step string, want ...string) {
	f.t.Helper()
	var got []string
	for len(f.recorder.Events) > 0 {
		got = append(got, <-f.recorder.Events)
	}
	if !slices.Equal(got, want) {
		f.t.Errorf("%s: events\n\t%s\nwant\n\t%s", step, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// setPhase sets the phase of the pod meant for node, as its kubelet
// would, and returns the pod's name.
func (f *fixture) setPhase(node string, phase corev1.PodPhase) string {
	f.t.Helper()
	pods, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	for i := range pods.Items {
		p := &pods.Items[i]
		if nodeOf(p) != node {
			continue
		}
		p.Status.Phase = phase
		if _, err := f.client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
		f.refresh()
		return p.Name
	}
	f.t.Fatalf("no pod for node %s", node)
	return ""
}

func (f *fixture) markAllReady() {
	pods, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	for i := range pods.Items {
		p := &pods.Items[i]
		p.Spec.NodeName = nodeOf(p)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.refresh()
}

func (f *fixture) status() appsv1.DaemonSetStatus {
	ds, err := f.client.AppsV1().DaemonSets("ns").Get(context.Background(), "ds", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds.Status
}

func node(name string, lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
}

func newDS() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"role": "worker"},
					Containers:   []corev1.Container{{Name: "c", Image: "img:1"}},
				},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
		},
	}
}

var worker = map[string]string{"role": "worker"}

func TestOnePodPerEligibleNode(t *testing.T) {
	f := newFixture(t, newDS(),
		node("a", worker),
		node("b", worker, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}),
		node("c", worker, corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}),
		node("d", map[string]string{"role": "other"}),
		node("e", worker, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}),
	)
	f.sync()
	if got, want := f.podNodes(), []string{"a", "b", "e"}; !slices.Equal(got, want) {
		t.Fatalf("pods on %v; want %v", got, want)
	}
	pods, _ := f.c.pods.Pods("ns").List(labels.Everything())
	p := pods[0]
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchFields) != 1 || terms[0].MatchFields[0].Key != "metadata.name" {
		t.Errorf("affinity %+v; want one metadata.name matchFields term", terms)
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Errorf("%d tolerations; want the 6 daemon ones", len(p.Spec.Tolerations))
	}
	if p.Labels[appsv1.ControllerRevisionHashLabelKey] == "" {
		t.Errorf("no revision hash label: %v", p.Labels)
	}
	f.sync() // status counts what the cache shows
	st := f.status()
	if st.DesiredNumberScheduled != 3 || st.CurrentNumberScheduled != 3 || st.NumberReady != 0 || st.UpdatedNumberScheduled != 3 {
		t.Errorf("status %+v", st)
	}
	f.markAllReady()
	f.sync()
	if st := f.status(); st.NumberReady != 3 || st.NumberAvailable != 3 || st.NumberUnavailable != 0 {
		t.Errorf("status after ready %+v", st)
	}
}

func TestNodeChanges(t *testing.T) {
	f := newFixture(t, newDS(), node("a", worker), node("b", worker))
	f.sync()
	ctx := context.Background()
	// b stops matching, a is deleted, c appears.
	if _, err := f.client.CoreV1().Nodes().Update(ctx, node("b", nil), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.CoreV1().Nodes().Create(ctx, node("c", worker), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.sync()
	if got, want := f.podNodes(), []string{"c"}; !slices.Equal(got, want) {
		t.Fatalf("pods on %v; want %v", got, want)
	}
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	f := newFixture(t, newDS(), node("a", worker), node("b", worker), node("c", worker))
	f.sync()
	f.markAllReady()
	ds, _ := f.client.AppsV1().DaemonSets("ns").Get(context.Background(), "ds", metav1.GetOptions{})
	ds.Spec.Template.Spec.Containers[0].Image = "img:2"
	ds.Generation++
	if _, err := f.client.AppsV1().DaemonSets("ns").Update(context.Background(), ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.sync()
	if got := f.podNodes(); len(got) != 2 {
		t.Fatalf("pods on %v; want one old pod deleted", got)
	}
	f.sync() // recreates the missing one, deletes no more
	if got := f.podNodes(); len(got) != 3 {
		t.Fatalf("pods on %v; want 3", got)
	}
	for range 6 {
		f.markAllReady()
		f.sync()
	}
	st := f.status()
	if st.UpdatedNumberScheduled != 3 || st.NumberAvailable != 3 || st.ObservedGeneration != 2 {
		t.Errorf("status %+v; want all updated and available", st)
	}
}

func TestRollingUpdateSurge(t *testing.T) {
	ds := newDS()
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}
	f := newFixture(t, ds, node("a", worker), node("b", worker))
	f.sync()
	f.markAllReady()
	cur, _ := f.client.AppsV1().DaemonSets("ns").Get(context.Background(), "ds", metav1.GetOptions{})
	cur.Spec.Template.Spec.Containers[0].Image = "img:2"
	if _, err := f.client.AppsV1().DaemonSets("ns").Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.sync()
	if got := f.podNodes(); len(got) != 3 {
		t.Fatalf("pods on %v; want one surge pod next to the two old ones", got)
	}
	f.markAllReady()
	f.sync() // the surged node's old pod goes
	if got := f.podNodes(); len(got) != 2 {
		t.Fatalf("pods on %v; want 2", got)
	}
	for range 4 {
		f.markAllReady()
		f.sync()
	}
	if st := f.status(); st.UpdatedNumberScheduled != 2 || st.NumberAvailable != 2 {
		t.Errorf("status %+v", st)
	}
}

func TestPlacement(t *testing.T) {
	affinity := func(op corev1.NodeSelectorOperator, vals ...string) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: op, Values: vals}}}}}}}
	}
	tests := []struct {
		name           string
		spec           func(*corev1.PodSpec)
		node           *corev1.Node
		run, continue_ bool
	}{
		{name: "plain", node: node("n", nil), run: true, continue_: true},
		{name: "affinity in", spec: func(s *corev1.PodSpec) { s.Affinity = affinity(corev1.NodeSelectorOpIn, "z1") }, node: node("n", map[string]string{"zone": "z1"}), run: true, continue_: true},
		{name: "affinity miss", spec: func(s *corev1.PodSpec) { s.Affinity = affinity(corev1.NodeSelectorOpIn, "z2") }, node: node("n", map[string]string{"zone": "z1"})},
		{name: "NoExecute untolerated", node: node("n", nil, corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoExecute})},
		{name: "NoSchedule untolerated", node: node("n", nil, corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}), continue_: true},
		{name: "tolerated", spec: func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpEqual, Value: "v"}}
		}, node: node("n", nil, corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}), run: true, continue_: true},
		{name: "network unavailable needs hostNetwork", node: node("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), continue_: true},
		{name: "hostNetwork tolerates network unavailable", spec: func(s *corev1.PodSpec) { s.HostNetwork = true },
			node: node("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), run: true, continue_: true},
		{name: "memory pressure", node: node("n", nil, corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}), run: true, continue_: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDS()
			ds.Spec.Template.Spec.NodeSelector = nil
			if tc.spec != nil {
				tc.spec(&ds.Spec.Template.Spec)
			}
			run, cont := placement(ds, tc.node)
			if run != tc.run || cont != tc.continue_ {
				t.Errorf("placement = %v, %v; want %v, %v", run, cont, tc.run, tc.continue_)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t, newDS(), node("a", worker), node("b", worker), node("c", worker))
	f.sync()
	f.wantEvents("create",
		"Normal SuccessfulCreate Created pod: ds-1",
		"Normal SuccessfulCreate Created pod: ds-2",
		"Normal SuccessfulCreate Created pod: ds-3")

	failed := f.setPhase("a", corev1.PodFailed)
	f.sync()
	f.wantEvents("failed pod",
		"Warning FailedDaemonPod Found failed daemon pod ns/"+failed+" on node a, will try to kill it",
		"Normal SuccessfulDelete Deleted pod: "+failed)
	f.sync()
	f.wantEvents("replacement", "Normal SuccessfulCreate Created pod: ds-4")

	succeeded := f.setPhase("b", corev1.PodSucceeded)
	f.sync()
	f.wantEvents("succeeded pod",
		"Normal SucceededDaemonPod Found succeeded daemon pod ns/"+succeeded+" on node b, will try to delete it",
		"Normal SuccessfulDelete Deleted pod: "+succeeded)
	f.sync()
	f.wantEvents("replacement", "Normal SuccessfulCreate Created pod: ds-5")

	// A pod on a node that no longer qualifies just goes, failed or not.
	gone := f.setPhase("c", corev1.PodFailed)
	if _, err := f.client.CoreV1().Nodes().Update(context.Background(), node("c", nil), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.sync()
	f.wantEvents("node left", "Normal SuccessfulDelete Deleted pod: "+gone)
	f.sync()
	f.wantEvents("steady state")
}

func TestFailureEvents(t *testing.T) {
	boom := func(f *fixture, verb string) {
		f.client.PrependReactor(verb, "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("boom")
		})
	}
	t.Run("create", func(t *testing.T) {
		f := newFixture(t, newDS(), node("a", worker))
		boom(f, "create")
		if _, err := f.c.Sync(context.Background(), "ns/ds"); err == nil {
			t.Fatal("Sync succeeded; want the injected error")
		}
		f.wantEvents("create", "Warning FailedCreate Error creating: boom")
	})
	t.Run("delete", func(t *testing.T) {
		f := newFixture(t, newDS(), node("a", worker))
		f.sync()
		name := f.setPhase("a", corev1.PodFailed)
		f.wantEvents("setup", "Normal SuccessfulCreate Created pod: "+name)
		boom(f, "delete")
		if _, err := f.c.Sync(context.Background(), "ns/ds"); err == nil {
			t.Fatal("Sync succeeded; want the injected error")
		}
		f.wantEvents("delete",
			"Warning FailedDaemonPod Found failed daemon pod ns/"+name+" on node a, will try to kill it",
			"Warning FailedDelete Error deleting: boom")
	})
	t.Run("selecting all", func(t *testing.T) {
		ds := newDS()
		ds.Spec.Selector = &metav1.LabelSelector{}
		f := newFixture(t, ds, node("a", worker))
		f.sync()
		f.wantEvents("sync", "Warning SelectingAll This daemon set is selecting all pods. A non-empty selector is required.")
		if got := f.podNodes(); len(got) != 0 {
			t.Errorf("pods on %v; want none", got)
		}
	})
}
