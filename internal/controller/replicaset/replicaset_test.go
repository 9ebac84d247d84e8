package replicaset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	ctrl   *Controller
	inf    informers.SharedInformerFactory
}

// newFixture builds a controller whose caches hold objs (and whose fake
// API holds them too). rc selects the ReplicationController flavour.
func newFixture(t *testing.T, rc bool, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	var seq atomic.Int64
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, seq.Add(1))
		}
		return false, nil, nil
	})
	inf := informers.NewSharedInformerFactory(client, 0)
	cfg := Config{
		Client:   client,
		Pods:     inf.Core().V1().Pods(),
		Recorder: events.NewFakeRecorder(100),
		Clock:    clocktesting.NewFakeClock(t0),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if rc {
		cfg.ReplicationControllers = inf.Core().V1().ReplicationControllers()
	} else {
		cfg.ReplicaSets = inf.Apps().V1().ReplicaSets()
	}
	ctrl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Pod:
			err = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			err = inf.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.ReplicationController:
			err = inf.Core().V1().ReplicationControllers().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{client: client, clock: cfg.Clock.(*clocktesting.FakeClock), ctrl: ctrl, inf: inf}
}

func replicaSet(replicas int32, minReady int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "rs-uid", Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: minReady,
			Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"a": "b"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, UID: types.UID(name + "-uid"),
		Labels:            map[string]string{"app": "web", "tier": "front"},
		CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
	}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ownedBy(uid types.UID) podOpt {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: uid, Controller: &yes}}
	}
}

func readySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-d))}}
	}
}

func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func created(at time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}

// actions lists verb/resource[/name] of the writes the controller made.
func actions(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		switch a.GetVerb() {
		case "create":
			out = append(out, "create/"+a.GetResource().Resource)
		case "delete":
			out = append(out, "delete/"+a.GetResource().Resource+"/"+a.(clienttesting.DeleteAction).GetName())
		case "patch":
			out = append(out, "patch/"+a.GetResource().Resource+"/"+a.(clienttesting.PatchAction).GetName())
		case "update":
			out = append(out, "update/"+a.GetResource().Resource+"/"+a.GetSubresource())
		}
	}
	return out
}

func lastStatus(t *testing.T, c *fake.Clientset) appsv1.ReplicaSetStatus {
	t.Helper()
	acts := c.Actions()
	for i := len(acts) - 1; i >= 0; i-- {
		if u, ok := acts[i].(clienttesting.UpdateAction); ok && acts[i].GetVerb() == "update" && u.GetSubresource() == "status" {
			return u.GetObject().(*appsv1.ReplicaSet).Status
		}
	}
	t.Fatal("no status update")
	return appsv1.ReplicaSetStatus{}
}

func TestSync(t *testing.T) {
	rs := replicaSet(2, 0)
	tests := []struct {
		name    string
		rs      *appsv1.ReplicaSet
		pods    []*corev1.Pod
		want    []string
		status  appsv1.ReplicaSetStatus
		wantErr bool
	}{
		{name: "creates missing pods",
			rs:     rs,
			want:   []string{"create/pods", "create/pods", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{ObservedGeneration: 2}},
		{name: "nothing to do",
			rs:     rs,
			pods:   []*corev1.Pod{pod("a", ownedBy("rs-uid"), readySince(time.Minute)), pod("b", ownedBy("rs-uid"))},
			want:   []string{"update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2}},
		{name: "deletes not-ready before ready",
			rs: replicaSet(1, 0),
			pods: []*corev1.Pod{
				pod("ready", ownedBy("rs-uid"), readySince(time.Minute)),
				pod("pending", ownedBy("rs-uid"), created(t0.Add(-2*time.Hour))),
			},
			want:   []string{"delete/pods/pending", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2}},
		{name: "deletes newer first among equals",
			rs: replicaSet(1, 0),
			pods: []*corev1.Pod{
				pod("old", ownedBy("rs-uid"), readySince(time.Minute)),
				pod("new", ownedBy("rs-uid"), readySince(time.Minute), created(t0.Add(-time.Minute))),
			},
			want:   []string{"delete/pods/new", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 2}},
		{name: "adopts matching orphan, ignores others' pods",
			rs: replicaSet(1, 0),
			pods: []*corev1.Pod{
				pod("orphan"),
				pod("foreign", ownedBy("other-uid")),
			},
			want:   []string{"patch/pods/orphan", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ObservedGeneration: 2}},
		{name: "releases owned pod that no longer matches and replaces it",
			rs:     replicaSet(1, 0),
			pods:   []*corev1.Pod{pod("moved", ownedBy("rs-uid"), labelled(map[string]string{"app": "other"}))},
			want:   []string{"patch/pods/moved", "create/pods", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{ObservedGeneration: 2}},
		{name: "finished and terminating pods do not count",
			rs: replicaSet(1, 0),
			pods: []*corev1.Pod{
				pod("done", ownedBy("rs-uid"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
				pod("going", ownedBy("rs-uid"), func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }),
			},
			want:   []string{"create/pods", "update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{ObservedGeneration: 2}},
		{name: "fully labelled counts template labels",
			rs:     replicaSet(1, 0),
			pods:   []*corev1.Pod{pod("partial", ownedBy("rs-uid"), labelled(map[string]string{"app": "web"}))},
			want:   []string{"update/replicasets/status"},
			status: appsv1.ReplicaSetStatus{Replicas: 1, ObservedGeneration: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.rs.DeepCopy()}
			for _, p := range tc.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, false, objs...)
			f.client.ClearActions()
			_, err := f.ctrl.Sync(context.Background(), "ns/web")
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sync: err %v; want error %v", err, tc.wantErr)
			}
			got := slices.DeleteFunc(actions(f.client), func(s string) bool { return s == "" })
			// The live read before adopting is a get, not listed.
			if !slices.Equal(got, tc.want) {
				t.Errorf("actions %v; want %v", got, tc.want)
			}
			if st := lastStatus(t, f.client); !statusEqual(st, tc.status) {
				t.Errorf("status %+v; want %+v", st, tc.status)
			}
		})
	}
}

func TestCreatedPodsFollowTemplate(t *testing.T) {
	f := newFixture(t, false, replicaSet(1, 0))
	if _, err := f.ctrl.Sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	pods, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods; want 1", len(pods.Items))
	}
	p := pods.Items[0]
	ref := metav1.GetControllerOf(&p)
	if p.GenerateName != "web-" || p.Labels["tier"] != "front" || p.Annotations["a"] != "b" ||
		ref == nil || ref.UID != "rs-uid" || ref.Kind != "ReplicaSet" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("pod %+v", p.ObjectMeta)
	}
}

func TestExpectationsStopSecondRound(t *testing.T) {
	f := newFixture(t, false, replicaSet(3, 0))
	ctx := context.Background()
	if _, err := f.ctrl.Sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	// The cache has not seen the pods: a second sync must not create again.
	if _, err := f.ctrl.Sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if got := actions(f.client); slices.Contains(got, "create/pods") {
		t.Errorf("second sync on a stale cache created pods: %v", got)
	}
	// Once the informer reports them, the expectations are met.
	for i := range 3 {
		f.ctrl.podAdded(pod(fmt.Sprint("p", i), ownedBy("rs-uid")))
	}
	if !f.ctrl.exp.satisfied("ns/web") {
		t.Error("expectations not satisfied after three creations observed")
	}
	// And they expire, so a lost event cannot wedge the controller.
	f.ctrl.exp.expectCreations("ns/web", 1)
	f.clock.Step(expectationTTL + time.Second)
	if !f.ctrl.exp.satisfied("ns/web") {
		t.Error("expectations did not expire")
	}
}

func TestMinReadySeconds(t *testing.T) {
	f := newFixture(t, false, replicaSet(1, 10), pod("a", ownedBy("rs-uid"), readySince(4*time.Second)))
	res, err := f.ctrl.Sync(context.Background(), "ns/web")
	if err != nil {
		t.Fatal(err)
	}
	if st := lastStatus(t, f.client); st.ReadyReplicas != 1 || st.AvailableReplicas != 0 {
		t.Errorf("status %+v; want ready 1 available 0", st)
	}
	if res.RequeueAfter < 5*time.Second || res.RequeueAfter > 7*time.Second {
		t.Errorf("RequeueAfter %v; want about 6s", res.RequeueAfter)
	}
	f.clock.Step(res.RequeueAfter)
	st, _ := f.ctrl.calculateStatus(replicaSet(1, 10), []*corev1.Pod{pod("a", ownedBy("rs-uid"), readySince(4*time.Second))}, nil)
	if st.AvailableReplicas != 1 {
		t.Errorf("after minReadySeconds: available %d; want 1", st.AvailableReplicas)
	}
}

func TestCreateFailureSetsReplicaFailure(t *testing.T) {
	f := newFixture(t, false, replicaSet(4, 0))
	calls := 0
	f.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		calls++
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("quota exceeded"))
	})
	if _, err := f.ctrl.Sync(context.Background(), "ns/web"); err == nil {
		t.Fatal("Sync: want error")
	}
	if calls != 1 {
		t.Errorf("%d create calls; slow start should stop after the first failed batch", calls)
	}
	st := lastStatus(t, f.client)
	if c := findCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure); c == nil || c.Reason != ReasonFailedCreate {
		t.Errorf("conditions %+v; want ReplicaFailure FailedCreate", st.Conditions)
	}
	if !f.ctrl.exp.satisfied("ns/web") {
		t.Error("failed creations left expectations pending")
	}
}

func TestSlowStart(t *testing.T) {
	var calls atomic.Int32
	n, err := slowStart(10, func() error {
		if calls.Add(1) > 5 {
			return errors.New("boom")
		}
		return nil
	})
	// Batches 1, 2, 4: the third batch has two failures, so 5 succeed and
	// the batch of 3 is never tried.
	if err == nil || n != 5 || calls.Load() != 7 {
		t.Errorf("slowStart: %d ok, %d calls, err %v; want 5, 7, error", n, calls.Load(), err)
	}
}

func TestReplicationControllerView(t *testing.T) {
	two := int32(2)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "rc-uid", Generation: 1},
		Spec: corev1.ReplicationControllerSpec{Replicas: &two, Selector: map[string]string{"app": "web"},
			Template: &replicaSet(0, 0).Spec.Template},
	}
	f := newFixture(t, true, rc)
	if _, err := f.ctrl.Sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	pods, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods; want 2", len(pods.Items))
	}
	if ref := metav1.GetControllerOf(&pods.Items[0]); ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.UID != "rc-uid" {
		t.Errorf("owner %+v", ref)
	}
	got, _ := f.client.CoreV1().ReplicationControllers("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if got.Status.ObservedGeneration != 1 {
		t.Errorf("rc status %+v", got.Status)
	}
}

func TestDeletionRanking(t *testing.T) {
	now := t0
	mk := func(name string, opts ...podOpt) rankedPod { return newRankedPod(pod(name, opts...), 0, now) }
	unassigned := mk("unassigned")
	notReady := mk("notready", func(p *corev1.Pod) { p.Spec.NodeName = "n"; p.Status.Phase = corev1.PodRunning })
	cheap := mk("cheap", readySince(time.Hour), func(p *corev1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: "-5"} })
	recent := mk("recent", readySince(time.Minute))
	long := mk("long", readySince(time.Hour))
	got := []rankedPod{long, recent, cheap, notReady, unassigned}
	slices.SortStableFunc(got, compareForDeletion)
	var names []string
	for _, r := range got {
		names = append(names, r.pod.Name)
	}
	want := []string{"unassigned", "notready", "cheap", "recent", "long"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v; want %v", names, want)
	}
}
