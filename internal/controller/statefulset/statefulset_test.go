package statefulset

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	c        *Controller
	clock    *clocktesting.FakeClock
	recorder *events.FakeRecorder
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	f := &fixture{t: t, client: client, factory: informers.NewSharedInformerFactory(client, 0),
		clock: clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)),
		// Room for every event a test records without draining.
		recorder: events.NewFakeRecorder(1000)}
	apps, core := f.factory.Apps().V1(), f.factory.Core().V1()
	f.c = New(Config{Client: client, StatefulSets: apps.StatefulSets(), Pods: core.Pods(),
		Claims: core.PersistentVolumeClaims(), Revisions: apps.ControllerRevisions(),
		Recorder: f.recorder, Clock: f.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.refresh()
	return f
}

// refresh copies what the fake API holds into the listers' caches, as
// the informers would.
func (f *fixture) refresh() {
	f.t.Helper()
	ctx := context.Background()
	ns := metav1.NamespaceAll
	sets, _ := f.client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	pods, _ := f.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	pvcs, _ := f.client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	revs, _ := f.client.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{})
	replace := func(inf cache.SharedIndexInformer, items []any) {
		if err := inf.GetIndexer().Replace(items, ""); err != nil {
			f.t.Fatal(err)
		}
	}
	var a []any
	for i := range sets.Items {
		a = append(a, &sets.Items[i])
	}
	replace(f.c.informers[0], a)
	a = nil
	for i := range pods.Items {
		a = append(a, &pods.Items[i])
	}
	replace(f.c.informers[1], a)
	a = nil
	for i := range pvcs.Items {
		a = append(a, &pvcs.Items[i])
	}
	replace(f.c.informers[2], a)
	a = nil
	for i := range revs.Items {
		a = append(a, &revs.Items[i])
	}
	replace(f.c.informers[3], a)
}

// sync runs Sync for ns/web and refreshes the caches.
func (f *fixture) sync() {
	f.t.Helper()
	if _, err := f.c.Sync(context.Background(), "ns/web"); err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
	f.refresh()
}

// events drains the events recorded so far, oldest first.
func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// wantEvents fails the test unless the events recorded since the last
// drain are exactly want, in order.
func (f *fixture) wantEvents(step string, want ...string) {
	f.t.Helper()
	if got := f.events(); !slices.Equal(got, want) {
		f.t.Errorf("%s: events\n\t%s\nwant\n\t%s", step, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// setPhase sets the named pod's phase, as its kubelet would.
func (f *fixture) setPhase(name string, phase corev1.PodPhase) {
	f.t.Helper()
	p, err := f.client.CoreV1().Pods("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Status.Phase = phase
	if _, err := f.client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.refresh()
}

func (f *fixture) podNames() []string {
	pods, _ := f.c.pods.Pods("ns").List(labels.Everything())
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) set() *appsv1.StatefulSet {
	s, err := f.client.AppsV1().StatefulSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// markReady sets the named pods Running and Ready.
func (f *fixture) markReady(names ...string) {
	f.t.Helper()
	for _, n := range names {
		p, err := f.client.CoreV1().Pods("ns").Get(context.Background(), n, metav1.GetOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(f.clock.Now())}}
		if _, err := f.client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.refresh()
}

func (f *fixture) updateSet(mut func(*appsv1.StatefulSet)) {
	s := f.set()
	mut(s)
	s.Generation++
	if _, err := f.client.AppsV1().StatefulSets("ns").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	f.refresh()
}

func newSet(n int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: types.UID("set-uid"), Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(n),
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ServiceName:         "web-svc",
			PodManagementPolicy: policy,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
			RevisionHistoryLimit: ptr.To[int32](10),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
}

func TestOrderedReadyScaleUp(t *testing.T) {
	f := newFixture(t, newSet(3, appsv1.OrderedReadyPodManagement))
	f.sync()
	if got, want := f.podNames(), []string{"web-0"}; !slices.Equal(got, want) {
		t.Fatalf("after first sync pods %v; want %v", got, want)
	}
	f.sync()
	if got := f.podNames(); len(got) != 1 {
		t.Fatalf("created %v before web-0 was ready", got)
	}
	f.markReady("web-0")
	f.sync()
	if got, want := f.podNames(), []string{"web-0", "web-1"}; !slices.Equal(got, want) {
		t.Fatalf("pods %v; want %v", got, want)
	}

	p, _ := f.c.pods.Pods("ns").Get("web-1")
	if p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "web-svc" {
		t.Errorf("hostname %q subdomain %q; want web-1, web-svc", p.Spec.Hostname, p.Spec.Subdomain)
	}
	if p.Labels[appsv1.StatefulSetPodNameLabel] != "web-1" || p.Labels[appsv1.PodIndexLabel] != "1" {
		t.Errorf("identity labels %v", p.Labels)
	}
	st := f.set().Status
	if p.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision || st.UpdateRevision == "" {
		t.Errorf("pod revision %q; status update revision %q", p.Labels[appsv1.ControllerRevisionHashLabelKey], st.UpdateRevision)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-1" {
		t.Errorf("volumes %+v; want claim data-web-1", p.Spec.Volumes)
	}
	if _, err := f.c.claims.PersistentVolumeClaims("ns").Get("data-web-1"); err != nil {
		t.Errorf("claim data-web-1: %v", err)
	}
	if st.Replicas != 2 || st.ReadyReplicas != 1 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v; want replicas 2, ready 1, observedGeneration 1", st)
	}
}

func TestParallelAndStartOrdinal(t *testing.T) {
	set := newSet(3, appsv1.ParallelPodManagement)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	f := newFixture(t, set)
	f.sync()
	if got, want := f.podNames(), []string{"web-5", "web-6", "web-7"}; !slices.Equal(got, want) {
		t.Fatalf("pods %v; want %v", got, want)
	}
}

func TestScaleDownHighestFirst(t *testing.T) {
	f := newFixture(t, newSet(3, appsv1.ParallelPodManagement))
	f.sync()
	f.markReady("web-0", "web-1", "web-2")
	f.updateSet(func(s *appsv1.StatefulSet) {
		s.Spec.Replicas = ptr.To[int32](1)
		s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	})
	f.sync()
	if got, want := f.podNames(), []string{"web-0", "web-1"}; !slices.Equal(got, want) {
		t.Fatalf("after one sync pods %v; want %v", got, want)
	}
	f.sync()
	if got, want := f.podNames(), []string{"web-0"}; !slices.Equal(got, want) {
		t.Fatalf("after two syncs pods %v; want %v", got, want)
	}
}

func TestPartitionedRollingUpdate(t *testing.T) {
	f := newFixture(t, newSet(3, appsv1.OrderedReadyPodManagement))
	for range 3 {
		f.sync()
		f.markReady(f.podNames()...)
	}
	f.sync()
	old := f.set().Status
	if old.CurrentRevision != old.UpdateRevision || old.CurrentReplicas != 3 {
		t.Fatalf("before update: status %+v", old)
	}
	f.updateSet(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "img:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](2)
	})
	f.sync() // deletes web-2
	if got, want := f.podNames(), []string{"web-0", "web-1"}; !slices.Equal(got, want) {
		t.Fatalf("pods %v; want %v", got, want)
	}
	f.sync() // recreates web-2 at the new revision
	f.markReady("web-2")
	f.sync()
	f.sync()
	st := f.set().Status
	if st.UpdateRevision == old.UpdateRevision || st.CurrentRevision != old.CurrentRevision {
		t.Fatalf("revisions current %q update %q; want current %q and a new update", st.CurrentRevision, st.UpdateRevision, old.CurrentRevision)
	}
	for _, n := range []string{"web-0", "web-1", "web-2"} {
		p, err := f.c.pods.Pods("ns").Get(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		want := old.CurrentRevision
		if n == "web-2" {
			want = st.UpdateRevision
		}
		if got := p.Labels[appsv1.ControllerRevisionHashLabelKey]; got != want {
			t.Errorf("%s at revision %q; want %q", n, got, want)
		}
	}
	if st.UpdatedReplicas != 1 || st.CurrentReplicas != 2 || st.ReadyReplicas != 3 {
		t.Errorf("status %+v; want updated 1, current 2, ready 3", st)
	}
	revs, _ := f.c.revisions.ControllerRevisions("ns").List(labels.Everything())
	if len(revs) != 2 {
		t.Errorf("%d revisions; want 2", len(revs))
	}

	// Dropping the partition finishes the rollout; the new revision
	// becomes current.
	f.updateSet(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
	for i := 0; i < 8; i++ {
		f.sync()
		f.markReady(f.podNames()...)
	}
	st = f.set().Status
	if st.CurrentRevision != st.UpdateRevision || st.UpdatedReplicas != 3 || st.CurrentReplicas != 3 {
		t.Errorf("after full rollout status %+v", st)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	set := newSet(1, appsv1.ParallelPodManagement)
	set.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	f := newFixture(t, set)
	for i := 2; i <= 5; i++ {
		f.sync()
		f.markReady(f.podNames()...)
		f.sync()
		f.updateSet(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("img:%d", i) })
	}
	for range 4 {
		f.sync()
		f.markReady(f.podNames()...)
	}
	revs, _ := f.c.revisions.ControllerRevisions("ns").List(labels.Everything())
	// The live revision plus one old one.
	if len(revs) != 2 {
		var names []string
		for _, r := range revs {
			names = append(names, fmt.Sprintf("%s@%d", r.Name, r.Revision))
		}
		t.Errorf("revisions %v; want 2", names)
	}
}

func TestClaimOwners(t *testing.T) {
	set := newSet(1, "")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", UID: "pod-uid"}}
	setRef := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", UID: "set-uid"}
	podRef := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: "pod-uid"}
	stalePodRef := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "web-0", UID: "old"}
	retain, del := appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	tests := []struct {
		name                string
		whenDeleted, scaled appsv1.PersistentVolumeClaimRetentionPolicyType
		condemned           bool
		refs, want          []metav1.OwnerReference
	}{
		{name: "retain retain drops refs", whenDeleted: retain, scaled: retain, refs: []metav1.OwnerReference{setRef, podRef}},
		{name: "delete on set deletion", whenDeleted: del, scaled: retain, want: []metav1.OwnerReference{setRef}},
		{name: "scaled delete, kept pod", whenDeleted: retain, scaled: del, refs: []metav1.OwnerReference{podRef}},
		{name: "scaled delete, condemned pod", whenDeleted: retain, scaled: del, condemned: true, want: []metav1.OwnerReference{podRef}},
		{name: "both delete, condemned: pod only", whenDeleted: del, scaled: del, condemned: true, refs: []metav1.OwnerReference{setRef}, want: []metav1.OwnerReference{podRef}},
		{name: "stale pod ref replaced", whenDeleted: retain, scaled: del, condemned: true, refs: []metav1.OwnerReference{stalePodRef}, want: []metav1.OwnerReference{podRef}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := set.DeepCopy()
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: tc.whenDeleted, WhenScaled: tc.scaled}
			got, _ := claimOwners(tc.refs, s, pod, tc.condemned)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestOrdinalOf(t *testing.T) {
	set := newSet(1, "")
	for name, want := range map[string]int{"web-0": 0, "web-12": 12, "web-": -1, "web-01": -1, "web-x": -1, "webby-1": -1, "web-1-2": -1} {
		if got := ordinalOf(set, name); got != want {
			t.Errorf("ordinalOf(%q) = %d; want %d", name, got, want)
		}
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t, newSet(2, appsv1.ParallelPodManagement))
	f.sync()
	f.wantEvents("scale up",
		"Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful",
		"Normal SuccessfulCreate create Claim data-web-1 Pod web-1 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-1 in StatefulSet web successful")

	f.setPhase("web-1", corev1.PodFailed)
	f.sync()
	f.wantEvents("failed pod",
		"Warning RecreatingFailedPod StatefulSet ns/web is recreating failed Pod web-1",
		"Normal SuccessfulDelete delete Pod web-1 in StatefulSet web successful")
	f.sync()
	// The claim outlives the pod: only the pod is created again.
	f.wantEvents("replacement", "Normal SuccessfulCreate create Pod web-1 in StatefulSet web successful")

	f.setPhase("web-0", corev1.PodSucceeded)
	f.sync()
	f.wantEvents("succeeded pod",
		"Normal RecreatingTerminatedPod StatefulSet ns/web is recreating terminated Pod web-0",
		"Normal SuccessfulDelete delete Pod web-0 in StatefulSet web successful")
	f.sync()
	f.wantEvents("replacement", "Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful")

	f.updateSet(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	f.sync()
	f.wantEvents("scale down", "Normal SuccessfulDelete delete Pod web-1 in StatefulSet web successful")
	f.sync()
	f.wantEvents("steady state")
}

func TestIdentityRepairEvent(t *testing.T) {
	set := newSet(1, appsv1.ParallelPodManagement)
	// OnDelete: the pod, at no known revision, is not rolled.
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	// web-0 as an older controller left it: owned, without its
	// identity labels or claim.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0",
		Labels:          map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind)}}}
	f := newFixture(t, set, pod)
	f.sync()
	f.wantEvents("repair",
		"Normal SuccessfulUpdate update Pod web-0 in StatefulSet web successful",
		"Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success")
}

func TestFailureEvents(t *testing.T) {
	boom := func(verb, resource string) func(*fixture) {
		return func(f *fixture) {
			f.client.PrependReactor(verb, resource, func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("boom")
			})
		}
	}
	tests := []struct {
		name    string
		prepare func(*fixture) // before the failing sync
		fail    func(*fixture)
		want    []string
	}{
		{
			name: "claim create",
			fail: boom("create", "persistentvolumeclaims"),
			want: []string{
				"Warning FailedCreate create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: boom",
				"Warning FailedCreate create Pod web-0 in StatefulSet web failed error: create claim data-web-0: boom",
			},
		},
		{
			name: "pod create",
			fail: boom("create", "pods"),
			want: []string{
				"Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success",
				"Warning FailedCreate create Pod web-0 in StatefulSet web failed error: boom",
			},
		},
		{
			name: "pod delete",
			prepare: func(f *fixture) {
				f.sync()
				f.setPhase("web-0", corev1.PodFailed)
				f.events()
			},
			fail: boom("delete", "pods"),
			want: []string{
				"Warning RecreatingFailedPod StatefulSet ns/web is recreating failed Pod web-0",
				"Warning FailedDelete delete Pod web-0 in StatefulSet web failed error: boom",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newSet(1, appsv1.ParallelPodManagement))
			if tc.prepare != nil {
				tc.prepare(f)
			}
			tc.fail(f)
			if _, err := f.c.Sync(context.Background(), "ns/web"); err == nil {
				t.Fatal("Sync succeeded; want the injected error")
			}
			f.wantEvents(tc.name, tc.want...)
		})
	}
}
