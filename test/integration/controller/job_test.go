package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// runControllers runs the named controllers on clk against s until the
// test ends.
func runControllers(t *testing.T, s *testserver.Server, clk clock.WithTicker, names ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- manager.Run(ctx, managerConfig(s), manager.Options{
			UseServiceAccountCredentials: true,
			Controllers:                  names,
			Clock:                        clk,
			Logger:                       slog.New(slog.NewTextHandler(io.Discard, nil)),
			MaxRetryDelay:                time.Second,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager.Run: %v", err)
		}
	})
}

func batchJob(name string, mutate func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
		}}},
	}
	mutate(j)
	return j
}

func jobPods(t *testing.T, c kubernetes.Interface, ns, job string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// finishPod sets a pod's phase (and a terminated container) via the
// status subresource, as a node agent would.
func finishPod(t *testing.T, c kubernetes.Interface, p corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	if err := setPodPhase(c, p, phase); err != nil {
		t.Fatalf("set pod %s %s: %v", p.Name, phase, err)
	}
}

// setPodPhase finishes p as its node would.
func setPodPhase(c kubernetes.Interface, p corev1.Pod, phase corev1.PodPhase) error {
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 1
	}
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "busybox", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.Now()}}}}
	_, err := c.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), &p, metav1.UpdateOptions{})
	return err
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func TestJobBackoffLimit(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	clk := clocktesting.NewFakeClock(time.Now())
	runControllers(t, s, clk, "job")
	ns := "job-backoff"
	createNamespace(t, s.Client, ns)
	ctx := context.Background()
	if _, err := s.Client.BatchV1().Jobs(ns).Create(ctx, batchJob("fail", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](2) }), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var job *batchv1.Job
	eventually(t, 30*time.Second, func() (bool, string) {
		// Time passes quickly: every backoff is over by the next poll.
		clk.Step(time.Minute)
		var err error
		if job, err = s.Client.BatchV1().Jobs(ns).Get(ctx, "fail", metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		if jobCondition(job, batchv1.JobFailed) != nil {
			return true, ""
		}
		for _, p := range jobPods(t, s.Client, ns, "fail") {
			if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
				finishPod(t, s.Client, p, corev1.PodFailed)
			}
		}
		return false, fmt.Sprintf("job status %+v", job.Status)
	})
	if c := jobCondition(job, batchv1.JobFailed); c.Reason != "BackoffLimitExceeded" {
		t.Errorf("Failed reason %q; want BackoffLimitExceeded", c.Reason)
	}
	if jobCondition(job, batchv1.JobFailureTarget) == nil {
		t.Errorf("no FailureTarget condition: %+v", job.Status.Conditions)
	}
	pods := jobPods(t, s.Client, ns, "fail")
	if len(pods) != 3 || job.Status.Failed != 3 {
		t.Errorf("pods %d, status.failed %d; want 3 attempts", len(pods), job.Status.Failed)
	}
	for _, p := range pods {
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}
	waitEvent(t, s.Client, ns, wantEvent{kind: "Job", name: "fail", controller: "job-controller",
		eventtype: corev1.EventTypeNormal, reason: "SuccessfulCreate", messagePrefix: "Created pod: fail-"})
	waitEvent(t, s.Client, ns, wantEvent{kind: "Job", name: "fail", controller: "job-controller",
		eventtype: corev1.EventTypeWarning, reason: "BackoffLimitExceeded", messagePrefix: "Job has reached the specified backoff limit"})
}

func TestIndexedJobCompletesEachIndexOnce(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	runControllers(t, s, clock.RealClock{}, "job")
	ns := "job-indexed"
	createNamespace(t, s.Client, ns)
	ctx := context.Background()
	_, err := s.Client.BatchV1().Jobs(ns).Create(ctx, batchJob("ix", func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2)
	}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var job *batchv1.Job
	eventually(t, 30*time.Second, func() (bool, string) {
		if job, err = s.Client.BatchV1().Jobs(ns).Get(ctx, "ix", metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		if jobCondition(job, batchv1.JobComplete) != nil {
			return true, ""
		}
		for _, p := range jobPods(t, s.Client, ns, "ix") {
			// A pod the controller removed meanwhile (a duplicate for its
			// index) is not finished; the next round looks again.
			if p.Status.Phase == corev1.PodPending {
				if err := setPodPhase(s.Client, p, corev1.PodSucceeded); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					t.Fatalf("set pod %s Succeeded: %v", p.Name, err)
				}
			}
		}
		return false, fmt.Sprintf("job status %+v", job.Status)
	})
	if job.Status.CompletedIndexes != "0-2" || job.Status.Succeeded != 3 || job.Status.CompletionTime == nil {
		t.Errorf("completedIndexes %q succeeded %d completionTime %v; want 0-2, 3, set", job.Status.CompletedIndexes, job.Status.Succeeded, job.Status.CompletionTime)
	}
	seen := map[string]bool{}
	for _, p := range jobPods(t, s.Client, ns, "ix") {
		idx := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if seen[idx] {
			t.Errorf("index %s ran twice", idx)
		}
		seen[idx] = true
		if p.Spec.Hostname != "ix-"+idx {
			t.Errorf("pod %s hostname %q; want ix-%s", p.Name, p.Spec.Hostname, idx)
		}
	}
	if len(seen) != 3 {
		t.Errorf("indexes run: %v; want 0, 1, 2", seen)
	}
	waitEvent(t, s.Client, ns, wantEvent{kind: "Job", name: "ix", controller: "job-controller",
		eventtype: corev1.EventTypeNormal, reason: "Completed", messagePrefix: "Job completed"})
}

func TestCronJobAfterDowntime(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	ns := "cronjob-downtime"
	createNamespace(t, s.Client, ns)
	ctx := context.Background()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule:    "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchJob("", func(*batchv1.Job) {}).Spec},
		},
	}
	if _, err := s.Client.BatchV1().CronJobs(ns).Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller manager was down for three hours: 36 times were missed.
	now := time.Now().Add(3 * time.Hour)
	runControllers(t, s, clocktesting.NewFakeClock(now), "cronjob")
	want := fmt.Sprintf("tick-%d", now.Truncate(5*time.Minute).Unix()/60)
	eventually(t, 20*time.Second, func() (bool, string) {
		l, err := s.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(l.Items) != 1 || l.Items[0].Name != want {
			return false, fmt.Sprintf("%d jobs; want only %s", len(l.Items), want)
		}
		got, err := s.Client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
		if err != nil || got.Status.LastScheduleTime == nil || len(got.Status.Active) != 1 {
			return false, fmt.Sprintf("cronjob status %+v, %v", got.Status, err)
		}
		return true, ""
	})
	time.Sleep(300 * time.Millisecond) // no second catch-up run follows
	if l, _ := s.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 1 {
		t.Errorf("%d jobs after catch-up; want 1", len(l.Items))
	}
}

func TestTTLAfterFinished(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	runControllers(t, s, clock.RealClock{}, "ttl-after-finished")
	ns := "job-ttl"
	createNamespace(t, s.Client, ns)
	ctx := context.Background()
	job, err := s.Client.BatchV1().Jobs(ns).Create(ctx, batchJob("done", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](1) }), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}}
	if _, err := s.Client.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() (bool, string) {
		_, err := s.Client.BatchV1().Jobs(ns).Get(ctx, "done", metav1.GetOptions{})
		if isNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("job still there (err %v)", err)
	})
}
