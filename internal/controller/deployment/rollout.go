package deployment

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// getAllReplicaSets returns the new ReplicaSet — created if create is set
// and there is none — and the old ones, and brings the new one's revision
// and annotations up to date.
func (c *Controller) getAllReplicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	existing, old := splitReplicaSets(d, rsList)
	newRS, err := c.getNewReplicaSet(ctx, d, existing, old, create)
	return newRS, old, err
}

func (c *Controller) getNewReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	newRevision := maxRevision(old) + 1
	now := metav1.NewTime(c.clock.Now())
	if existing != nil {
		rs := existing.DeepCopy()
		changed := setNewRSAnnotations(d, rs, newRevision, true)
		if changed || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			return c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
		}
		if err := c.setDeploymentRevision(ctx, d, rs.Annotations[RevisionAnnotation]); err != nil {
			return nil, err
		}
		if hasProgressDeadline(d) && getCondition(&d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", rs.Name), now))
			if err := c.updateStatus(ctx, d); err != nil {
				return nil, err
			}
		}
		return rs, nil
	}
	if !create {
		return nil, nil
	}

	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = cloneWith(tmpl.Labels, PodTemplateHashLabel, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = cloneWith(sel.MatchLabels, PodTemplateHashLabel, hash)
	var zero int32
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			Labels:          tmpl.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: tmpl},
	}
	want := c.newRSReplicas(d, append(slices.Clone(old), rs), rs)
	rs.Spec.Replicas = &want
	setNewRSAnnotations(d, rs, newRevision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	alreadyExisted := false
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExisted = true
		cur, gerr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		if ref := metav1.GetControllerOf(cur); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &cur.Spec.Template) {
			// Ours, created by an earlier sync the cache has not shown.
			created, err = cur, nil
			break
		}
		// A hash collision: another template has this name. Bump the
		// collision count so the next sync computes another hash.
		n := int32(0)
		if d.Status.CollisionCount != nil {
			n = *d.Status.CollisionCount
		}
		n++
		d.Status.CollisionCount = &n
		if uerr := c.updateStatus(ctx, d); uerr != nil {
			return nil, uerr
		}
		c.log.Info("pod-template-hash collision", "namespace", d.Namespace, "deployment", d.Name, "replicaSet", rs.Name, "collisionCount", n)
		return nil, err
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, now))
			_ = c.updateStatus(ctx, d)
		}
		c.recorder.Eventf(d, nil, corev1.EventTypeWarning, ReasonFailedRSCreate, "Create", "%s", msg)
		return nil, err
	}
	if !alreadyExisted && want > 0 {
		c.recorder.Eventf(d, created, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale", "Scaled up replica set %s from 0 to %d", created.Name, want)
	}
	if err := c.setDeploymentRevision(ctx, d, strconv.FormatInt(newRevision, 10)); err != nil {
		return nil, err
	}
	if !alreadyExisted && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), now))
		if err := c.updateStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// newRSReplicas is the size the new ReplicaSet may have now: all of
// replicas for Recreate; for RollingUpdate as much as maxSurge leaves room
// for, never more than replicas.
func (c *Controller) newRSReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return replicasOf(d)
	}
	surge := maxSurge(d)
	current := sumSpec(allRSs)
	maxTotal := replicasOf(d) + surge
	if current >= maxTotal {
		return rsReplicas(newRS)
	}
	up := min(maxTotal-current, replicasOf(d)-rsReplicas(newRS))
	return rsReplicas(newRS) + max(up, 0)
}

// scaleRS sets rs to size (and its replicas annotations to d's current
// size); it returns the stored ReplicaSet, or rs if nothing changed.
func (c *Controller) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (*appsv1.ReplicaSet, error) {
	cp := rs.DeepCopy()
	annotations := setReplicasAnnotations(cp, replicasOf(d), replicasOf(d)+maxSurge(d))
	if rsReplicas(rs) == size && !annotations {
		return rs, nil
	}
	from := rsReplicas(rs)
	cp.Spec.Replicas = &size
	out, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	if from != size {
		dir := "up"
		if size < from {
			dir = "down"
		}
		c.recorder.Eventf(d, out, corev1.EventTypeNormal, "ScalingReplicaSet", "Scale", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, size)
	}
	return out, nil
}

// scale resizes the ReplicaSets for a replicas change: the only active one
// (or the latest) takes it all; during a rolling update the change is
// spread in proportion to size.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, old); rs != nil {
		if rsReplicas(rs) == replicasOf(d) {
			return nil
		}
		_, err := c.scaleRS(ctx, rs, replicasOf(d), d)
		return err
	}
	if saturated(d, newRS) {
		for _, rs := range activeRSs(old) {
			if _, err := c.scaleRS(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return nil
	}
	all := activeRSs(append(slices.Clone(old), newRS))
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	if toAdd > 0 {
		slices.SortFunc(all, bySizeNewer)
	} else {
		slices.SortFunc(all, bySizeOlder)
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	// Rounding leftovers go to the largest ReplicaSet.
	if toAdd != added && len(all) > 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	for i, rs := range all {
		if _, err := c.scaleRS(ctx, rs, sizes[i], d); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest returns the one ReplicaSet that should take a resize:
// the only active one, or the newest if none is active; nil if several
// are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := slices.Clone(old)
	slices.SortFunc(sorted, func(a, b *appsv1.ReplicaSet) int { return -byCreation(a, b) })
	active := activeRSs(append(slices.Clone(sorted), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return active[0]
	}
	return nil
}

// saturated reports whether the new ReplicaSet runs all of replicas.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := annotatedInt(rs, DesiredReplicasAnnotation)
	return ok && desired == replicasOf(d) && rsReplicas(rs) == replicasOf(d) && rs.Status.AvailableReplicas == replicasOf(d)
}

// proportion is rs's share of toAdd (negative to remove), given that added
// has been handed out already.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	frac := fraction(rs, d)
	left := toAdd - added
	if toAdd > 0 {
		return min(frac, left)
	}
	return max(frac, left)
}

// fraction is how rs's size changes if the Deployment's maximum moves from
// what rs was sized for (max-replicas) to the current one.
func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	target := replicasOf(d) + maxSurge(d)
	was, ok := annotatedInt(rs, MaxReplicasAnnotation)
	if !ok || was == 0 {
		was = d.Status.Replicas
	}
	if was == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)*target) / float64(was)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// rolloutRolling moves one step of a rolling update.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, true)
	if err != nil {
		return err
	}
	all := nonNil(append(slices.Clone(old), newRS)...)

	scaledUp, err := c.reconcileNewRS(ctx, all, newRS, d)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	scaledDown, err := c.reconcileOldRSs(ctx, all, activeRSs(old), newRS, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// reconcileNewRS grows (or trims) the new ReplicaSet within maxSurge.
func (c *Controller) reconcileNewRS(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if newRS == nil {
		return false, nil
	}
	want := replicasOf(d)
	if rsReplicas(newRS) < want {
		want = c.newRSReplicas(d, all, newRS)
	}
	if want == rsReplicas(newRS) {
		return false, nil
	}
	_, err := c.scaleRS(ctx, newRS, want, d)
	return err == nil && want > rsReplicas(newRS), err
}

// reconcileOldRSs shrinks old ReplicaSets while keeping at least
// replicas-maxUnavailable pods available: unhealthy old pods first, then
// available ones, oldest ReplicaSet first.
func (c *Controller) reconcileOldRSs(ctx context.Context, all, oldActive []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	if sumSpec(oldActive) == 0 {
		return false, nil
	}
	minAvailable := replicasOf(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS)
	if newRS != nil {
		newUnavailable -= newRS.Status.AvailableReplicas
	}
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}

	// First, old pods that are not available cost no availability.
	sorted := slices.Clone(oldActive)
	slices.SortFunc(sorted, byCreation)
	var cleaned int32
	for i, rs := range sorted {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := rsReplicas(rs) - min(rs.Status.AvailableReplicas, rsReplicas(rs))
		if unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		out, err := c.scaleRS(ctx, rs, rsReplicas(rs)-n, d)
		if err != nil {
			return false, err
		}
		sorted[i] = out
		cleaned += n
	}

	// Then available old pods, down to minAvailable. An old ReplicaSet's
	// status can still count pods it has just deleted, so none counts for
	// more than its size.
	var available int32
	for _, rs := range append(slices.Clone(sorted), newRS) {
		if rs != nil {
			available += min(rs.Status.AvailableReplicas, rsReplicas(rs))
		}
	}
	var scaled int32
	if total := available - minAvailable; total > 0 {
		for _, rs := range sorted {
			if scaled >= total {
				break
			}
			if rsReplicas(rs) == 0 {
				continue
			}
			n := min(rsReplicas(rs), total-scaled)
			if _, err := c.scaleRS(ctx, rs, rsReplicas(rs)-n, d); err != nil {
				return false, err
			}
			scaled += n
		}
	}
	return cleaned+scaled > 0, nil
}

// rolloutRecreate scales every old ReplicaSet to zero, waits for their
// pods to be gone, then brings up the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, sel labels.Selector) error {
	newRS, old, err := c.getAllReplicaSets(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	all := nonNil(append(slices.Clone(old), newRS)...)
	scaledDown := false
	for _, rs := range activeRSs(old) {
		if _, err := c.scaleRS(ctx, rs, 0, d); err != nil {
			return err
		}
		scaledDown = true
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	running, err := c.oldPodsRunning(newRS, old, d, sel)
	if err != nil {
		return err
	}
	if running {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		newRS, old, err = c.getAllReplicaSets(ctx, d, rsList, true)
		if err != nil {
			return err
		}
		all = nonNil(append(slices.Clone(old), newRS)...)
	}
	if rsReplicas(newRS) != replicasOf(d) {
		if _, err := c.scaleRS(ctx, newRS, replicasOf(d), d); err != nil {
			return err
		}
	}
	if complete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet may still be
// running (anything but Succeeded or Failed counts).
func (c *Controller) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, d *appsv1.Deployment, sel labels.Selector) (bool, error) {
	oldUIDs := map[string]bool{}
	for _, rs := range old {
		if rs.Status.Replicas > 0 {
			return true, nil
		}
		oldUIDs[string(rs.UID)] = true
	}
	pods, err := c.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return false, err
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil || !oldUIDs[string(ref.UID)] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return true, nil
		}
	}
	return false, nil
}

// cleanup deletes the oldest ReplicaSets beyond revisionHistoryLimit that
// have no pods and whose status is current.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	cleanable := slices.DeleteFunc(slices.Clone(old), func(rs *appsv1.ReplicaSet) bool { return rs == nil || rs.DeletionTimestamp != nil })
	diff := len(cleanable) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	slices.SortFunc(cleanable, byRevision)
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &rs.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}
