package job

import (
	"context"
	"log/slog"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

const (
	// TrackingFinalizer keeps a finished pod around until the controller
	// has counted it.
	TrackingFinalizer = batchv1.JobTrackingFinalizer
	// CompletionIndexAnnotation holds an Indexed Job pod's index.
	CompletionIndexAnnotation = batchv1.JobCompletionIndexAnnotation
	// CompletionIndexEnv is the variable that exposes the index.
	CompletionIndexEnv = "JOB_COMPLETION_INDEX"

	// DefaultBackoffBase and DefaultBackoffMax bound the delay before a
	// failed pod is replaced: base doubled per consecutive failure.
	DefaultBackoffBase = 10 * time.Second
	DefaultBackoffMax  = 6 * time.Minute

	// expectationsTimeout is how long the controller waits to observe its
	// own creations and deletions before acting on the cache anyway.
	expectationsTimeout = 5 * time.Minute
	// maxPodChanges caps the pods created or deleted in one sync.
	maxPodChanges = 500
)

// Config holds what a Controller needs; Client, Jobs and Pods are required.
type Config struct {
	Client kubernetes.Interface
	Jobs   batchinformers.JobInformer
	Pods   coreinformers.PodInformer
	// Recorder emits events; nil: an events.k8s.io broadcaster on Client,
	// started by Run.
	Recorder events.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of Jobs synced at once (default 5).
	Workers int
	// MaxRetryDelay caps the per-Job retry backoff after errors (default 30s).
	MaxRetryDelay time.Duration
	// BackoffBase and BackoffMax override the pod failure backoff
	// (defaults DefaultBackoffBase, DefaultBackoffMax).
	BackoffBase, BackoffMax time.Duration
}

// Controller reconciles Jobs with their pods.
type Controller struct {
	client      kubernetes.Interface
	jobInformer cache.SharedIndexInformer
	jobLister   batchlisters.JobLister
	podInformer cache.SharedIndexInformer
	podLister   corelisters.PodLister
	recorder    ctrlutil.Events
	clock       clock.WithTicker
	log         *slog.Logger
	workers     int
	maxDelay    time.Duration
	backoffBase time.Duration
	backoffMax  time.Duration

	exp      *expectations
	backoffs *backoffStore
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:      cfg.Client,
		jobInformer: cfg.Jobs.Informer(),
		jobLister:   cfg.Jobs.Lister(),
		podInformer: cfg.Pods.Informer(),
		podLister:   cfg.Pods.Lister(),
		clock:       cfg.Clock,
		log:         cfg.Logger,
		workers:     cfg.Workers,
		maxDelay:    cfg.MaxRetryDelay,
		backoffBase: cfg.BackoffBase,
		backoffMax:  cfg.BackoffMax,
		backoffs:    &backoffStore{records: map[string]backoffRecord{}},
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "job")
	if c.workers <= 0 {
		c.workers = 5
	}
	if c.backoffBase <= 0 {
		c.backoffBase = DefaultBackoffBase
	}
	if c.backoffMax <= 0 {
		c.backoffMax = DefaultBackoffMax
	}
	c.recorder = ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "job-controller")
	c.exp = &expectations{clock: c.clock, items: map[string]*expectation{}}
	return c
}

// Run registers the event handlers, waits for the caches, and runs the
// workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("job", c.clock, 0, c.maxDelay)
	defer c.recorder.Start(ctx)()
	jobReg, err := c.jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { enqueueObject(queue.Add, obj) },
		UpdateFunc: func(_, obj any) { enqueueObject(queue.Add, obj) },
		DeleteFunc: func(obj any) { enqueueObject(queue.Add, obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.jobInformer.RemoveEventHandler(jobReg) }()
	podReg, err := c.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := ownerKey(obj); ok {
				c.exp.observe(key, 1, 0)
				queue.Add(key)
			}
		},
		UpdateFunc: func(old, obj any) {
			if key, ok := ownerKey(old); ok {
				queue.Add(key)
			}
			if key, ok := ownerKey(obj); ok {
				queue.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if key, ok := ownerKey(obj); ok {
				c.exp.observe(key, 0, 1)
				queue.Add(key)
			}
		},
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.podInformer.RemoveEventHandler(podReg) }()
	if !cache.WaitForNamedCacheSync("job", ctx.Done(),
		c.jobInformer.HasSynced, c.podInformer.HasSynced, jobReg.HasSynced, podReg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

func enqueueObject(add func(string), obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		add(key)
	}
}

// ownerKey is the key of the Job controlling the pod obj, if any.
func ownerKey(obj any) (string, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return "", false
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

// expectations remember pod creations and deletions a Job's sync asked for
// and has not yet seen in the pod cache; until they are seen (or time out)
// the controller creates and deletes nothing more for that Job.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex // guards items
	items map[string]*expectation
}

type expectation struct {
	adds, dels int
	at         time.Time
}

func (e *expectations) expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: adds, dels: dels, at: e.clock.Now()}
}

// observe lowers the outstanding creations and deletions of key.
func (e *expectations) observe(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.items[key]; x != nil {
		x.adds -= adds
		x.dels -= dels
	}
}

func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.items[key]
	return x == nil || (x.adds <= 0 && x.dels <= 0) || e.clock.Since(x.at) > expectationsTimeout
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// backoffRecord counts a Job's pod failures since its last success.
type backoffRecord struct {
	failures    int
	lastFailure time.Time
	// seen holds the UIDs already folded into the record.
	seen map[types.UID]bool
}

// backoffStore holds the backoff records by Job key.
type backoffStore struct {
	mu      sync.Mutex // guards records
	records map[string]backoffRecord
}

func (s *backoffStore) get(key string) backoffRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[key]
}

func (s *backoffStore) set(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key] = r
}

func (s *backoffStore) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key)
}

// delay is how long to wait after r's last failure before creating a pod.
func (c *Controller) delay(r backoffRecord) time.Duration {
	if r.failures == 0 {
		return 0
	}
	d := c.backoffBase
	for i := 1; i < r.failures && d < c.backoffMax; i++ {
		d *= 2
	}
	return min(d, c.backoffMax)
}
