package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// finalizerName is the spec finalizer this controller owns.
const finalizerName = corev1.FinalizerKubernetes

// DiscoverFunc returns the namespaced resources the server serves, one list
// per group version, as discovery.ServerPreferredNamespacedResources does: it
// may return partial results together with an error.
type DiscoverFunc func() ([]*metav1.APIResourceList, error)

// Config holds what a Controller needs; Client, Metadata, Namespaces and
// Discover are required.
type Config struct {
	Client     kubernetes.Interface
	Metadata   metadata.Interface
	Namespaces coreinformers.NamespaceInformer
	Discover   DiscoverFunc
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers is the number of namespaces finalized at once (default 5).
	Workers int
	// MaxRetryDelay caps the backoff between re-checks of a namespace that
	// still has content (default 30s).
	MaxRetryDelay time.Duration
}

// Controller empties and finalizes deleting namespaces.
type Controller struct {
	client   kubernetes.Interface
	metadata metadata.Interface
	informer cache.SharedIndexInformer
	lister   corelisters.NamespaceLister
	discover DiscoverFunc
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:   cfg.Client,
		metadata: cfg.Metadata,
		informer: cfg.Namespaces.Informer(),
		lister:   cfg.Namespaces.Lister(),
		discover: cfg.Discover,
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
	c.log = c.log.With("controller", "namespace")
	if c.workers <= 0 {
		c.workers = 5
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 30 * time.Second
	}
	return c
}

// Run registers the event handlers, waits for the namespace cache, and runs
// the workers until ctx ends. It returns once every worker has stopped.
func (c *Controller) Run(ctx context.Context) error {
	queue := ctrlutil.NewQueue[string]("namespace", c.clock, 0, c.maxDelay)
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			queue.Add(ns.Name)
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
	if !cache.WaitForNamedCacheSync("namespace", ctx.Done(), c.informer.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, queue, c.workers, c.Sync)
	return nil
}

// Sync reconciles one namespace by name. It is level-based: it reads the
// namespace from the cache and does whatever its deletion still needs.
//
// A returned error means retry with backoff; Result.Requeue means content
// remains and the namespace must be looked at again later.
func (c *Controller) Sync(ctx context.Context, name string) (ctrlutil.Result, error) {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if cached.DeletionTimestamp == nil || !slices.Contains(cached.Spec.Finalizers, finalizerName) {
		return ctrlutil.Result{}, nil
	}
	ns := cached.DeepCopy()
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return ctrlutil.Result{}, ignoreNotFound(err)
		}
	}

	rep, wait := c.deleteContent(ctx, ns.Name)
	if changed := setConditions(&ns.Status, rep.conditions(), c.clock.Now()); changed {
		if _, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return ctrlutil.Result{}, ignoreNotFound(err)
		}
	}
	if err := rep.err(); err != nil {
		return ctrlutil.Result{}, err
	}
	if rep.remaining() {
		c.log.Debug("content remains", "namespace", ns.Name)
		if wait > 0 {
			return ctrlutil.Result{RequeueAfter: wait}, nil
		}
		return ctrlutil.Result{Requeue: true}, nil
	}

	// Empty: hand the namespace back to the API server for removal.
	ns.Spec.Finalizers = slices.DeleteFunc(slices.Clone(ns.Spec.Finalizers), func(f corev1.FinalizerName) bool { return f == finalizerName })
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		return ctrlutil.Result{}, ignoreNotFound(err)
	}
	c.log.Info("namespace finalized", "namespace", ns.Name)
	return ctrlutil.Result{}, nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// resource is one namespaced kind to empty.
type resource struct {
	gvr              schema.GroupVersionResource
	deleteCollection bool
}

// deleteContent deletes everything in namespace ns and reports what is
// left; wait is a hint of how long remaining pods need to terminate.
func (c *Controller) deleteContent(ctx context.Context, ns string) (rep report, wait time.Duration) {
	rep.remainingByResource = map[schema.GroupVersionResource]int{}
	rep.remainingByFinalizer = map[string]int{}
	lists, err := c.discover()
	if err != nil {
		rep.discoveryErr = err
	}
	for _, r := range deletable(lists, &rep) {
		w, err := c.deleteResource(ctx, ns, r, &rep)
		if err != nil {
			rep.contentErrs = append(rep.contentErrs, err)
		}
		wait = max(wait, w)
	}
	return rep, wait
}

// deletable picks the namespaced resources that can be listed and deleted;
// group versions that do not parse are recorded in rep.
func deletable(lists []*metav1.APIResourceList, rep *report) []resource {
	var out []resource
	seen := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			rep.gvErrs = append(rep.gvErrs, fmt.Errorf("couldn't parse GroupVersion %q: %w", l.GroupVersion, err))
			continue
		}
		for _, ar := range l.APIResources {
			if !ar.Namespaced || strings.Contains(ar.Name, "/") {
				continue
			}
			canList := slices.Contains(ar.Verbs, "list")
			canDeleteCollection := slices.Contains(ar.Verbs, "deletecollection")
			canDelete := slices.Contains(ar.Verbs, "delete")
			if !canList || !(canDelete || canDeleteCollection) {
				continue
			}
			gvr := gv.WithResource(ar.Name)
			if seen[gvr] {
				continue
			}
			seen[gvr] = true
			out = append(out, resource{gvr: gvr, deleteCollection: canDeleteCollection})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].gvr.String() < out[j].gvr.String() })
	return out
}

var background = metav1.DeletePropagationBackground

// deleteResource deletes the objects of one kind in ns, lists what is left
// and records it in rep. The duration returned is how long the longest
// remaining grace period still runs.
func (c *Controller) deleteResource(ctx context.Context, ns string, r resource, rep *report) (time.Duration, error) {
	client := c.metadata.Resource(r.gvr).Namespace(ns)
	collected := false
	if r.deleteCollection {
		err := client.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{})
		switch {
		case err == nil:
			collected = true
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
			// Fall back to deleting one by one.
		default:
			return 0, fmt.Errorf("failed to delete collection of %s: %w", r.gvr, err)
		}
	}
	var errs []error
	if !collected {
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, ignoreUnsupported(err, "failed to list %s: %w", r.gvr)
		}
		for i := range list.Items {
			item := &list.Items[i]
			if item.DeletionTimestamp != nil {
				continue
			}
			err := client.Delete(ctx, item.Name, metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &item.UID}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("failed to delete %s %s/%s: %w", r.gvr, ns, item.Name, err))
			}
		}
	}

	// What is still there: held by finalizers, terminating, or just created.
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, errors.Join(append(errs, ignoreUnsupported(err, "failed to list %s: %w", r.gvr))...)
	}
	now := c.clock.Now()
	var wait time.Duration
	for i := range list.Items {
		item := &list.Items[i]
		for _, f := range item.Finalizers {
			rep.remainingByFinalizer[f]++
		}
		if dt := item.DeletionTimestamp; dt != nil && dt.After(now) {
			wait = max(wait, dt.Sub(now))
		}
	}
	if n := len(list.Items); n > 0 {
		rep.remainingByResource[r.gvr] += n
	}
	return wait, errors.Join(errs...)
}

// ignoreUnsupported wraps err unless it says the kind is gone or cannot be
// listed after all (discovery can be a moment out of date).
func ignoreUnsupported(err error, format string, gvr schema.GroupVersionResource) error {
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil
	}
	return fmt.Errorf(format, gvr, err)
}
