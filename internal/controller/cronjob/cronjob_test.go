package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var created = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newCronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.Time{Time: created}},
		Spec: batchv1.CronJobSpec{
			Schedule:          "*/10 * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}},
			SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
		},
	}
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

type harness struct {
	c        *Controller
	client   *fake.Clientset
	recorder *events.FakeRecorder
}

func newHarness(t *testing.T, now time.Time, objs ...runtime.Object) *harness {
	client := fake.NewClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	rec := events.NewFakeRecorder(100)
	c := New(Config{Client: client, CronJobs: inf.Batch().V1().CronJobs(), Jobs: inf.Batch().V1().Jobs(),
		Clock: clocktesting.NewFakeClock(now), Recorder: rec})
	for _, o := range objs {
		switch o := o.(type) {
		case *batchv1.CronJob:
			_ = inf.Batch().V1().CronJobs().Informer().GetIndexer().Add(o)
		case *batchv1.Job:
			_ = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(o)
		}
	}
	return &harness{c: c, client: client, recorder: rec}
}

func (h *harness) createdJobs() []*batchv1.Job {
	var out []*batchv1.Job
	for _, a := range h.client.Actions() {
		if c, ok := a.(clienttesting.CreateAction); ok && a.GetResource().Resource == "jobs" {
			out = append(out, c.GetObject().(*batchv1.Job))
		}
	}
	return out
}

func TestMissedScheduleCatchesUpOnce(t *testing.T) {
	cj := newCronJob(nil)
	now := created.Add(35 * time.Minute) // missed 00:10, 00:20, 00:30
	h := newHarness(t, now, cj)
	res, err := h.c.Sync(context.Background(), "ns/cj")
	if err != nil {
		t.Fatal(err)
	}
	jobs := h.createdJobs()
	if len(jobs) != 1 {
		t.Fatalf("created %d jobs; want 1", len(jobs))
	}
	want := created.Add(30 * time.Minute)
	if jobs[0].Name != fmt.Sprintf("cj-%d", want.Unix()/60) {
		t.Errorf("job name %s; want %s", jobs[0].Name, jobName(cj, want))
	}
	if got := jobs[0].Annotations[ScheduledTimestampAnnotation]; got != want.Format(time.RFC3339) {
		t.Errorf("scheduled annotation %q; want %q", got, want.Format(time.RFC3339))
	}
	if res.RequeueAfter != 5*time.Minute+nextScheduleDelta {
		t.Errorf("requeue after %v; want 5m", res.RequeueAfter)
	}
	got, _ := h.client.BatchV1().CronJobs("ns").Get(context.Background(), "cj", metav1.GetOptions{})
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(want) || len(got.Status.Active) != 1 {
		t.Errorf("status %+v; want lastScheduleTime %v and 1 active", got.Status, want)
	}
}

func TestPolicies(t *testing.T) {
	now := created.Add(21 * time.Minute)
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "cj-old", Namespace: "ns", UID: "old",
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(newCronJob(nil), batchv1.SchemeGroupVersion.WithKind("CronJob"))}}}
	for _, tc := range []struct {
		name             string
		mutate           func(*batchv1.CronJob)
		creates, deletes int
	}{
		{"allow", nil, 1, 0},
		{"forbid", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }, 0, 0},
		{"replace", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }, 1, 1},
		{"suspended", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }, 0, 0},
		{"deadline passed", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](30) }, 0, 0},
		{"too many missed", func(cj *batchv1.CronJob) {
			cj.Spec.Schedule = "* * * * *"
			cj.CreationTimestamp.Time = created.Add(-10 * time.Hour)
		}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob(tc.mutate)
			h := newHarness(t, now, cj, running.DeepCopy())
			if _, err := h.c.Sync(context.Background(), "ns/cj"); err != nil {
				t.Fatal(err)
			}
			deletes := 0
			for _, a := range h.client.Actions() {
				if a.GetVerb() == "delete" {
					deletes++
				}
			}
			if got := len(h.createdJobs()); got != tc.creates || deletes != tc.deletes {
				t.Errorf("creates=%d deletes=%d; want %d, %d", got, deletes, tc.creates, tc.deletes)
			}
		})
	}
}

func TestMostRecentTime(t *testing.T) {
	cj := newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "* * * * *" })
	sched, err := parseSchedule(cj)
	if err != nil {
		t.Fatal(err)
	}
	got, missed := mostRecentTime(cj, sched, created.Add(1000*time.Minute+30*time.Second))
	if got == nil || !got.Equal(created.Add(1000*time.Minute)) || missed <= maxMissedTimes {
		t.Errorf("got %v missed %d; want %v, >100", got, missed, created.Add(1000*time.Minute))
	}
	tz := newCronJob(func(cj *batchv1.CronJob) {
		cj.Spec.Schedule = "0 9 * * *"
		cj.Spec.TimeZone = ptr.To("America/New_York")
	})
	sched, err = parseSchedule(tz)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = mostRecentTime(tz, sched, created.Add(24*time.Hour))
	if want := time.Date(2025, 1, 1, 14, 0, 0, 0, time.UTC); got == nil || !got.Equal(want) {
		t.Errorf("timezone: got %v; want %v", got, want)
	}
}

func TestHistoryLimits(t *testing.T) {
	cj := newCronJob(nil)
	var objs []runtime.Object
	objs = append(objs, cj)
	for i, cond := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobComplete, batchv1.JobComplete, batchv1.JobFailed, batchv1.JobFailed} {
		objs = append(objs, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "j" + string(rune('a'+i)), Namespace: "ns", UID: types.UID(rune('a' + i)),
				CreationTimestamp: metav1.Time{Time: created.Add(time.Duration(i) * time.Minute)},
				OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}},
		})
	}
	h := newHarness(t, created.Add(5*time.Minute), objs...)
	if _, err := h.c.Sync(context.Background(), "ns/cj"); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range h.client.Actions() {
		if d, ok := a.(clienttesting.DeleteAction); ok {
			deleted = append(deleted, d.GetName())
		}
	}
	if len(deleted) != 3 || deleted[0] != "ja" || deleted[1] != "jb" || deleted[2] != "jd" {
		t.Errorf("deleted %v; want [ja jb jd]", deleted)
	}
}

// TestHistoryDeleteRecordedOnce: a sync that runs before the cache has
// seen its Job deletions (the lister still lists them, the server says
// NotFound) records no second SuccessfulDelete for them.
func TestHistoryDeleteRecordedOnce(t *testing.T) {
	cj := newCronJob(nil)
	objs := []runtime.Object{cj}
	for i := range 3 {
		objs = append(objs, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("j%d", i), Namespace: "ns", UID: types.UID(fmt.Sprint(i)),
				CreationTimestamp: metav1.Time{Time: created.Add(time.Duration(i) * time.Minute)},
				OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
		})
	}
	h := newHarness(t, created.Add(5*time.Minute), objs...)
	for range 2 { // the second sync sees the same stale cache
		if _, err := h.c.Sync(context.Background(), "ns/cj"); err != nil {
			t.Fatal(err)
		}
	}
	var deletes []string
	for len(h.recorder.Events) > 0 {
		if e := <-h.recorder.Events; strings.Contains(e, "SuccessfulDelete") {
			deletes = append(deletes, e)
		}
	}
	want := []string{"Normal SuccessfulDelete Deleted job j0", "Normal SuccessfulDelete Deleted job j1"}
	if !slices.Equal(deletes, want) {
		t.Errorf("events %q; want %q", deletes, want)
	}
}
