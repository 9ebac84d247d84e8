// Package ctrlutil holds the small pieces every Skiff controller shares: the
// worker loop around a rate-limited work queue, with panics turned into
// errors and a result type that says how a key is requeued, the handlers
// that enqueue keys, and the event recorder.
package ctrlutil

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Result tells the worker loop what to do with a key after a sync that
// returned no error. The zero Result means done: the key is forgotten.
type Result struct {
	// RequeueAfter re-adds the key after this long (and forgets its
	// failure history): the way a controller waits for something that
	// produces no event it watches.
	RequeueAfter time.Duration
	// Requeue re-adds the key with the queue's per-key backoff.
	Requeue bool
}

// SyncFunc reconciles one key.
type SyncFunc[T comparable] func(ctx context.Context, key T) (Result, error)

// NewQueue builds a rate-limited queue whose per-key backoff starts at base
// and doubles to max, on clk.
func NewQueue[T comparable](name string, clk clock.WithTicker, base, max time.Duration) workqueue.TypedRateLimitingInterface[T] {
	if base <= 0 {
		base = 5 * time.Millisecond
	}
	if max <= 0 {
		max = 30 * time.Second
	}
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[T](base, max),
		workqueue.TypedRateLimitingQueueConfig[T]{Name: name, Clock: clk},
	)
}

var reconcileIDs atomic.Uint64

// RunWorkers runs n workers on q until ctx ends, then shuts q down and waits
// for the workers to return. Each key is handled by sync; a returned error
// requeues with backoff, a Result as documented on it. A panicking sync is
// recovered and treated as an error.
func RunWorkers[T comparable](ctx context.Context, log *slog.Logger, q workqueue.TypedRateLimitingInterface[T], n int, reconcile SyncFunc[T]) {
	if n <= 0 {
		n = 1
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, log, q, reconcile) {
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func processNext[T comparable](ctx context.Context, log *slog.Logger, q workqueue.TypedRateLimitingInterface[T], sync SyncFunc[T]) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	id := strconv.FormatUint(reconcileIDs.Add(1), 10)
	l := log.With("key", fmt.Sprint(key), "reconcileID", id)
	res, err := safeSync(ctx, key, sync)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			l.Info("sync failed, will retry", "err", err, "retries", q.NumRequeues(key))
		}
		q.AddRateLimited(key)
	case res.RequeueAfter > 0:
		q.Forget(key)
		q.AddAfter(key, res.RequeueAfter)
	case res.Requeue:
		q.AddRateLimited(key)
	default:
		q.Forget(key)
	}
	return true
}

func safeSync[T comparable](ctx context.Context, key T, sync SyncFunc[T]) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in sync of %v: %v", key, r)
		}
	}()
	return sync(ctx, key)
}

// EnqueueObject adds the namespace/name key of an informer event's object
// (or of a deleted object's tombstone) to q.
func EnqueueObject(q workqueue.TypedInterface[string], obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		q.Add(key)
	}
}

// EnqueueHandler is the event handler of a controller's own kind: every
// add, update and delete enqueues the object's key.
func EnqueueHandler(q workqueue.TypedInterface[string]) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { EnqueueObject(q, obj) },
		UpdateFunc: func(_, obj any) { EnqueueObject(q, obj) },
		DeleteFunc: func(obj any) { EnqueueObject(q, obj) },
	}
}

// Events is a controller's event recorder: the one its Config gave, or
// one of its own on an events.k8s.io broadcaster that Start runs.
type Events struct {
	events.EventRecorder
	broadcaster events.EventBroadcasterAdapter // nil when given
}

// NewEvents returns given as the recorder or, when it is nil, a recorder
// for component that writes through client once started.
func NewEvents(client kubernetes.Interface, given events.EventRecorder, component string) Events {
	if given != nil {
		return Events{EventRecorder: given}
	}
	b := events.NewEventBroadcasterAdapter(client)
	return Events{EventRecorder: b.NewRecorder(component), broadcaster: b}
}

// Start writes the recorded events until ctx ends; the returned function
// stops the broadcaster.
func (e Events) Start(ctx context.Context) (stop func()) {
	if e.broadcaster == nil {
		return func() {}
	}
	e.broadcaster.StartRecordingToSink(ctx.Done())
	return e.broadcaster.Shutdown
}

// NodeReady reports whether n's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// RunWhole runs a controller that reconciles everything it owns at once
// (a few objects that depend on each other): every event that relevant
// accepts (nil: every event) from informers queues the one key name, and
// sync runs on one worker until ctx ends. It registers the handlers, waits
// for the caches, syncs once, and removes the handlers on return.
func RunWhole(ctx context.Context, log *slog.Logger, clk clock.WithTicker, maxDelay time.Duration, name string,
	informers []cache.SharedIndexInformer, relevant func(obj any) bool, sync SyncFunc[string]) error {
	queue := NewQueue[string](name, clk, 0, maxDelay)
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if relevant == nil || relevant(obj) {
			queue.Add(name)
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}
	var synced []cache.InformerSynced
	for _, inf := range informers {
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return err
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, inf.HasSynced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		return ctx.Err()
	}
	queue.Add(name)
	RunWorkers(ctx, log, queue, 1, sync)
	return nil
}
