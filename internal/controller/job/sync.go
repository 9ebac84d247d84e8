package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Condition reasons, as upstream reports them.
const (
	ReasonBackoffLimitExceeded     = "BackoffLimitExceeded"
	ReasonDeadlineExceeded         = "DeadlineExceeded"
	ReasonPodFailurePolicy         = "PodFailurePolicy"
	ReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	ReasonFailedIndexes            = "FailedIndexes"
	ReasonCompletionsReached       = "CompletionsReached"
)

// target is the verdict on a Job that has met its end: the condition added
// first (FailureTarget or SuccessCriteriaMet) and the final one.
type target struct {
	first, final    batchv1.JobConditionType
	reason, message string
}

// Sync reconciles the Job named by key with its pods. It is level-based:
// everything is derived from the listers and the Job's status.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil // malformed key: nothing to retry
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.forget(key)
		c.backoffs.forget(key)
		return ctrlutil.Result{}, c.releaseOrphans(ctx, ns, name)
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	pods, err := c.ownedPods(job)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if finishedCondition(job) != "" || job.DeletionTimestamp != nil {
		return ctrlutil.Result{}, c.removeFinalizers(ctx, pods, nil)
	}
	return c.syncJob(ctx, key, job, pods)
}

func (c *Controller) syncJob(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (ctrlutil.Result, error) {
	now := c.clock.Now()
	st := job.Status.DeepCopy()
	indexed := isIndexed(job)
	completions := -1
	if job.Spec.Completions != nil {
		completions = int(*job.Spec.Completions)
	}
	perIndex := indexed && job.Spec.BackoffLimitPerIndex != nil
	var succeededIdx, failedIdx indexSet
	if indexed {
		succeededIdx = parseIndexes(st.CompletedIndexes, completions)
		failedIdx = indexSet{}
		if st.FailedIndexes != nil {
			failedIdx = parseIndexes(*st.FailedIndexes, completions)
		}
	}
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	unc := st.UncountedTerminatedPods

	// Move uncounted pods whose finalizer is gone into the counters.
	tracked := map[types.UID]bool{}
	for _, p := range pods {
		if hasFinalizer(p) {
			tracked[p.UID] = true
		}
	}
	unc.Succeeded = slices.DeleteFunc(unc.Succeeded, func(uid types.UID) bool {
		if !tracked[uid] && !indexed {
			st.Succeeded++
		}
		return !tracked[uid]
	})
	unc.Failed = slices.DeleteFunc(unc.Failed, func(uid types.UID) bool {
		if !tracked[uid] {
			st.Failed++
		}
		return !tracked[uid]
	})

	// Classify the pods and record newly finished ones as uncounted.
	var (
		active, unfinalize []*pod
		terminating, ready int32
		restarts           int32
		failJob            *policyMatch
	)
	recorded := map[types.UID]bool{}
	for _, uid := range append(slices.Clone(unc.Succeeded), unc.Failed...) {
		recorded[uid] = true
	}
	type finished struct {
		pod       *corev1.Pod
		succeeded bool
	}
	var done []finished
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			done = append(done, finished{p, true})
		case isFailed(p, job):
			done = append(done, finished{p, false})
		case p.DeletionTimestamp != nil:
			terminating++
		default:
			active = append(active, &pod{p})
			if isReady(p) {
				ready++
			}
			for _, cs := range p.Status.ContainerStatuses {
				restarts += cs.RestartCount
			}
		}
	}
	sort.SliceStable(done, func(i, j int) bool {
		return finishTime(done[i].pod, now).Before(finishTime(done[j].pod, now))
	})
	rec := c.backoffs.get(key)
	if rec.seen == nil {
		rec.seen = map[types.UID]bool{}
	}
	for _, d := range done {
		p := d.pod
		if !hasFinalizer(p) {
			continue
		}
		unfinalize = append(unfinalize, &pod{p})
		if recorded[p.UID] {
			continue
		}
		idx := podIndex(p)
		validIdx := indexed && idx >= 0 && idx < completions
		if d.succeeded {
			if validIdx {
				succeededIdx[idx] = true
			}
			unc.Succeeded = append(unc.Succeeded, p.UID)
			if !rec.seen[p.UID] {
				rec.seen[p.UID] = true
				rec.failures = 0
			}
			continue
		}
		m := matchFailurePolicy(job.Spec.PodFailurePolicy, p)
		if m.action != nil && *m.action == batchv1.PodFailurePolicyActionIgnore {
			continue // not counted; the finalizer just goes
		}
		unc.Failed = append(unc.Failed, p.UID)
		if m.action != nil && *m.action == batchv1.PodFailurePolicyActionFailJob && failJob == nil {
			failJob = &m
		}
		if perIndex && validIdx && !succeededIdx[idx] {
			if (m.action != nil && *m.action == batchv1.PodFailurePolicyActionFailIndex) ||
				indexFailures(p)+1 > int(*job.Spec.BackoffLimitPerIndex) {
				failedIdx[idx] = true
			}
		}
		if !rec.seen[p.UID] {
			rec.seen[p.UID] = true
			rec.failures++
			if t := finishTime(p, now); t.After(rec.lastFailure) {
				rec.lastFailure = t
			}
		}
	}
	c.backoffs.set(key, rec)

	succeeded := int(st.Succeeded) + len(unc.Succeeded)
	if indexed {
		succeeded = len(succeededIdx)
		st.Succeeded = int32(succeeded)
		st.CompletedIndexes = succeededIdx.String()
		if perIndex {
			s := failedIdx.String()
			st.FailedIndexes = &s
		}
	}
	failed := int(st.Failed) + len(unc.Failed)
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend

	// notes are the events this sync records once the status that
	// reports the same is written.
	var notes []note

	// Suspension and resumption.
	if !suspended && st.StartTime == nil {
		st.StartTime = &metav1.Time{Time: now}
	}
	if sc := findCondition(st, batchv1.JobSuspended); sc != nil && sc.Status == corev1.ConditionTrue && !suspended {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
		st.StartTime = &metav1.Time{Time: now}
		notes = append(notes, note{corev1.EventTypeNormal, ReasonResumed, "Job resumed"})
	}

	// Has the Job met its end?
	var result ctrlutil.Result
	tgt := existingTarget(st)
	if tgt == nil {
		limit := int32(6)
		if job.Spec.BackoffLimit != nil {
			limit = *job.Spec.BackoffLimit
		}
		onFailureRestarts := int32(0)
		if job.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
			onFailureRestarts = restarts
		}
		allIndexesDone := indexed && len(succeededIdx)+len(failedIdx) >= completions
		switch {
		case failJob != nil:
			tgt = &target{batchv1.JobFailureTarget, batchv1.JobFailed, ReasonPodFailurePolicy, failJob.message}
		case perIndex && job.Spec.MaxFailedIndexes != nil && len(failedIdx) > int(*job.Spec.MaxFailedIndexes):
			tgt = &target{batchv1.JobFailureTarget, batchv1.JobFailed, ReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes"}
		case !perIndex && int32(failed)+onFailureRestarts > limit:
			tgt = &target{batchv1.JobFailureTarget, batchv1.JobFailed, ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"}
		case !suspended && pastDeadline(job, st, now):
			tgt = &target{batchv1.JobFailureTarget, batchv1.JobFailed, ReasonDeadlineExceeded, "Job was active longer than specified deadline"}
		case perIndex && allIndexesDone && len(failedIdx) > 0:
			tgt = &target{batchv1.JobFailureTarget, batchv1.JobFailed, ReasonFailedIndexes, "Job has failed indexes"}
		case indexed && len(succeededIdx) >= completions,
			!indexed && completions >= 0 && succeeded >= completions,
			!indexed && completions < 0 && succeeded > 0 && len(active) == 0:
			tgt = &target{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete, ReasonCompletionsReached, "Reached expected number of succeeded pods"}
		}
		if tgt != nil {
			setCondition(st, tgt.first, corev1.ConditionTrue, tgt.reason, tgt.message, now)
		}
	}

	var errs []error
	switch {
	case tgt != nil:
		// Ending: no pod keeps running.
		errs = append(errs, c.deletePods(ctx, key, job, active)...)
		if len(active) == 0 && len(unc.Succeeded) == 0 && len(unc.Failed) == 0 {
			// Sync ends early for a finished Job, so this is the
			// transition, reported once.
			setCondition(st, tgt.final, corev1.ConditionTrue, tgt.reason, tgt.message, now)
			if tgt.final == batchv1.JobComplete {
				st.CompletionTime = &metav1.Time{Time: now}
			}
			notes = append(notes, finishedNotes(job, st, tgt)...)
		}
		active = nil
	case suspended:
		errs = append(errs, c.deletePods(ctx, key, job, active)...)
		active = nil
		if sc := findCondition(st, batchv1.JobSuspended); sc == nil || sc.Status != corev1.ConditionTrue {
			setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
			notes = append(notes, note{corev1.EventTypeNormal, ReasonSuspended, "Job suspended"})
		}
	case c.exp.satisfied(key):
		var created, deleted int
		var wait time.Duration
		created, deleted, wait, errs = c.manage(ctx, key, job, active, succeeded, succeededIdx, failedIdx, pods, now)
		st.Active = int32(len(active) + created - deleted)
		if wait > 0 {
			result.RequeueAfter = wait
		}
		if d := deadlineLeft(job, st, now); d > 0 && (result.RequeueAfter == 0 || d < result.RequeueAfter) {
			result.RequeueAfter = d
		}
	default:
		st.Active = int32(len(active))
	}
	if tgt != nil || suspended {
		st.Active = 0
	}
	st.Ready = &ready
	st.Terminating = &terminating
	if len(unc.Succeeded) == 0 && len(unc.Failed) == 0 && job.Status.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = nil
	}

	if !equality.Semantic.DeepEqual(&job.Status, st) {
		upd := job.DeepCopy()
		upd.Status = *st
		if _, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return ctrlutil.Result{}, errors.Join(append(errs, fmt.Errorf("update status: %w", err))...)
		}
	}
	for _, n := range notes {
		c.recorder.Eventf(job, nil, n.eventtype, n.reason, "Sync", "%s", n.message)
	}
	// The status now records every pod in unfinalize: let them go.
	if err := c.removeFinalizers(ctx, podsOf(unfinalize), nil); err != nil {
		errs = append(errs, err)
	}
	return result, errors.Join(errs...)
}

// pod wraps a pod for sorting during scale-down.
type pod struct{ *corev1.Pod }

func podsOf(ps []*pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(ps))
	for i, p := range ps {
		out[i] = p.Pod
	}
	return out
}

// manage creates and deletes pods to bring the active count to what the
// Job wants. It returns the pods created and deleted, how long to wait for
// the failure backoff, and any errors.
func (c *Controller) manage(ctx context.Context, key string, job *batchv1.Job, active []*pod, succeeded int,
	succeededIdx, failedIdx indexSet, all []*corev1.Pod, now time.Time) (created, deleted int, wait time.Duration, errs []error) {
	parallelism := 1
	if job.Spec.Parallelism != nil {
		parallelism = int(*job.Spec.Parallelism)
	}
	want := parallelism
	var toDelete []*pod
	var indexes []int // indexes to create, for Indexed jobs
	if isIndexed(job) {
		completions := int(*job.Spec.Completions)
		want = min(want, completions-len(succeededIdx)-len(failedIdx))
		byIndex := map[int]bool{}
		var keep []*pod
		// Oldest pod of each index stays; duplicates, pods of invalid
		// or finished indexes go.
		sort.SliceStable(active, func(i, j int) bool {
			return active[i].CreationTimestamp.Before(&active[j].CreationTimestamp)
		})
		for _, p := range active {
			i := podIndex(p.Pod)
			if i < 0 || i >= completions || byIndex[i] || succeededIdx[i] || failedIdx[i] {
				toDelete = append(toDelete, p)
				continue
			}
			byIndex[i] = true
			keep = append(keep, p)
		}
		if extra := len(keep) - max(want, 0); extra > 0 {
			sort.SliceStable(keep, func(i, j int) bool { return podIndex(keep[i].Pod) > podIndex(keep[j].Pod) })
			toDelete = append(toDelete, keep[:extra]...)
		}
		for i := 0; i < completions && len(keep)+len(indexes) < want; i++ {
			if !byIndex[i] && !succeededIdx[i] && !failedIdx[i] {
				indexes = append(indexes, i)
			}
		}
	} else {
		if job.Spec.Completions != nil {
			want = min(want, int(*job.Spec.Completions)-succeeded)
		} else if succeeded > 0 {
			want = min(want, len(active)) // one success: no new pods
		}
		want = max(want, 0)
		if extra := len(active) - want; extra > 0 {
			// Not-ready and newest pods go first.
			sort.SliceStable(active, func(i, j int) bool {
				ri, rj := isReady(active[i].Pod), isReady(active[j].Pod)
				if ri != rj {
					return !ri
				}
				return active[j].CreationTimestamp.Before(&active[i].CreationTimestamp)
			})
			toDelete = active[:extra]
		}
	}
	toCreate := len(indexes)
	if !isIndexed(job) {
		toCreate = max(want-len(active), 0)
	}
	toCreate = min(toCreate, maxPodChanges)
	if toCreate > 0 {
		rec := c.backoffs.get(key)
		if d := c.delay(rec); d > 0 {
			if left := rec.lastFailure.Add(d).Sub(now); left > 0 {
				wait = left
				toCreate = 0
			}
		}
	}
	if len(toDelete) > maxPodChanges {
		toDelete = toDelete[:maxPodChanges]
	}
	if toCreate == 0 && len(toDelete) == 0 {
		return 0, 0, wait, nil
	}
	c.exp.expect(key, toCreate, len(toDelete))
	for _, p := range toDelete {
		if err := c.deletePod(ctx, job, p.Pod); err != nil {
			c.exp.observe(key, 0, 1)
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
			continue
		}
		deleted++
	}
	for n := range toCreate {
		idx, failures := -1, 0
		if isIndexed(job) {
			idx = indexes[n]
			failures = lastIndexFailures(all, idx, job)
		}
		want := newPod(job, idx, failures)
		p, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			// The rest would fail alike: stop, and lower the expectations
			// by what will never be observed.
			c.exp.observe(key, toCreate-n, 0)
			if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				c.recorder.Eventf(job, want, corev1.EventTypeWarning, ReasonFailedCreate, "Create", "Error creating: %v", err)
			}
			if !apierrors.IsAlreadyExists(err) {
				errs = append(errs, fmt.Errorf("create pod: %w", err))
			}
			break
		}
		c.recorder.Eventf(job, p, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Create", "Created pod: %s", p.Name)
		created++
	}
	return created, deleted, wait, errs
}

// lastIndexFailures is the failure count of index idx so far: the highest
// count its pods carry, plus one for a failed pod carrying it.
func lastIndexFailures(all []*corev1.Pod, idx int, job *batchv1.Job) int {
	n := 0
	for _, p := range all {
		if podIndex(p) != idx {
			continue
		}
		f := indexFailures(p)
		if isFailed(p, job) {
			f++
		}
		n = max(n, f)
	}
	return n
}

func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, ps []*pod) []error {
	if len(ps) == 0 {
		return nil
	}
	c.exp.expect(key, 0, len(ps))
	var errs []error
	for _, p := range ps {
		if err := c.deletePod(ctx, job, p.Pod); err != nil {
			c.exp.observe(key, 0, 1)
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
		}
	}
	return errs
}

// removeFinalizers drops the tracking finalizer from every pod of ps that
// has it.
func (c *Controller) removeFinalizers(ctx context.Context, ps []*corev1.Pod, _ []error) error {
	var errs []error
	for _, p := range ps {
		if hasFinalizer(p) {
			if err := c.removeFinalizer(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("remove finalizer of pod %s: %w", p.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownedPods lists the pods the job's selector matches that the job controls.
func (c *Controller) ownedPods(job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || job.Spec.Selector == nil {
		return nil, nil // an invalid selector selects nothing
	}
	all, err := c.podLister.Pods(job.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == job.UID {
			out = append(out, p)
		}
	}
	return out, nil
}

// releaseOrphans removes the tracking finalizer from pods of a Job that no
// longer exists, so that they can be deleted.
func (c *Controller) releaseOrphans(ctx context.Context, ns, name string) error {
	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var orphans []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "Job" && ref.Name == name && hasFinalizer(p) {
			orphans = append(orphans, p)
		}
	}
	return c.removeFinalizers(ctx, orphans, nil)
}

func pastDeadline(job *batchv1.Job, st *batchv1.JobStatus, now time.Time) bool {
	return job.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil && deadlineLeft(job, st, now) <= 0
}

// deadlineLeft is the time until the active deadline (0 without one).
func deadlineLeft(job *batchv1.Job, st *batchv1.JobStatus, now time.Time) time.Duration {
	if job.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return 0
	}
	left := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second).Sub(now)
	if left <= 0 {
		return -1
	}
	return left
}

// finishedCondition is Complete or Failed when the job has finished.
func finishedCondition(job *batchv1.Job) batchv1.JobConditionType {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// existingTarget is the ending the status already records, if any.
func existingTarget(st *batchv1.JobStatus) *target {
	for _, c := range st.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailureTarget:
			return &target{c.Type, batchv1.JobFailed, c.Reason, c.Message}
		case batchv1.JobSuccessCriteriaMet:
			return &target{c.Type, batchv1.JobComplete, c.Reason, c.Message}
		}
	}
	return nil
}

func findCondition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition adds or updates the condition of type t.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	ts := metav1.Time{Time: now}
	if c := findCondition(st, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = ts
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, ts
		return
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastProbeTime: ts, LastTransitionTime: ts,
	})
}
