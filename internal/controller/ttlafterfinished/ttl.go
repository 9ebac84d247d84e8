package ttlafterfinished

import (
	"context"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Config holds what a Controller needs; Client and Jobs are required.
type Config struct {
	Client kubernetes.Interface
	Jobs   batchinformers.JobInformer
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of Jobs handled at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-Job retry backoff (default 30s).
	MaxRetryDelay time.Duration
}

// Controller deletes finished Jobs whose TTL has expired.
type Controller struct {
	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	lister   batchlisters.JobLister
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:   cfg.Client,
		informer: cfg.Jobs.Informer(),
		lister:   cfg.Jobs.Lister(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		workers:  cfg.Workers,
		maxDelay: cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "ttl-after-finished")
	if c.workers <= 0 {
		c.workers = 5
	}
	return c
}

// Run registers the event handler, waits for the cache, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("ttl-after-finished", c.clock, 0, c.maxDelay)
	enqueue := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok && needsCleanup(j) {
			if key, err := cache.MetaNamespaceKeyFunc(j); err == nil {
				queue.Add(key)
			}
		}
	}
	reg, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.informer.RemoveEventHandler(reg) }()
	if !cache.WaitForNamedCacheSync("ttl-after-finished", ctx.Done(), c.informer.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// Sync deletes the Job named by key if its TTL has expired, or requeues it
// for its expiry.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	job, err := c.lister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if left, ok := c.timeLeft(job); !ok || left > 0 {
		return ctrlutil.Result{RequeueAfter: max(left, 0)}, nil
	}
	// The cache may be stale: decide again on the server's copy.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if left, ok := c.timeLeft(fresh); !ok || left > 0 {
		return ctrlutil.Result{RequeueAfter: max(left, 0)}, nil
	}
	bg := metav1.DeletePropagationBackground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &bg,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return ctrlutil.Result{}, nil // gone, or replaced by a new Job
	}
	if err == nil {
		c.log.Info("deleted finished job", "job", key)
	}
	return ctrlutil.Result{}, err
}

// timeLeft is how long until job expires; ok is false when it never does
// (unfinished, no TTL, or already being deleted).
func (c *Controller) timeLeft(job *batchv1.Job) (time.Duration, bool) {
	if !needsCleanup(job) {
		return 0, false
	}
	finished := finishTime(job)
	if finished.IsZero() {
		return 0, false
	}
	expiry := finished.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	return expiry.Sub(c.clock.Now()), true
}

func needsCleanup(j *batchv1.Job) bool {
	return j.Spec.TTLSecondsAfterFinished != nil && j.DeletionTimestamp == nil && !finishTime(j).IsZero()
}

// finishTime is when the Job's Complete or Failed condition became true,
// zero while it runs.
func finishTime(j *batchv1.Job) time.Time {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
