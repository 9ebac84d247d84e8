package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// ErrCacheNotSynced is returned while some watched resource's informer has
// not synced; the item is retried.
var ErrCacheNotSynced = errors.New("garbagecollector: caches not synced")

// ownerState is how one owner reference of a dependent resolved.
type ownerState int

const (
	solid    ownerState = iota // the owner exists
	dangling                   // the owner is confirmed absent
	waiting                    // the owner is being deleted in the foreground
)

// AttemptToDelete looks at one object: a dependent whose owners may be
// gone, or an owner in foreground deletion waiting for its dependents. It
// is level-based and safe to call any number of times.
func (c *Collector) AttemptToDelete(ctx context.Context, uid types.UID) (ctrlutil.Result, error) {
	n := c.graph.get(uid)
	if n == nil {
		return ctrlutil.Result{}, nil // gone, or never observed
	}
	if n.deleting && !n.deletingDependents() {
		return ctrlutil.Result{}, nil
	}
	latest, err := c.getLive(ctx, n.gvr, n.namespace, n.name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if latest.UID != uid {
		return ctrlutil.Result{}, nil // replaced by a namesake; its own events follow
	}
	if latest.DeletionTimestamp != nil {
		if slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			return ctrlutil.Result{}, c.processDeletingDependents(ctx, n, latest)
		}
		return ctrlutil.Result{}, nil
	}
	if len(latest.OwnerReferences) == 0 {
		return ctrlutil.Result{}, nil
	}

	var solids, danglings, waitings []metav1.OwnerReference
	for _, ref := range latest.OwnerReferences {
		st, err := c.classify(ctx, latest.Namespace, ref)
		if err != nil {
			return ctrlutil.Result{}, err
		}
		switch st {
		case solid:
			solids = append(solids, ref)
		case dangling:
			danglings = append(danglings, ref)
		case waiting:
			waitings = append(waitings, ref)
		}
	}
	log := c.log.With("object", objectString(n), "uid", uid)
	switch {
	case len(solids) > 0:
		if len(danglings) == 0 && len(waitings) == 0 {
			return ctrlutil.Result{}, nil
		}
		// Keep the object for its live owners; drop the references to
		// owners that are gone or waiting on their dependents (so they
		// are not held forever).
		drop := map[types.UID]bool{}
		for _, r := range append(danglings, waitings...) {
			drop[r.UID] = true
		}
		log.Info("removing references to absent or deleting owners", "owners", len(drop))
		return ctrlutil.Result{}, c.removeOwnerRefs(ctx, n, drop)
	case len(waitings) > 0 && c.graph.hasDependents(uid):
		log.Info("deleting object in the foreground: an owner is deleting its dependents")
		return ctrlutil.Result{}, c.deleteObject(ctx, n, latest, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		log.Info("deleting object: all owners are gone or deleting", "policy", policy)
		return ctrlutil.Result{}, c.deleteObject(ctx, n, latest, policy)
	}
}

// processDeletingDependents handles an owner in foreground deletion:
// dependents that block it are deleted; when none remain the
// foregroundDeletion finalizer is removed and the server deletes the owner.
func (c *Collector) processDeletingDependents(ctx context.Context, n *node, latest *metav1.PartialObjectMetadata) error {
	if !c.Synced() {
		return ErrCacheNotSynced
	}
	blocking := c.graph.blockingDependents(n.uid)
	if len(blocking) == 0 {
		c.log.Info("no blocking dependents left, removing foregroundDeletion finalizer", "object", objectString(n))
		return c.removeFinalizer(ctx, n, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if !d.deleting {
			c.attemptToDelete.Add(d.uid)
		}
	}
	// The dependents' deletion events bring the owner back here.
	return nil
}

// AttemptToOrphan handles an owner with the orphan finalizer: it removes
// the references to it from all its dependents, then the finalizer.
func (c *Collector) AttemptToOrphan(ctx context.Context, uid types.UID) (ctrlutil.Result, error) {
	n := c.graph.get(uid)
	if !n.orphaning() {
		return ctrlutil.Result{}, nil
	}
	if !c.Synced() {
		return ctrlutil.Result{}, ErrCacheNotSynced
	}
	var errs []error
	for _, d := range c.graph.dependentsOf(uid) {
		if err := c.removeOwnerRefs(ctx, d, map[types.UID]bool{uid: true}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ctrlutil.Result{}, err
	}
	c.log.Info("dependents orphaned, removing orphan finalizer", "object", objectString(n))
	return ctrlutil.Result{}, c.removeFinalizer(ctx, n, metav1.FinalizerOrphanDependents)
}

// classify resolves one owner reference of a dependent in namespace ns
// ("" for a cluster-scoped dependent). Absence is only ever concluded from
// a live read; presence may come from the graph, as a stale "present" only
// delays collection until the owner's deletion event arrives.
func (c *Collector) classify(ctx context.Context, ns string, ref metav1.OwnerReference) (ownerState, error) {
	if c.absent.has(absentKey{ns, ref.UID}) || c.absent.has(absentKey{"", ref.UID}) {
		return dangling, nil
	}
	if o := c.graph.get(ref.UID); o != nil && o.name == ref.Name && (o.namespace == "" || o.namespace == ns) {
		if o.deletingDependents() {
			return waiting, nil
		}
		return solid, nil
	}
	mapping, err := c.restMapping(ref)
	if err != nil {
		return solid, err
	}
	ownerNS := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if ns == "" {
			// A cluster-scoped object cannot be owned by a namespaced one.
			c.log.Info("cluster-scoped object references a namespaced owner; treating it as absent", "owner", ref.Kind+"/"+ref.Name)
			return dangling, nil
		}
		ownerNS = ns
	}
	owner, err := c.getLive(ctx, mapping.Resource, ownerNS, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		c.absent.add(absentKey{ownerNS, ref.UID})
		return dangling, nil
	case err != nil:
		return solid, err
	case owner.UID != ref.UID:
		c.absent.add(absentKey{ownerNS, ref.UID})
		return dangling, nil
	case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
		return waiting, nil
	}
	return solid, nil
}

// restMapping maps a reference's kind, refreshing the mapper once if the
// kind is unknown (it may have been added since the last discovery).
func (c *Collector) restMapping(ref metav1.OwnerReference) (*meta.RESTMapping, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("owner reference %s/%s: %w", ref.Kind, ref.Name, err)
	}
	gk := gv.WithKind(ref.Kind).GroupKind()
	m, err := c.mapper.RESTMapping(gk, gv.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gk, gv.Version)
	}
	return m, err
}

func (c *Collector) getLive(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*metav1.PartialObjectMetadata, error) {
	return c.metadata.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

// deleteObject deletes the object latest describes, only if it is still
// exactly that object (UID and resourceVersion preconditions).
func (c *Collector) deleteObject(ctx context.Context, n *node, latest *metav1.PartialObjectMetadata, policy metav1.DeletionPropagation) error {
	uid, rv := latest.UID, latest.ResourceVersion
	pre := &metav1.Preconditions{UID: &uid}
	if rv != "" {
		pre.ResourceVersion = &rv
	}
	err := c.metadata.Resource(n.gvr).Namespace(n.namespace).Delete(ctx, n.name, metav1.DeleteOptions{Preconditions: pre, PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	// A conflict means the object changed since it was read: retry with
	// a fresh read.
	return err
}

// removeOwnerRefs removes the references to the owners in drop from n,
// re-reading n live and patching with its resourceVersion.
func (c *Collector) removeOwnerRefs(ctx context.Context, n *node, drop map[types.UID]bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := c.getLive(ctx, n.gvr, n.namespace, n.name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if latest.UID != n.uid {
			return nil
		}
		keep := slices.DeleteFunc(slices.Clone(latest.OwnerReferences), func(r metav1.OwnerReference) bool { return drop[r.UID] })
		if len(keep) == len(latest.OwnerReferences) {
			return nil
		}
		return c.patchMeta(ctx, n, latest.ResourceVersion, "ownerReferences", keep)
	})
}

// removeFinalizer removes one finalizer from n, re-reading n live.
func (c *Collector) removeFinalizer(ctx context.Context, n *node, finalizer string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := c.getLive(ctx, n.gvr, n.namespace, n.name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if latest.UID != n.uid || !slices.Contains(latest.Finalizers, finalizer) {
			return nil
		}
		keep := slices.DeleteFunc(slices.Clone(latest.Finalizers), func(f string) bool { return f == finalizer })
		return c.patchMeta(ctx, n, latest.ResourceVersion, "finalizers", keep)
	})
}

// patchMeta sets one metadata list field with a JSON merge patch (which
// works for every kind, custom resources included); the resourceVersion
// in the patch makes it fail with a conflict if the object changed.
func (c *Collector) patchMeta(ctx context.Context, n *node, rv, field string, value any) error {
	m := map[string]any{field: value}
	if reflectEmpty(value) {
		m[field] = nil
	}
	if rv != "" {
		m["resourceVersion"] = rv
	}
	body, err := json.Marshal(map[string]any{"metadata": m})
	if err != nil {
		return err
	}
	_, err = c.metadata.Resource(n.gvr).Namespace(n.namespace).Patch(ctx, n.name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func reflectEmpty(v any) bool {
	switch v := v.(type) {
	case []metav1.OwnerReference:
		return len(v) == 0
	case []string:
		return len(v) == 0
	}
	return false
}

func objectString(n *node) string {
	if n.namespace == "" {
		return n.gvr.Resource + "/" + n.name
	}
	return n.gvr.Resource + "/" + n.namespace + "/" + n.name
}
