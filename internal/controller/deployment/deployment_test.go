package deployment

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func deployment(replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromString("25%"), intstr.FromString("25%")
	ten, deadline := int32(10), int32(600)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(image),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}},
			RevisionHistoryLimit:    &ten,
			ProgressDeadlineSeconds: &deadline,
		},
	}
}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

// replicaSet is an RS of d for image at revision rev, sized and with
// status as given.
func replicaSet(d *appsv1.Deployment, image string, rev string, spec, available int32, age time.Duration) *appsv1.ReplicaSet {
	tmpl := template(image)
	hash := templateHash(&tmpl, nil)
	tmpl.Labels = cloneWith(tmpl.Labels, PodTemplateHashLabel, hash)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "web-" + hash, UID: types.UID("uid-" + hash), Labels: tmpl.Labels,
			CreationTimestamp: metav1.NewTime(t0.Add(-age)),
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			Annotations: map[string]string{RevisionAnnotation: rev,
				DesiredReplicasAnnotation: itoa(replicasOf(d)), MaxReplicasAnnotation: itoa(replicasOf(d) + maxSurge(d))},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &spec, Template: tmpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", PodTemplateHashLabel: hash}}},
		Status: appsv1.ReplicaSetStatus{Replicas: spec, ReadyReplicas: available, AvailableReplicas: available},
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

type fixture struct {
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	ctrl   *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	c := New(Config{
		Client: client, Deployments: inf.Apps().V1().Deployments(), ReplicaSets: inf.Apps().V1().ReplicaSets(),
		Pods: inf.Core().V1().Pods(), Recorder: events.NewFakeRecorder(100), Clock: clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *appsv1.Deployment:
			err = inf.Apps().V1().Deployments().Informer().GetIndexer().Add(o)
		case *appsv1.ReplicaSet:
			err = inf.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{client: client, clock: clk, ctrl: c}
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if _, err := f.ctrl.Sync(context.Background(), "ns/web"); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// rsWrites maps ReplicaSet name (or "new" for a create) to the replicas
// the controller wrote.
func rsWrites(f *fixture) map[string]int32 {
	out := map[string]int32{}
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource != "replicasets" {
			continue
		}
		switch a.GetVerb() {
		case "create":
			rs := a.(clienttesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
			out["new:"+rs.Name] = *rs.Spec.Replicas
		case "update":
			rs := a.(clienttesting.UpdateAction).GetObject().(*appsv1.ReplicaSet)
			out[rs.Name] = *rs.Spec.Replicas
		}
	}
	return out
}

func lastDeploymentStatus(t *testing.T, f *fixture) appsv1.DeploymentStatus {
	t.Helper()
	d, err := f.client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func TestNewDeploymentCreatesReplicaSet(t *testing.T) {
	d := deployment(3, "nginx:1")
	f := newFixture(t, d)
	f.sync(t)
	rss, _ := f.client.AppsV1().ReplicaSets("ns").List(context.Background(), metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Fatalf("%d replica sets; want 1", len(rss.Items))
	}
	rs := rss.Items[0]
	hash := rs.Labels[PodTemplateHashLabel]
	if hash == "" || rs.Name != "web-"+hash || rs.Spec.Template.Labels[PodTemplateHashLabel] != hash || rs.Spec.Selector.MatchLabels[PodTemplateHashLabel] != hash {
		t.Errorf("replica set %s: labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	if *rs.Spec.Replicas != 3 || rs.Annotations[RevisionAnnotation] != "1" || rs.Annotations[DesiredReplicasAnnotation] != "3" || rs.Annotations[MaxReplicasAnnotation] != "4" {
		t.Errorf("replicas %d annotations %v", *rs.Spec.Replicas, rs.Annotations)
	}
	got, _ := f.client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if got.Annotations[RevisionAnnotation] != "1" {
		t.Errorf("deployment annotations %v", got.Annotations)
	}
	if c := getCondition(&got.Status, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewRSCreated {
		t.Errorf("Progressing %+v; want NewReplicaSetCreated", c)
	}
	if c := getCondition(&got.Status, appsv1.DeploymentAvailable); c == nil || c.Reason != ReasonMinimumUnavailable {
		t.Errorf("Available %+v; want MinimumReplicasUnavailable", c)
	}
}

func TestRollingUpdate(t *testing.T) {
	d := deployment(4, "nginx:2") // surge 1, unavailable 1
	old := replicaSet(d, "nginx:1", "1", 4, 4, time.Hour)
	newRS := replicaSet(d, "nginx:2", "2", 1, 0, time.Minute)
	tests := []struct {
		name string
		objs []runtime.Object
		want map[string]int32
	}{
		{name: "new replica set gets the surge pod, old gives the unavailable one",
			objs: []runtime.Object{d, old},
			want: map[string]int32{"new:" + newRS.Name: 1, old.Name: 3}},
		{name: "new pod not yet available: old keeps minAvailable",
			objs: []runtime.Object{d, old, newRS},
			want: map[string]int32{old.Name: 3}},
		{name: "new pod available: old scales down two",
			objs: []runtime.Object{d, old, func() *appsv1.ReplicaSet {
				rs := newRS.DeepCopy()
				rs.Status.AvailableReplicas = 1
				return rs
			}()},
			want: map[string]int32{old.Name: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.objs...)
			f.sync(t)
			got := rsWrites(f)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("writes %v; want %v", got, tc.want)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("writes %v; want %v", got, tc.want)
			}
		})
	}
}

func TestProportionalScaling(t *testing.T) {
	d := deployment(10, "nginx:2") // surge 3 at 10 replicas
	old := replicaSet(d, "nginx:1", "1", 8, 8, time.Hour)
	newRS := replicaSet(d, "nginx:2", "2", 5, 0, time.Minute)
	d.Spec.Replicas = new(int32)
	*d.Spec.Replicas = 20 // surge 5: allowed 25, 12 to add
	f := newFixture(t, d, old, newRS)
	f.sync(t)
	got := rsWrites(f)
	if got[old.Name] != 15 || got[newRS.Name] != 10 {
		t.Errorf("writes %v; want old 15, new 10", got)
	}
}

func TestPausedDoesNotRollOut(t *testing.T) {
	d := deployment(2, "nginx:2")
	d.Spec.Paused = true
	old := replicaSet(deployment(2, "nginx:1"), "nginx:1", "1", 2, 2, time.Hour)
	f := newFixture(t, d, old)
	f.sync(t)
	if got := rsWrites(f); len(got) != 0 {
		t.Errorf("paused deployment wrote replica sets: %v", got)
	}
	if c := getCondition(ptrTo(lastDeploymentStatus(t, f)), appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonPaused || c.Status != corev1.ConditionUnknown {
		t.Errorf("Progressing %+v; want Unknown DeploymentPaused", c)
	}
}

func TestProgressDeadline(t *testing.T) {
	d := deployment(2, "nginx:2")
	old := replicaSet(d, "nginx:1", "1", 1, 1, time.Hour)
	newRS := replicaSet(d, "nginx:2", "2", 2, 0, time.Hour)
	newRS.Status.Replicas = 2
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, "x", metav1.NewTime(t0.Add(-601*time.Second)))}}
	f := newFixture(t, d, old, newRS)
	f.sync(t)
	st := lastDeploymentStatus(t, f)
	if c := getCondition(&st, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonTimedOut || c.Status != corev1.ConditionFalse {
		t.Errorf("Progressing %+v; want False ProgressDeadlineExceeded", c)
	}
}

func TestCompleteRolloutCleansUpHistory(t *testing.T) {
	d := deployment(2, "nginx:4")
	*d.Spec.RevisionHistoryLimit = 1
	newRS := replicaSet(d, "nginx:4", "4", 2, 2, time.Minute)
	rs1 := replicaSet(d, "nginx:1", "1", 0, 0, 3*time.Hour)
	rs2 := replicaSet(d, "nginx:2", "2", 0, 0, 2*time.Hour)
	rs3 := replicaSet(d, "nginx:3", "3", 0, 0, time.Hour)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}
	f := newFixture(t, d, newRS, rs1, rs2, rs3)
	f.sync(t)
	var deleted []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "delete" {
			deleted = append(deleted, a.(clienttesting.DeleteAction).GetName())
		}
	}
	if strings.Join(deleted, ",") != rs1.Name+","+rs2.Name {
		t.Errorf("deleted %v; want revisions 1 and 2", deleted)
	}
	st := lastDeploymentStatus(t, f)
	if c := getCondition(&st, appsv1.DeploymentProgressing); c == nil || c.Reason != ReasonNewRSAvailable {
		t.Errorf("Progressing %+v; want NewReplicaSetAvailable", c)
	}
}

func TestRecreateWaitsForOldPods(t *testing.T) {
	d := deployment(2, "nginx:2")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	old := replicaSet(d, "nginx:1", "1", 0, 0, time.Hour)
	old.Status.Replicas = 1 // a pod still terminating
	f := newFixture(t, d, old)
	f.sync(t)
	if got := rsWrites(f); len(got) != 0 {
		t.Errorf("new replica set before old pods were gone: %v", got)
	}
	old.Status.Replicas = 0
	f = newFixture(t, d, old)
	f.sync(t)
	if got := rsWrites(f); len(got) != 1 {
		t.Errorf("writes %v; want the new replica set at 2", got)
	}
}

func TestTemplateHash(t *testing.T) {
	a, b := template("nginx:1"), template("nginx:2")
	one := int32(1)
	ha, hb, hc := templateHash(&a, nil), templateHash(&b, nil), templateHash(&a, &one)
	if ha != templateHash(&a, nil) || ha == hb || ha == hc {
		t.Errorf("hashes %s %s %s: want stable and distinct", ha, hb, hc)
	}
	if strings.ContainsAny(ha, "aeiou") {
		t.Errorf("hash %s contains vowels", ha)
	}
}

func TestMaxSurgeAndUnavailable(t *testing.T) {
	tests := []struct {
		replicas      int32
		surge, unavil intstr.IntOrString
		wantS, wantU  int32
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2},
		{1, intstr.FromInt32(0), intstr.FromInt32(0), 0, 1},
		{3, intstr.FromInt32(1), intstr.FromInt32(5), 1, 3},
	}
	for _, tc := range tests {
		d := deployment(tc.replicas, "x")
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavil}
		if s, u := maxSurgeAndUnavailable(d); s != tc.wantS || u != tc.wantU {
			t.Errorf("replicas %d surge %s unavailable %s: got %d, %d; want %d, %d", tc.replicas, tc.surge.String(), tc.unavil.String(), s, u, tc.wantS, tc.wantU)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
