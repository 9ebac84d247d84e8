package statefulset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/history"
	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Sync reconciles the StatefulSet named by key (namespace/name). A
// missing or deleting set is done; an error means retry.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil // terminal: not a key we made
	}
	set, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if set.DeletionTimestamp != nil {
		return ctrlutil.Result{}, nil // the garbage collector removes the pods
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		c.log.Info("invalid selector, not syncing", "statefulset", key, "err", err)
		return ctrlutil.Result{}, nil // terminal until the spec changes
	}
	owner := history.Owner{Meta: set, GVK: kind}

	allPods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	pods, err := history.ClaimPods(ctx, c.client, owner, sel, allPods, func(p *corev1.Pod) bool {
		return ordinalOf(set, p.Name) >= 0
	})
	if err != nil {
		return ctrlutil.Result{}, err
	}
	allRevs, err := c.revisions.ControllerRevisions(ns).List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	revs, err := history.ClaimRevisions(ctx, c.client, owner, sel, allRevs)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	data, err := history.TemplateData(&set.Spec.Template)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	update, collisions, err := history.Ensure(ctx, c.client, owner, set.Spec.Template.Labels, data, revs, set.Status.CollisionCount)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	current := history.Find(revs, set.Status.CurrentRevision)
	if current == nil {
		current = update
	}
	currentTemplate := &set.Spec.Template
	if current.Name != update.Name {
		if currentTemplate, err = history.Template(current); err != nil {
			// A corrupt revision: build everything from the update.
			c.log.Info("unreadable current revision, using update revision", "statefulset", key, "err", err)
			current, currentTemplate = update, &set.Spec.Template
		}
	}

	r := &run{c: c, set: set, now: c.clock.Now(), current: current, update: update,
		currentTemplate: currentTemplate, monotonic: set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement}
	syncErr := r.reconcile(ctx, pods)

	status := r.status(pods)
	status.CollisionCount = collisions
	statusErr := c.updateStatus(ctx, set, status)

	live := sets.New(current.Name, update.Name)
	for _, p := range pods {
		live.Insert(revisionOf(p))
	}
	limit := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
	}
	truncErr := history.Truncate(ctx, c.client, revs, live, limit)

	res := ctrlutil.Result{}
	if r.wait > 0 {
		res.RequeueAfter = r.wait
	}
	return res, errors.Join(syncErr, statusErr, truncErr)
}

// run is the state of one reconcile of one set.
type run struct {
	c               *Controller
	set             *appsv1.StatefulSet
	now             time.Time
	current, update *appsv1.ControllerRevision
	currentTemplate *corev1.PodTemplateSpec
	monotonic       bool
	// created are the pods made by this run (not yet in the cache).
	created []*corev1.Pod
	// wait, if positive, is when to look again for a pod becoming
	// available after minReadySeconds.
	wait time.Duration
}

func (r *run) minReady() time.Duration {
	return time.Duration(r.set.Spec.MinReadySeconds) * time.Second
}

// available reports whether pod counts as available now, and notes
// when to look again if it is ready but not yet for minReadySeconds.
func (r *run) available(pod *corev1.Pod) bool {
	left, ready := availableIn(pod, r.minReady(), r.now)
	if !ready {
		return false
	}
	if left > 0 {
		if r.wait == 0 || left < r.wait {
			r.wait = left
		}
		return false
	}
	return true
}

// partition is the index below which pods stay at the current revision.
func (r *run) partition() int {
	ru := r.set.Spec.UpdateStrategy.RollingUpdate
	if r.set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || ru == nil || ru.Partition == nil {
		return 0
	}
	return int(*ru.Partition)
}

// maxUnavailable is how many pods a rolling update may have down at once.
func (r *run) maxUnavailable() int {
	ru := r.set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		return 1
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, replicas(r.set), true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// reconcile creates, repairs and deletes pods and claims; it returns
// early (nil) wherever OrderedReady must wait.
func (r *run) reconcile(ctx context.Context, pods []*corev1.Pod) error {
	set := r.set
	start, n := startOrdinal(set), replicas(set)
	slots := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		if ord := ordinalOf(set, p.Name); ord >= start && ord < start+n {
			slots[ord-start] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool {
		return ordinalOf(set, condemned[i].Name) > ordinalOf(set, condemned[j].Name)
	})

	// Scale up and repair, lowest ordinal first.
	for i, p := range slots {
		ord := start + i
		if p == nil {
			tmpl, rev := &set.Spec.Template, r.update
			if i < r.partition() {
				tmpl, rev = r.currentTemplate, r.current
			}
			pod := newPod(set, tmpl, rev.Name, ord)
			if err := r.ensureClaims(ctx, pod, ord, false); err != nil {
				r.c.podEvent(set, actionCreate, pod, err)
				return err
			}
			created, err := r.c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
			switch {
			case apierrors.IsAlreadyExists(err):
				// The cache is behind; the pod's event brings us back.
				if r.monotonic {
					return nil
				}
				continue
			case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
				return nil
			case err != nil:
				r.c.podEvent(set, actionCreate, pod, err)
				return fmt.Errorf("create pod %s: %w", pod.Name, err)
			}
			r.c.podEvent(set, actionCreate, created, nil)
			r.c.log.Info("created pod", "statefulset", klog(set), "pod", pod.Name)
			r.created = append(r.created, pod)
			if r.monotonic {
				return nil
			}
			continue
		}
		if finished(p) && !terminating(p) {
			// A failed or completed pod is replaced.
			r.c.recreateEvent(set, p)
			if err := r.deletePod(ctx, p); err != nil {
				return err
			}
			if r.monotonic {
				return nil
			}
			continue
		}
		if !identityMatches(set, p, ord) {
			cp := p.DeepCopy()
			setIdentityLabels(set, cp, ord)
			_, err := r.c.client.CoreV1().Pods(set.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
			// A pod gone or changed since the cache saw it is no failure
			// to report: the next sync looks again.
			if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				r.c.podEvent(set, actionUpdate, p, err)
			}
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("update pod %s identity: %w", p.Name, err)
			}
		}
		if !terminating(p) {
			if err := r.ensureClaims(ctx, p, ord, false); err != nil {
				r.c.podEvent(set, actionUpdate, p, err)
				return err
			}
		}
		if r.monotonic && (terminating(p) || !r.available(p)) {
			return nil
		}
	}

	// Scale down, highest ordinal first.
	for _, p := range condemned {
		if terminating(p) {
			if r.monotonic {
				return nil
			}
			continue
		}
		if err := r.ensureClaims(ctx, p, ordinalOf(set, p.Name), true); err != nil {
			return err
		}
		if err := r.deletePod(ctx, p); err != nil {
			return err
		}
		if r.monotonic {
			return nil
		}
	}

	if set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return nil // OnDelete: the user deletes, we recreate at the update revision
	}
	unavailable := 0
	for _, p := range slots {
		if p == nil || terminating(p) || !r.available(p) {
			unavailable++
		}
	}
	budget := r.maxUnavailable() - unavailable
	for i := n - 1; i >= r.partition(); i-- {
		p := slots[i]
		if p == nil || terminating(p) || revisionOf(p) == r.update.Name {
			continue
		}
		if r.available(p) {
			if budget <= 0 {
				break
			}
			budget--
		}
		if err := r.deletePod(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) deletePod(ctx context.Context, p *corev1.Pod) error {
	err := r.c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID},
	})
	switch {
	case err == nil:
		r.c.podEvent(r.set, actionDelete, p, nil)
		r.c.log.Info("deleted pod", "statefulset", klog(r.set), "pod", p.Name)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		// Already gone (or replaced by a pod with another UID).
	default:
		r.c.podEvent(r.set, actionDelete, p, err)
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	return nil
}

// ensureClaims creates pod's missing claims and sets the owner references
// the retention policy asks for. condemned marks a pod being scaled away.
func (r *run) ensureClaims(ctx context.Context, pod *corev1.Pod, ordinal int, condemned bool) error {
	set := r.set
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		name := claimName(set, t.Name, ordinal)
		existing, err := r.c.claims.PersistentVolumeClaims(set.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			if condemned {
				continue
			}
			pvc := newClaim(set, t, ordinal)
			pvc.OwnerReferences, _ = claimOwners(nil, set, pod, false)
			created, err := r.c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
			switch {
			case apierrors.IsAlreadyExists(err):
				// The cache is behind.
			case err != nil:
				r.c.claimEvent(set, actionCreate, pvc, pod, err)
				return fmt.Errorf("create claim %s: %w", name, err)
			default:
				r.c.claimEvent(set, actionCreate, created, pod, nil)
			}
			continue
		}
		if err != nil {
			if !condemned {
				r.c.claimEvent(set, actionCreate, newClaim(set, t, ordinal), pod, err)
			}
			return err
		}
		if existing.DeletionTimestamp != nil {
			continue
		}
		refs, changed := claimOwners(existing.OwnerReferences, set, pod, condemned)
		if !changed {
			continue
		}
		cp := existing.DeepCopy()
		cp.OwnerReferences = refs
		if _, err := r.c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update claim %s owners: %w", name, err)
		}
	}
	return nil
}

// claimOwners returns refs with the set and pod references the retention
// policy wants: the set owns the claim while WhenDeleted is Delete (and
// the pod is not condemned under WhenScaled Delete); a condemned pod owns
// it when WhenScaled is Delete, so deleting the pod deletes the claim.
// References to other owners are kept.
func claimOwners(refs []metav1.OwnerReference, set *appsv1.StatefulSet, pod *corev1.Pod, condemned bool) ([]metav1.OwnerReference, bool) {
	policy := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		policy = *p
	}
	scaledDelete := condemned && policy.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	wantSet := policy.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType && !scaledDelete
	wantPod := scaledDelete && pod.UID != ""

	var out []metav1.OwnerReference
	haveSet, havePod, changed := false, false, false
	for _, ref := range refs {
		switch {
		case ref.UID == set.UID:
			if !wantSet {
				changed = true
				continue
			}
			haveSet = true
		case ref.Kind == "Pod" && ref.Name == pod.Name:
			if !wantPod || ref.UID != pod.UID {
				changed = true
				continue
			}
			havePod = true
		}
		out = append(out, ref)
	}
	if wantSet && !haveSet {
		out = append(out, metav1.OwnerReference{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Name: set.Name, UID: set.UID})
		changed = true
	}
	if wantPod && !havePod {
		out = append(out, metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID})
		changed = true
	}
	return out, changed
}

// status counts pods (from the cache, plus those this run created).
func (r *run) status(pods []*corev1.Pod) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: r.set.Generation,
		CurrentRevision:    r.current.Name,
		UpdateRevision:     r.update.Name,
	}
	for _, p := range append(append([]*corev1.Pod(nil), pods...), r.created...) {
		if terminating(p) {
			continue
		}
		st.Replicas++
		if _, ready := readySince(p); ready {
			st.ReadyReplicas++
			if r.available(p) {
				st.AvailableReplicas++
			}
		}
		switch revisionOf(p) {
		case r.current.Name:
			st.CurrentReplicas++
		case r.update.Name:
			st.UpdatedReplicas++
		}
	}
	if r.current.Name == r.update.Name {
		st.UpdatedReplicas = st.CurrentReplicas
	}
	// A finished update: the update revision becomes current.
	if st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas && st.Replicas == int32(replicas(r.set)) {
		st.CurrentRevision = st.UpdateRevision
		st.CurrentReplicas = st.UpdatedReplicas
	}
	return st
}

// updateStatus writes status if it differs from set's.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	status.Conditions = set.Status.Conditions
	if apiequality.Semantic.DeepEqual(set.Status, status) {
		return nil
	}
	cp := set.DeepCopy()
	cp.Status = status
	_, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or changed since our cache saw it: the newer version's
		// update event brings the key back.
		return nil
	}
	return err
}

func klog(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }
