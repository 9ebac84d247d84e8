package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	c        *Controller
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	inf      informers.SharedInformerFactory
	recorder *events.FakeRecorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objs...)
	n := 0
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			n++
			p.Name = fmt.Sprintf("%s%d", p.GenerateName, n)
		}
		return false, nil, nil
	})
	inf := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	rec := events.NewFakeRecorder(1000) // room for every event of a test
	c := New(Config{Client: client, Jobs: inf.Batch().V1().Jobs(), Pods: inf.Core().V1().Pods(), Recorder: rec, Clock: clk})
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *batchv1.Job:
			err = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &harness{c: c, client: client, clock: clk, inf: inf, recorder: rec}
}

// wantEvents fails the test unless the events recorded since the last
// call are exactly want, in order.
func (h *harness) wantEvents(t *testing.T, step string, want ...string) {
	t.Helper()
	var got []string
	for len(h.recorder.Events) > 0 {
		got = append(got, <-h.recorder.Events)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: events\n\t%s\nwant\n\t%s", step, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// fail makes every verb request on resource fail with err.
func (h *harness) fail(verb, resource string, err error) {
	h.client.PrependReactor(verb, resource, func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, err
	})
}

func (h *harness) sync(t *testing.T, job *batchv1.Job) (time.Duration, *batchv1.Job) {
	t.Helper()
	h.client.ClearActions()
	res, err := h.c.Sync(context.Background(), job.Namespace+"/"+job.Name)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	got, err := h.client.BatchV1().Jobs(job.Namespace).Get(context.Background(), job.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.RequeueAfter, got
}

func (h *harness) created(t *testing.T) []*corev1.Pod {
	var out []*corev1.Pod
	for _, a := range h.client.Actions() {
		if c, ok := a.(clienttesting.CreateAction); ok && a.GetResource().Resource == "pods" {
			out = append(out, c.GetObject().(*corev1.Pod))
		}
	}
	return out
}

func (h *harness) count(verb, resource string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

func newJob(name string, mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid")},
		Spec: batchv1.JobSpec{
			Parallelism:  ptr.To[int32](2),
			Completions:  ptr.To[int32](3),
			BackoffLimit: ptr.To[int32](1),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"job": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": name}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	if mutate != nil {
		mutate(j)
	}
	return j
}

func jobPod(j *batchv1.Job, name string, phase corev1.PodPhase, finalizer bool, index int) *corev1.Pod {
	p := newPod(j, index, 0)
	p.Name, p.UID = name, types.UID(name)
	p.CreationTimestamp = metav1.Time{Time: t0}
	p.Status.Phase = phase
	if !finalizer {
		p.Finalizers = nil
	}
	if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
		code := int32(0)
		if phase == corev1.PodFailed {
			code = 1
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.Time{Time: t0}}}}}
	}
	return p
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func TestCreatesParallelismPods(t *testing.T) {
	j := newJob("a", nil)
	h := newHarness(t, j)
	_, got := h.sync(t, j)
	pods := h.created(t)
	if len(pods) != 2 {
		t.Fatalf("created %d pods; want 2", len(pods))
	}
	p := pods[0]
	if !hasFinalizer(p) || metav1.GetControllerOf(p) == nil || metav1.GetControllerOf(p).UID != j.UID {
		t.Errorf("pod lacks finalizer or controller ref: %+v", p.ObjectMeta)
	}
	if got.Status.Active != 2 || got.Status.StartTime == nil {
		t.Errorf("status active=%d startTime=%v; want 2, set", got.Status.Active, got.Status.StartTime)
	}
	h.wantEvents(t, "first sync", "Normal SuccessfulCreate Created pod: a-1", "Normal SuccessfulCreate Created pod: a-2")
	// Expectations hold further creations until the pods are observed.
	h.sync(t, got)
	if n := len(h.created(t)); n != 0 {
		t.Errorf("second sync created %d pods; want 0", n)
	}
}

func TestIndexedPods(t *testing.T) {
	j := newJob("ix", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) })
	done := jobPod(j, "ix-0-a", corev1.PodSucceeded, false, 0)
	j.Status.CompletedIndexes = "0"
	j.Status.Succeeded = 1
	h := newHarness(t, j, done)
	h.sync(t, j)
	pods := h.created(t)
	if len(pods) != 2 {
		t.Fatalf("created %d pods; want 2", len(pods))
	}
	for i, p := range pods {
		want := []string{"1", "2"}[i]
		if p.Annotations[CompletionIndexAnnotation] != want || p.Labels[CompletionIndexAnnotation] != want {
			t.Errorf("pod %d index annotation %q label %q; want %s", i, p.Annotations[CompletionIndexAnnotation], p.Labels[CompletionIndexAnnotation], want)
		}
		if p.Spec.Hostname != "ix-"+want || p.GenerateName != "ix-"+want+"-" {
			t.Errorf("pod %d hostname %q generateName %q", i, p.Spec.Hostname, p.GenerateName)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != CompletionIndexEnv || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("pod %d env %+v", i, env)
		}
	}
}

func TestTrackingAndCompletion(t *testing.T) {
	j := newJob("c", func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](1); j.Spec.Parallelism = ptr.To[int32](1) })
	p := jobPod(j, "c-1", corev1.PodSucceeded, true, -1)
	h := newHarness(t, j, p)

	// 1: the pod is recorded as uncounted, then its finalizer removed.
	_, got := h.sync(t, j)
	if u := got.Status.UncountedTerminatedPods; u == nil || len(u.Succeeded) != 1 || got.Status.Succeeded != 0 {
		t.Fatalf("after first sync: uncounted %+v succeeded %d; want 1 uncounted", u, got.Status.Succeeded)
	}
	if condition(got, batchv1.JobSuccessCriteriaMet) == nil || condition(got, batchv1.JobComplete) != nil {
		t.Errorf("want SuccessCriteriaMet and not yet Complete: %+v", got.Status.Conditions)
	}
	if h.count("patch", "pods") != 1 {
		t.Errorf("finalizer patches = %d; want 1", h.count("patch", "pods"))
	}
	h.wantEvents(t, "success criteria met")

	// 2: finalizer gone: counted, Complete.
	p2 := p.DeepCopy()
	p2.Finalizers = nil
	h.inf.Core().V1().Pods().Informer().GetIndexer().Update(p2)
	h.inf.Batch().V1().Jobs().Informer().GetIndexer().Update(got)
	_, got = h.sync(t, got)
	if got.Status.Succeeded != 1 || len(got.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Errorf("succeeded=%d uncounted=%v; want 1, none", got.Status.Succeeded, got.Status.UncountedTerminatedPods)
	}
	if condition(got, batchv1.JobComplete) == nil || got.Status.CompletionTime == nil {
		t.Errorf("want Complete with completionTime: %+v", got.Status)
	}
	h.wantEvents(t, "complete", "Normal Completed Job completed")
	// 3: counted once, however often it syncs.
	h.inf.Batch().V1().Jobs().Informer().GetIndexer().Update(got)
	_, got = h.sync(t, got)
	if got.Status.Succeeded != 1 {
		t.Errorf("succeeded=%d after resync; want 1", got.Status.Succeeded)
	}
	h.wantEvents(t, "resync")
}

func TestBackoffAndLimit(t *testing.T) {
	j := newJob("b", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) })
	failed := jobPod(j, "b-1", corev1.PodFailed, true, -1)
	h := newHarness(t, j, failed)
	wait, got := h.sync(t, j)
	if n := len(h.created(t)); n != 0 {
		t.Errorf("created %d pods during backoff; want 0", n)
	}
	if wait != DefaultBackoffBase {
		t.Errorf("requeue after %v; want %v", wait, DefaultBackoffBase)
	}
	if condition(got, batchv1.JobFailureTarget) != nil {
		t.Errorf("failed with 1 failure and backoffLimit 1")
	}
	// After the backoff a replacement comes.
	h.clock.Step(DefaultBackoffBase)
	h.inf.Batch().V1().Jobs().Informer().GetIndexer().Update(got)
	h.sync(t, got)
	if n := len(h.created(t)); n != 1 {
		t.Errorf("created %d pods after backoff; want 1", n)
	}

	// A second failure exceeds backoffLimit 1.
	f2 := jobPod(j, "b-2", corev1.PodFailed, true, -1)
	h2 := newHarness(t, j, failed, f2)
	_, got = h2.sync(t, j)
	c := condition(got, batchv1.JobFailureTarget)
	if c == nil || c.Reason != ReasonBackoffLimitExceeded {
		t.Fatalf("want FailureTarget BackoffLimitExceeded: %+v", got.Status.Conditions)
	}
}

func TestBackoffDelay(t *testing.T) {
	c := &Controller{backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, 0}, {1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {6, 320 * time.Second}, {7, 6 * time.Minute}, {30, 6 * time.Minute}} {
		if got := c.delay(backoffRecord{failures: tc.failures}); got != tc.want {
			t.Errorf("delay(%d) = %v; want %v", tc.failures, got, tc.want)
		}
	}
}

func TestDeadline(t *testing.T) {
	j := newJob("d", func(j *batchv1.Job) {
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
		j.Status.StartTime = &metav1.Time{Time: t0.Add(-time.Minute)}
	})
	running := jobPod(j, "d-1", corev1.PodRunning, true, -1)
	h := newHarness(t, j, running)
	_, got := h.sync(t, j)
	c := condition(got, batchv1.JobFailureTarget)
	if c == nil || c.Reason != ReasonDeadlineExceeded {
		t.Fatalf("want DeadlineExceeded: %+v", got.Status.Conditions)
	}
	if h.count("delete", "pods") != 1 {
		t.Errorf("deleted %d pods; want 1", h.count("delete", "pods"))
	}
	h.wantEvents(t, "deadline passed", "Normal SuccessfulDelete Deleted pod: d-1")
	// Once the pod is gone the job is Failed.
	h.inf.Core().V1().Pods().Informer().GetIndexer().Delete(running)
	h.inf.Batch().V1().Jobs().Informer().GetIndexer().Update(got)
	_, got = h.sync(t, got)
	if c := condition(got, batchv1.JobFailed); c == nil || c.Reason != ReasonDeadlineExceeded {
		t.Errorf("want Failed DeadlineExceeded: %+v", got.Status.Conditions)
	}
	h.wantEvents(t, "failed", "Warning DeadlineExceeded Job was active longer than specified deadline")
}

func TestSuspend(t *testing.T) {
	j := newJob("s", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
	running := jobPod(j, "s-1", corev1.PodRunning, true, -1)
	h := newHarness(t, j, running)
	_, got := h.sync(t, j)
	if c := condition(got, batchv1.JobSuspended); c == nil || c.Reason != "JobSuspended" {
		t.Errorf("want Suspended: %+v", got.Status.Conditions)
	}
	if h.count("delete", "pods") != 1 || len(h.created(t)) != 0 || got.Status.Active != 0 {
		t.Errorf("deletes=%d creates=%d active=%d; want 1, 0, 0", h.count("delete", "pods"), len(h.created(t)), got.Status.Active)
	}
	h.wantEvents(t, "suspend", "Normal SuccessfulDelete Deleted pod: s-1", "Normal Suspended Job suspended")

	// Resumed: the pods come back, then the condition flips.
	h.inf.Core().V1().Pods().Informer().GetIndexer().Delete(running)
	h.c.exp.observe("ns/s", 0, 1) // as the pod informer's delete handler does
	got.Spec.Suspend = ptr.To(false)
	h.inf.Batch().V1().Jobs().Informer().GetIndexer().Update(got)
	_, got = h.sync(t, got)
	if c := findCondition(&got.Status, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Errorf("want Suspended False JobResumed: %+v", got.Status.Conditions)
	}
	h.wantEvents(t, "resume",
		"Normal SuccessfulCreate Created pod: s-1", "Normal SuccessfulCreate Created pod: s-2", "Normal Resumed Job resumed")
}

func TestPodFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
	}}
	j := newJob("p", func(j *batchv1.Job) { j.Spec.PodFailurePolicy = policy; j.Spec.BackoffLimit = ptr.To[int32](0) })

	disrupted := jobPod(j, "p-1", corev1.PodFailed, true, -1)
	disrupted.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	h := newHarness(t, j, disrupted)
	_, got := h.sync(t, j)
	if condition(got, batchv1.JobFailureTarget) != nil || got.Status.UncountedTerminatedPods != nil && len(got.Status.UncountedTerminatedPods.Failed) != 0 {
		t.Errorf("ignored failure counted: %+v", got.Status)
	}

	exit42 := jobPod(j, "p-2", corev1.PodFailed, true, -1)
	exit42.Status.ContainerStatuses[0].State.Terminated.ExitCode = 42
	h = newHarness(t, j, exit42)
	_, got = h.sync(t, j)
	if c := condition(got, batchv1.JobFailureTarget); c == nil || c.Reason != ReasonPodFailurePolicy {
		t.Errorf("want FailureTarget PodFailurePolicy: %+v", got.Status.Conditions)
	}
}

func TestBackoffLimitPerIndex(t *testing.T) {
	j := newJob("pi", func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
	})
	f := jobPod(j, "pi-0", corev1.PodFailed, true, 0)
	s := jobPod(j, "pi-1", corev1.PodSucceeded, true, 1)
	h := newHarness(t, j, f, s)
	_, got := h.sync(t, j)
	if got.Status.FailedIndexes == nil || *got.Status.FailedIndexes != "0" || got.Status.CompletedIndexes != "1" {
		t.Errorf("failedIndexes %v completedIndexes %q; want 0, 1", got.Status.FailedIndexes, got.Status.CompletedIndexes)
	}
	if c := condition(got, batchv1.JobFailureTarget); c == nil || c.Reason != ReasonFailedIndexes {
		t.Errorf("want FailureTarget FailedIndexes: %+v", got.Status.Conditions)
	}
}

func TestIndexSet(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"1,3-5", "1,3-5"}, {"5,4,3,1", "1,3-5"}, {"0-2,2-3,9", "0-3"}, {"x,1", "1"},
	} {
		if got := parseIndexes(tc.in, 8).String(); got != tc.want {
			t.Errorf("parseIndexes(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestFinishedEvents(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{
			name:   "completed",
			mutate: func(j *batchv1.Job) { j.Status.Succeeded = 3 },
			want:   []string{"Normal Completed Job completed"},
		},
		{
			name:   "too many succeeded",
			mutate: func(j *batchv1.Job) { j.Status.Succeeded = 4 },
			want: []string{
				"Warning TooManySucceededPods Too many succeeded pods running after completion count reached",
				"Normal Completed Job completed",
			},
		},
		{
			name:   "backoff limit",
			mutate: func(j *batchv1.Job) { j.Status.Failed = 2 },
			want:   []string{"Warning BackoffLimitExceeded Job has reached the specified backoff limit"},
		},
		{
			name: "pod failure policy",
			// FailureTarget was set by an earlier sync; its pods are
			// all counted now.
			mutate: func(j *batchv1.Job) {
				j.Status.Failed = 1
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: ReasonPodFailurePolicy,
					Message: "Container c for pod ns/p-2 failed with exit code 42 matching FailJob rule at index 1"}}
			},
			want: []string{"Warning PodFailurePolicy Container c for pod ns/p-2 failed with exit code 42 matching FailJob rule at index 1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob("f", tc.mutate)
			h := newHarness(t, j)
			_, got := h.sync(t, j)
			if finishedCondition(got) == "" {
				t.Fatalf("job not finished: %+v", got.Status.Conditions)
			}
			h.wantEvents(t, tc.name, tc.want...)
		})
	}
}

func TestEventsWaitForStatusWrite(t *testing.T) {
	j := newJob("w", func(j *batchv1.Job) { j.Status.Succeeded = 3 })
	h := newHarness(t, j)
	h.fail("update", "jobs", apierrors.NewConflict(schema.GroupResource{Group: "batch", Resource: "jobs"}, "w", errors.New("stale")))
	if _, err := h.c.Sync(context.Background(), "ns/w"); err == nil {
		t.Fatal("Sync succeeded; want the conflict")
	}
	h.wantEvents(t, "lost status write")
}

func TestPodFailureEvents(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		j := newJob("c", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) })
		h := newHarness(t, j)
		h.fail("create", "pods", errors.New("boom"))
		if _, err := h.c.Sync(context.Background(), "ns/c"); err == nil {
			t.Fatal("Sync succeeded; want the injected error")
		}
		h.wantEvents(t, "create", "Warning FailedCreate Error creating: boom")
	})
	t.Run("delete", func(t *testing.T) {
		j := newJob("d", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
		h := newHarness(t, j, jobPod(j, "d-1", corev1.PodRunning, true, -1))
		h.fail("delete", "pods", errors.New("boom"))
		if _, err := h.c.Sync(context.Background(), "ns/d"); err == nil {
			t.Fatal("Sync succeeded; want the injected error")
		}
		h.wantEvents(t, "delete", "Warning FailedDelete Error deleting: boom", "Normal Suspended Job suspended")
	})
	t.Run("already gone", func(t *testing.T) {
		j := newJob("g", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })
		p := jobPod(j, "g-1", corev1.PodRunning, false, -1)
		h := newHarness(t, j)
		// In the cache only: the API has no such pod.
		if err := h.inf.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
		h.sync(t, j)
		h.wantEvents(t, "already gone", "Normal Suspended Job suspended")
	})
}
