package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

const (
	// ScheduledTimestampAnnotation records on a Job the time it was
	// scheduled for (RFC 3339, in the CronJob's time zone).
	ScheduledTimestampAnnotation = batchv1.CronJobScheduledTimestampAnnotation
	// maxMissedTimes is how many missed times are tolerated before the
	// TooManyMissedTimes warning.
	maxMissedTimes = 100
	// nextScheduleDelta is added when requeueing for the next time, so the
	// sync runs just after it rather than just before.
	nextScheduleDelta = 100 * time.Millisecond
)

// Config holds what a Controller needs; Client, CronJobs and Jobs are required.
type Config struct {
	Client   kubernetes.Interface
	CronJobs batchinformers.CronJobInformer
	Jobs     batchinformers.JobInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of CronJobs synced at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-CronJob retry backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller runs CronJobs' Jobs on schedule.
type Controller struct {
	client      kubernetes.Interface
	cjInformer  cache.SharedIndexInformer
	cjLister    batchlisters.CronJobLister
	jobInformer cache.SharedIndexInformer
	jobLister   batchlisters.JobLister
	recorder    ctrlutil.Events
	clock       clock.WithTicker
	log         *slog.Logger
	workers     int
	maxDelay    time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:      cfg.Client,
		cjInformer:  cfg.CronJobs.Informer(),
		cjLister:    cfg.CronJobs.Lister(),
		jobInformer: cfg.Jobs.Informer(),
		jobLister:   cfg.Jobs.Lister(),
		clock:       cfg.Clock,
		log:         cfg.Logger,
		workers:     cfg.Workers,
		maxDelay:    cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "cronjob")
	if c.workers <= 0 {
		c.workers = 5
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "cronjob-controller")
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	defer c.recorder.Start(ctx)()
	queue := ctrlutil.NewQueue[string]("cronjob", c.clock, 0, c.maxDelay)
	cjReg, err := c.cjInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { ctrlutil.EnqueueObject(queue, obj) },
		UpdateFunc: func(_, obj any) { ctrlutil.EnqueueObject(queue, obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.cjInformer.RemoveEventHandler(cjReg) }()
	byOwner := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if job, ok := obj.(*batchv1.Job); ok {
			if ref := metav1.GetControllerOf(job); ref != nil && ref.Kind == "CronJob" {
				queue.Add(job.Namespace + "/" + ref.Name)
			}
		}
	}
	jobReg, err := c.jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    byOwner,
		UpdateFunc: func(_, obj any) { byOwner(obj) },
		DeleteFunc: byOwner,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.jobInformer.RemoveEventHandler(jobReg) }()
	if !cache.WaitForNamedCacheSync("cronjob", ctx.Done(),
		c.cjInformer.HasSynced, c.jobInformer.HasSynced, cjReg.HasSynced, jobReg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// Sync reconciles the CronJob named by key: it tidies status.active and the
// Job history, then starts the Job of the most recent unmet scheduled time.
// It requeues itself for the next scheduled time.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	cached, err := c.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if cached.DeletionTimestamp != nil {
		return ctrlutil.Result{}, nil
	}
	cj := cached.DeepCopy()
	jobs, err := c.ownedJobs(cj)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if err := c.reconcileActive(ctx, cj, jobs); err != nil {
		return ctrlutil.Result{}, err
	}
	res, schedErr := c.schedule(ctx, cj, jobs)
	if !equality.Semantic.DeepEqual(cached.Status, cj.Status) {
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return ctrlutil.Result{}, errors.Join(schedErr, fmt.Errorf("update status: %w", err))
		}
	}
	if err := c.cleanupHistory(ctx, cj, jobs); err != nil {
		return res, errors.Join(schedErr, err)
	}
	return res, schedErr
}

// ownedJobs lists the Jobs cj controls.
func (c *Controller) ownedJobs(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobLister.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			out = append(out, j)
		}
	}
	return out, nil
}

// reconcileActive makes status.active the owned Jobs still running, and
// records the latest successful finish.
func (c *Controller) reconcileActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	byUID := map[string]*batchv1.Job{}
	for _, j := range jobs {
		byUID[string(j.UID)] = j
		finished, ok := finishedStatus(j)
		if !finished && !inActive(cj, j) {
			cj.Status.Active = append(cj.Status.Active, jobRef(j))
		}
		if finished && ok && j.Status.CompletionTime != nil &&
			(cj.Status.LastSuccessfulTime == nil || cj.Status.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
			t := *j.Status.CompletionTime
			cj.Status.LastSuccessfulTime = &t
		}
	}
	var keep []corev1.ObjectReference
	for _, ref := range cj.Status.Active {
		if j := byUID[string(ref.UID)]; j != nil {
			if finished, ok := finishedStatus(j); finished {
				c.recorder.Eventf(cj, j, corev1.EventTypeNormal, "SawCompletedJob", "Sync",
					"Saw completed job: %s, condition: %s", j.Name, map[bool]string{true: "Complete", false: "Failed"}[ok])
				continue
			}
			keep = append(keep, ref)
			continue
		}
		// Not in the cache: ask the server before forgetting it, the
		// cache may lag behind a Job just created.
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "MissingJob", "Sync", "Active job went missing: %v", ref.Name)
		case err != nil:
			return err
		default:
			keep = append(keep, ref)
		}
	}
	cj.Status.Active = keep
	return nil
}

// schedule starts the Job of the most recent unmet scheduled time, if any,
// and says when to look again.
func (c *Controller) schedule(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (ctrlutil.Result, error) {
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return ctrlutil.Result{}, nil
	}
	sched, err := parseSchedule(cj)
	if err != nil {
		// Terminal until the spec changes, which enqueues it again.
		c.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "InvalidSchedule", "Sync", "invalid schedule: %s: %v", cj.Spec.Schedule, err)
		return ctrlutil.Result{}, nil
	}
	now := c.clock.Now()
	scheduled, missed := mostRecentTime(cj, sched, now)
	next := ctrlutil.Result{RequeueAfter: sched.Next(now).Sub(now) + nextScheduleDelta}
	if missed > maxMissedTimes {
		c.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "TooManyMissedTimes", "Sync",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if scheduled == nil {
		return next, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "MissSchedule", "Sync",
			"Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return next, nil
	}
	name := jobName(cj, *scheduled)
	for _, j := range jobs {
		if j.Name == name {
			return next, nil // this time already ran
		}
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		c.log.Debug("not starting job: previous still active", "cronjob", cj.Namespace+"/"+cj.Name)
		return next, nil
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, ref := range cj.Status.Active {
			bg := metav1.DeletePropagationBackground
			err := c.client.BatchV1().Jobs(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
			switch {
			case apierrors.IsNotFound(err):
				// Gone already (an earlier sync deleted it): recorded then.
			case err != nil:
				return ctrlutil.Result{}, fmt.Errorf("delete active job %s: %w", ref.Name, err)
			default:
				c.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Sync", "Deleted job %v", ref.Name)
			}
		}
		cj.Status.Active = nil
	}
	job, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, newJob(cj, *scheduled), metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Created by an earlier sync whose status update was lost.
		job, err = c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ctrlutil.Result{}, err
		}
		if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != cj.UID {
			return next, nil // someone else's Job holds the name
		}
	case err != nil:
		c.recorder.Eventf(cj, nil, corev1.EventTypeWarning, "FailedCreate", "Sync", "Error creating job: %v", err)
		return ctrlutil.Result{}, err
	default:
		c.recorder.Eventf(cj, job, corev1.EventTypeNormal, "SuccessfulCreate", "Sync", "Created job %v", job.Name)
	}
	if !inActive(cj, job) {
		cj.Status.Active = append(cj.Status.Active, jobRef(job))
	}
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	return next, nil
}

// parseSchedule reads the schedule in the CronJob's time zone.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	spec := cj.Spec.Schedule
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			return nil, err
		}
		spec = "CRON_TZ=" + *tz + " " + spec
	}
	return cron.ParseStandard(spec)
}

// mostRecentTime is the latest scheduled time in (earliest, now], where
// earliest is the last scheduled time (else the creation time) bounded by
// the starting deadline, and how many times were missed in that window.
func mostRecentTime(cj *batchv1.CronJob, sched cron.Schedule, now time.Time) (*time.Time, int) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if w := now.Add(-time.Duration(*d) * time.Second); w.After(earliest) {
			earliest = w
		}
	}
	var last time.Time
	missed := 0
	var gap time.Duration
	for t := sched.Next(earliest); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		if !last.IsZero() {
			gap = max(gap, t.Sub(last))
		}
		last = t
		missed++
		if missed > maxMissedTimes {
			// Too many to walk: the most recent time lies within two of
			// the widest gaps seen before now.
			last = time.Time{}
			for t := sched.Next(now.Add(-2 * gap)); !t.IsZero() && !t.After(now); t = sched.Next(t) {
				last = t
			}
			break
		}
	}
	if last.IsZero() {
		return nil, missed
	}
	return &last, missed
}

// jobName is <cronjob>-<scheduled time in Unix minutes>.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// newJob builds the Job of cj for the scheduled time.
func newJob(cj *batchv1.CronJob, scheduled time.Time) *batchv1.Job {
	t := cj.Spec.JobTemplate
	ann := maps.Clone(t.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if cj.Spec.TimeZone != nil {
		if loc, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
			scheduled = scheduled.In(loc)
		}
	}
	ann[ScheduledTimestampAnnotation] = scheduled.Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// cleanupHistory deletes the oldest finished Jobs beyond the history limits.
func (c *Controller) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		if finished, success := finishedStatus(j); finished && j.DeletionTimestamp == nil {
			if success {
				ok = append(ok, j)
			} else {
				failed = append(failed, j)
			}
		}
	}
	var errs []error
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{ok, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		sort.Slice(g.jobs, func(i, j int) bool { return startTime(g.jobs[i]).Before(startTime(g.jobs[j])) })
		for _, j := range g.jobs[:len(g.jobs)-int(*g.limit)] {
			bg := metav1.DeletePropagationBackground
			err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
			switch {
			case apierrors.IsNotFound(err):
				// The cache still lists a Job an earlier sync deleted:
				// its event was recorded then, not again.
			case err != nil:
				errs = append(errs, fmt.Errorf("delete job %s: %w", j.Name, err))
			default:
				c.recorder.Eventf(cj, nil, corev1.EventTypeNormal, "SuccessfulDelete", "Sync", "Deleted job %v", j.Name)
			}
		}
	}
	return errors.Join(errs...)
}

func startTime(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

// finishedStatus reports whether j finished, and whether it succeeded.
func finishedStatus(j *batchv1.Job) (finished, succeeded bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, true
		case batchv1.JobFailed:
			return true, false
		}
	}
	return false, false
}

func inActive(cj *batchv1.CronJob, j *batchv1.Job) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == j.UID })
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		Kind: "Job", APIVersion: batchv1.SchemeGroupVersion.String(),
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion,
	}
}
