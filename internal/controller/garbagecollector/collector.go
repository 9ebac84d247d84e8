package garbagecollector

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// DiscoverFunc returns the resources the server serves, one list per group
// version, as discovery.ServerPreferredResources does: it may return
// partial results together with an error.
type DiscoverFunc func() ([]*metav1.APIResourceList, error)

// Config holds what a Collector needs; Metadata, Discover and Mapper are
// required.
type Config struct {
	Metadata metadata.Interface
	Discover DiscoverFunc
	// Mapper maps owner references' apiVersion and kind to resources; it is
	// reset after each discovery and when a kind is not found.
	Mapper meta.ResettableRESTMapper
	// Ignored resources are never watched (default: events, both groups).
	Ignored []schema.GroupResource
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of attemptToDelete workers (default 10); two
	// more handle attemptToOrphan.
	Workers int
	// RediscoveryPeriod is how often the set of watched kinds is refreshed
	// (default 30s).
	RediscoveryPeriod time.Duration
	// MaxRetryDelay caps the backoff of a failing item (default 30s).
	MaxRetryDelay time.Duration
}

// DefaultIgnored are the resources the collector does not watch: events
// are many, short-lived and never owners.
var DefaultIgnored = []schema.GroupResource{
	{Group: "", Resource: "events"},
	{Group: "events.k8s.io", Resource: "events"},
}

// Collector is the garbage collector.
type Collector struct {
	metadata metadata.Interface
	discover DiscoverFunc
	mapper   meta.ResettableRESTMapper
	ignored  []schema.GroupResource
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	period   time.Duration
	maxDelay time.Duration

	graph  *graph
	absent *absentCache

	// Queues are made in New (the graph feeds them before workers run)
	// and shut down when Run returns.
	changes         workqueue.TypedInterface[*event]
	attemptToDelete workqueue.TypedRateLimitingInterface[types.UID]
	attemptToOrphan workqueue.TypedRateLimitingInterface[types.UID]

	mu sync.Mutex // guards monitors
	// monitors holds one informer per watched resource.
	monitors map[schema.GroupVersionResource]*monitor
	// monitorWG tracks the monitors' goroutines.
	monitorWG sync.WaitGroup
}

type monitor struct {
	informer cache.SharedIndexInformer
	stop     context.CancelFunc
}

type eventType int

const (
	upsertEvent eventType = iota
	deleteEvent
)

// event is one informer notification on its way to the graph.
type event struct {
	typ eventType
	gvr schema.GroupVersionResource
	obj *metav1.PartialObjectMetadata
}

// New builds a Collector; it starts nothing.
func New(cfg Config) *Collector {
	c := &Collector{
		metadata: cfg.Metadata,
		discover: cfg.Discover,
		mapper:   cfg.Mapper,
		ignored:  cfg.Ignored,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		workers:  cfg.Workers,
		period:   cfg.RediscoveryPeriod,
		maxDelay: cfg.MaxRetryDelay,
		graph:    newGraph(),
		absent:   newAbsentCache(10000),
		monitors: map[schema.GroupVersionResource]*monitor{},
	}
	if c.ignored == nil {
		c.ignored = DefaultIgnored
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "garbagecollector")
	if c.workers <= 0 {
		c.workers = 10
	}
	if c.period <= 0 {
		c.period = 30 * time.Second
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 30 * time.Second
	}
	c.changes = workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[*event]{Name: "garbagecollector_graph_changes", Clock: c.clock})
	c.attemptToDelete = ctrlutil.NewQueue[types.UID]("garbagecollector_attempt_to_delete", c.clock, 0, c.maxDelay)
	c.attemptToOrphan = ctrlutil.NewQueue[types.UID]("garbagecollector_attempt_to_orphan", c.clock, 0, c.maxDelay)
	return c
}

// Run discovers the deletable kinds, starts their informers and the graph,
// waits for the caches, runs the workers and re-discovers periodically,
// until ctx ends. It returns once everything it started has stopped.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		c.changes.ShutDown()
		c.attemptToDelete.ShutDown()
		c.attemptToOrphan.ShutDown()
		wg.Wait()
		c.stopMonitors()
	}()

	wg.Add(1)
	go func() {
		defer wg.Done()
		for c.processNextChange() {
		}
	}()

	// The first discovery must succeed at least partly before anything
	// else makes sense.
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.resyncMonitors(ctx); err != nil {
			c.log.Info("discovery failed, retrying", "err", err)
		}
		return c.monitorCount() > 0, nil
	})
	if err != nil {
		return nil // ctx ended
	}
	if !cache.WaitForNamedCacheSync("garbagecollector", ctx.Done(), c.Synced) {
		return nil
	}
	c.log.Info("started", "resources", c.monitorCount(), "workers", c.workers)

	wg.Add(3)
	go func() {
		defer wg.Done()
		ctrlutil.RunWorkers(ctx, c.log, c.attemptToDelete, c.workers, c.AttemptToDelete)
	}()
	go func() {
		defer wg.Done()
		ctrlutil.RunWorkers(ctx, c.log, c.attemptToOrphan, 2, c.AttemptToOrphan)
	}()
	go func() {
		defer wg.Done()
		t := c.clock.NewTicker(c.period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				if err := c.resyncMonitors(ctx); err != nil {
					c.log.Info("re-discovery failed", "err", err)
				}
			}
		}
	}()
	<-ctx.Done()
	return nil
}

// resyncMonitors starts informers for newly served deletable resources and
// stops those of resources no longer served (only after a discovery
// without errors, so a group briefly failing is not forgotten).
func (c *Collector) resyncMonitors(ctx context.Context) error {
	lists, err := c.discover()
	want := deletableResources(lists, c.ignored)
	c.mu.Lock()
	defer c.mu.Unlock()
	for gvr := range want {
		if c.monitors[gvr] == nil {
			c.startMonitorLocked(ctx, gvr)
		}
	}
	if err == nil {
		for gvr, m := range c.monitors {
			if !want[gvr] {
				c.log.Info("resource no longer served, stop watching", "resource", gvr.String())
				m.stop()
				delete(c.monitors, gvr)
			}
		}
	}
	c.mapper.Reset()
	return err
}

// deletableResources picks the resources that can be listed, watched and
// deleted, skipping subresources and ignored resources.
func deletableResources(lists []*metav1.APIResourceList, ignored []schema.GroupResource) map[schema.GroupVersionResource]bool {
	out := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			if !slices.Contains(r.Verbs, "delete") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") {
				continue
			}
			if slices.Contains(ignored, schema.GroupResource{Group: gv.Group, Resource: r.Name}) {
				continue
			}
			out[gv.WithResource(r.Name)] = true
		}
	}
	return out
}

// startMonitorLocked starts a metadata informer for gvr; c.mu must be held.
func (c *Collector) startMonitorLocked(ctx context.Context, gvr schema.GroupVersionResource) {
	inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	_ = inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
			m.ManagedFields = nil // never read; saves memory
		}
		return obj, nil
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueChange(upsertEvent, gvr, obj) },
		UpdateFunc: func(_, obj any) { c.enqueueChange(upsertEvent, gvr, obj) },
		DeleteFunc: func(obj any) { c.enqueueChange(deleteEvent, gvr, obj) },
	})
	mctx, stop := context.WithCancel(ctx)
	c.monitors[gvr] = &monitor{informer: inf, stop: stop}
	c.monitorWG.Add(1)
	go func() {
		defer c.monitorWG.Done()
		inf.RunWithContext(mctx)
	}()
}

func (c *Collector) stopMonitors() {
	c.mu.Lock()
	for _, m := range c.monitors {
		m.stop()
	}
	c.mu.Unlock()
	c.monitorWG.Wait()
}

func (c *Collector) monitorCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.monitors)
}

// Synced reports whether every watched resource's informer has synced:
// only then is "no dependent left" in the graph meaningful.
func (c *Collector) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.monitors {
		if !m.informer.HasSynced() {
			return false
		}
	}
	return true
}

// enqueueChange is the informers' only handler: it queues the event.
func (c *Collector) enqueueChange(typ eventType, gvr schema.GroupVersionResource, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	c.changes.Add(&event{typ: typ, gvr: gvr, obj: m})
}

func (c *Collector) processNextChange() bool {
	ev, quit := c.changes.Get()
	if quit {
		return false
	}
	defer c.changes.Done(ev)
	c.ProcessEvent(ev.typ == deleteEvent, ev.gvr, ev.obj)
	return true
}

// ProcessEvent applies one informer event to the graph and queues what it
// calls for. It is exported for tests, which feed the graph directly.
func (c *Collector) ProcessEvent(deleted bool, gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata) {
	var ch change
	if deleted {
		ch = c.graph.remove(gvr, obj.UID)
	} else {
		ch = c.graph.upsert(newNode(gvr, obj))
	}
	for _, uid := range ch.attemptToDelete {
		c.attemptToDelete.Add(uid)
	}
	for _, uid := range ch.attemptToOrphan {
		c.attemptToOrphan.Add(uid)
	}
}

// absentCache remembers owners confirmed absent, keyed by the namespace
// they were looked up in and their UID, so a dependent's siblings do not
// each cost a GET. UIDs are never reused, so entries never go stale; the
// cache is simply cleared when full.
type absentCache struct {
	mu  sync.Mutex // guards m
	max int
	m   map[absentKey]struct{}
}

type absentKey struct {
	namespace string
	uid       types.UID
}

func newAbsentCache(max int) *absentCache {
	return &absentCache{max: max, m: map[absentKey]struct{}{}}
}

func (a *absentCache) has(k absentKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.m[k]
	return ok
}

func (a *absentCache) add(k absentKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.m) >= a.max {
		clear(a.m)
	}
	a.m[k] = struct{}{}
}
