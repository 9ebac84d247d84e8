package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Sync reconciles the Deployment named by key (namespace/name). A missing
// Deployment is done; an error means retry with backoff; a write conflict
// (the cache was behind our own last write) is retried quietly;
// RequeueAfter is set while a rollout is in progress, so the progress
// deadline is checked even if nothing else happens.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	res, err := c.sync(ctx, key)
	if apierrors.IsConflict(err) {
		return ctrlutil.Result{Requeue: true}, nil
	}
	return res, err
}

func (c *Controller) sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	d := cached.DeepCopy()
	sel, ok := selectorOf(d)
	if !ok {
		// Validation refuses empty selectors; one that slipped through
		// must not select every pod in the namespace.
		c.recorder.Eventf(d, nil, corev1.EventTypeWarning, "SelectingAll", "Sync", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return ctrlutil.Result{}, c.updateStatus(ctx, d)
		}
		return ctrlutil.Result{}, nil
	}
	rsList, err := c.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if d.DeletionTimestamp != nil {
		return ctrlutil.Result{}, c.syncStatusOnly(ctx, d, rsList)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return ctrlutil.Result{}, err
	}
	if d.Spec.Paused {
		return ctrlutil.Result{}, c.syncScale(ctx, d, rsList)
	}
	scaling, err := c.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if scaling {
		return ctrlutil.Result{}, c.syncScale(ctx, d, rsList)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		err = c.rolloutRecreate(ctx, d, rsList, sel)
	default:
		err = c.rolloutRolling(ctx, d, rsList)
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	return ctrlutil.Result{RequeueAfter: c.progressCheckIn(d)}, nil
}

// claimReplicaSets returns the ReplicaSets d owns, after adopting matching
// orphans (once a live read confirms d is not being deleted) and releasing
// owned ones that no longer match.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var (
		owned    []*appsv1.ReplicaSet
		errs     []error
		canAdopt *bool
	)
	mayAdopt := func() bool {
		if canAdopt == nil {
			ok := false
			live, err := c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("recheck deployment before adopting: %w", err))
			case live.UID != d.UID:
				errs = append(errs, fmt.Errorf("deployment %s/%s was recreated", d.Namespace, d.Name))
			case live.DeletionTimestamp == nil:
				ok = true
			}
			canAdopt = &ok
		}
		return *canAdopt
	}
	for _, rs := range all {
		matches := sel.Matches(labels.Set(rs.Labels))
		ref := metav1.GetControllerOf(rs)
		switch {
		case ref != nil && ref.UID != d.UID:
		case ref != nil && matches:
			owned = append(owned, rs)
		case ref != nil:
			if d.DeletionTimestamp != nil {
				continue
			}
			patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, d.UID, rs.UID)
			_, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, fmt.Errorf("release replica set %s: %w", rs.Name, err))
			}
		case !matches || d.DeletionTimestamp != nil || rs.DeletionTimestamp != nil:
		case mayAdopt():
			patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
				d.Name, d.UID, rs.UID)
			out, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			switch {
			case err == nil:
				owned = append(owned, out)
			case apierrors.IsNotFound(err) || apierrors.IsInvalid(err):
			default:
				errs = append(errs, fmt.Errorf("adopt replica set %s: %w", rs.Name, err))
			}
		}
	}
	return owned, errors.Join(errs...)
}

// splitReplicaSets returns the new ReplicaSet (the oldest whose template
// matches d's; nil if none) and all the others.
func splitReplicaSets(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	sorted := slices.Clone(rsList)
	slices.SortFunc(sorted, byCreation)
	var newRS *appsv1.ReplicaSet
	var old []*appsv1.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	return newRS, old
}

// updateStatus writes d.Status and refreshes d from the answer.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	out, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*d = *out
	return nil
}

// setDeploymentRevision records the revision on d itself. The status
// subresource keeps metadata as stored, so this is an ordinary update of
// metadata only (spec is sent as read, so generation does not move).
func (c *Controller) setDeploymentRevision(ctx context.Context, d *appsv1.Deployment, revision string) error {
	if d.Annotations[RevisionAnnotation] == revision {
		return nil
	}
	cp := d.DeepCopy()
	cp.Annotations = cloneWith(cp.Annotations, RevisionAnnotation, revision)
	out, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	status := d.Status // keep conditions set locally but not yet written
	*d = *out
	d.Status = status
	return nil
}

// checkPausedConditions records pausing and resuming in Progressing.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(&d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == ReasonTimedOut {
		return nil // a timed-out rollout stays timed out
	}
	pausedCond := cond != nil && cond.Reason == ReasonPaused
	now := metav1.NewTime(c.clock.Now())
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", now))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	return c.updateStatus(ctx, d)
}

// isScalingEvent reports whether replicas changed since the active
// ReplicaSets were sized (their desired-replicas annotation).
func (c *Controller) isScalingEvent(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) (bool, error) {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range activeRSs(append(old, newRS)) {
		if desired, ok := annotatedInt(rs, DesiredReplicasAnnotation); ok && desired != replicasOf(d) {
			return true, nil
		}
	}
	return false, nil
}

// syncStatusOnly refreshes the status of a Deployment being deleted.
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	return c.syncStatus(ctx, append(old, newRS), newRS, d)
}

// syncScale handles a paused Deployment or a replicas change: it resizes
// the ReplicaSets without rolling out, then refreshes the status.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := c.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, append(old, newRS), newRS, d)
}

// syncStatus writes the status computed from the ReplicaSets, if it
// changed; conditions other than Available are left as they are.
func (c *Controller) syncStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := c.calculateStatus(nonNil(allRSs...), newRS, d)
	if statusEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.updateStatus(ctx, d)
}

// progressCheckIn is when to look again at a rollout that might miss its
// progress deadline without any event; 0 when that cannot happen.
func (c *Controller) progressCheckIn(d *appsv1.Deployment) time.Duration {
	cond := getCondition(&d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || cond == nil || cond.Reason == ReasonTimedOut || cond.Reason == ReasonNewRSAvailable {
		return 0
	}
	if complete(d, &d.Status) {
		return 0
	}
	deadline := cond.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second)
	after := deadline.Sub(c.clock.Now())
	if after < time.Second {
		return time.Second
	}
	return after + time.Second
}
