package replicaset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
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

// Condition reasons of ReplicaFailure.
const (
	ReasonFailedCreate = "FailedCreate"
	ReasonFailedDelete = "FailedDelete"
)

// Sync reconciles the workload named by key (namespace/name): it adopts and
// releases pods, creates or deletes pods to reach spec.replicas unless an
// earlier round is still unobserved, and writes the status. A missing
// workload is done; an error means retry with backoff; a status write
// conflict (the cache was behind) is retried quietly.
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
		return ctrlutil.Result{}, nil // malformed key: nothing to retry
	}
	rs, err := c.kind.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.exp.forget(key)
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	needsSync := c.exp.satisfied(key)
	sel := selectorOf(rs)
	all, err := c.candidatePods(ns, rs.UID)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	active := slices.DeleteFunc(slices.Clone(all), func(p *corev1.Pod) bool { return !isActive(p) })
	owned, err := c.claimPods(ctx, rs, sel, active)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		var deleted []*corev1.Pod
		deleted, manageErr = c.manageReplicas(ctx, key, rs, owned)
		// Pods just deleted no longer count, though the cache still
		// shows them: a Deployment reading this status must not think
		// they are available.
		owned = slices.DeleteFunc(owned, func(p *corev1.Pod) bool { return slices.Contains(deleted, p) })
	}
	status, wait := c.calculateStatus(rs, owned, manageErr)
	if err := c.writeStatus(ctx, rs, status); err != nil {
		return ctrlutil.Result{}, errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return ctrlutil.Result{}, manageErr
	}
	return ctrlutil.Result{RequeueAfter: wait}, nil
}

// isActive reports whether a pod counts toward replicas: not finished and
// not being deleted.
func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// claimPods returns the pods rs owns after adopting matching orphans and
// releasing owned pods that no longer match. Adoption happens only after a
// live read shows rs still exists with the same UID and is not being
// deleted, so a stale cache never adopts into a dying owner.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var (
		owned    []*corev1.Pod
		errs     []error
		canAdopt *bool // decided on first need
	)
	mayAdopt := func() bool {
		if canAdopt == nil {
			ok := false
			live, err := c.kind.getLive(ctx, rs.Namespace, rs.Name)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("recheck %s before adopting: %w", rs.Name, err))
			case live.UID != rs.UID:
				errs = append(errs, fmt.Errorf("%s %s/%s was recreated (UID %s, cached %s)", c.kind.gvk().Kind, rs.Namespace, rs.Name, live.UID, rs.UID))
			case live.DeletionTimestamp == nil:
				ok = true
			}
			canAdopt = &ok
		}
		return *canAdopt
	}
	for _, pod := range pods {
		matches := sel.Matches(labels.Set(pod.Labels))
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != rs.UID:
			// Another controller's pod.
		case ref != nil && matches:
			owned = append(owned, pod)
		case ref != nil:
			// Ours but no longer selected: let it go, unless we are
			// being deleted and the garbage collector needs the link.
			if rs.DeletionTimestamp != nil {
				continue
			}
			if err := c.releasePod(ctx, rs, pod); err != nil {
				errs = append(errs, err)
			}
		case !matches || rs.DeletionTimestamp != nil || pod.DeletionTimestamp != nil:
			// Not ours to take.
		case mayAdopt():
			adopted, err := c.adoptPod(ctx, rs, pod)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, errors.Join(errs...)
}

// adoptPod sets rs as the pod's controller. It returns the patched pod, or
// nil if the pod is gone.
func (c *Controller) adoptPod(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) (*corev1.Pod, error) {
	ref := c.controllerRef(rs)
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
		ref.APIVersion, ref.Kind, ref.Name, ref.UID, pod.UID)
	out, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		// Gone, or replaced by a pod with another UID.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s: %w", pod.Name, err)
	}
	c.log.Debug("adopted pod", "namespace", pod.Namespace, "pod", pod.Name, "owner", rs.Name)
	return out, nil
}

// releasePod removes rs's ownerReference from the pod.
func (c *Controller) releasePod(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, rs.UID, pod.UID)
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return fmt.Errorf("release pod %s: %w", pod.Name, err)
}

func (c *Controller) controllerRef(rs *appsv1.ReplicaSet) *metav1.OwnerReference {
	return metav1.NewControllerRef(rs, c.kind.gvk())
}

// manageReplicas creates or deletes pods so that len(owned) moves toward
// spec.replicas, at most burst at a time, recording expectations first. It
// returns the pods it deleted.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, owned []*corev1.Pod) ([]*corev1.Pod, error) {
	want := 1
	if rs.Spec.Replicas != nil {
		want = int(*rs.Spec.Replicas)
	}
	diff := len(owned) - want
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.exp.expectCreations(key, n)
		created, err := slowStart(n, func() error { return c.createPod(ctx, rs) })
		// Creations never attempted or refused will not be observed.
		for range n - created {
			c.exp.creationObserved(key)
		}
		return nil, err
	case diff > 0:
		n := min(diff, c.burst)
		victims := c.podsToDelete(rs, owned, n)
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = p.Namespace + "/" + p.Name
		}
		c.exp.expectDeletions(key, podKeys)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex // guards errs and deleted
			errs    []error
			deleted []*corev1.Pod
		)
		for i, p := range victims {
			wg.Go(func() {
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
				if err == nil {
					c.recorder.Eventf(rs, p, corev1.EventTypeNormal, "SuccessfulDelete", "Delete", "Deleted pod: %s", p.Name)
					mu.Lock()
					deleted = append(deleted, p)
					mu.Unlock()
					return
				}
				// No deletion event will come for this pod from us.
				c.exp.deletionObserved(key, podKeys[i])
				if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
					return // already gone (or replaced)
				}
				c.recorder.Eventf(rs, nil, corev1.EventTypeWarning, "FailedDelete", "Delete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
				mu.Unlock()
			})
		}
		wg.Wait()
		return deleted, errors.Join(errs...)
	}
	return nil, nil
}

// errNoLabels refuses to create pods no selector could ever match.
var errNoLabels = errors.New("replicaset: pod template has no labels")

// createPod creates one pod from rs's template. A pod that may or may not
// have been created (a timeout) or cannot be created because the namespace
// is terminating counts as success: the informer decides.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := c.newPod(rs)
	if len(pod.Labels) == 0 {
		return errNoLabels
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.recorder.Eventf(rs, created, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %s", created.Name)
		return nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return errNamespaceTerminating
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return nil
	}
	c.recorder.Eventf(rs, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %v", err)
	return err
}

// errNamespaceTerminating stops creations quietly: no pod can be created and
// nothing needs retrying.
var errNamespaceTerminating = errors.New("replicaset: namespace is terminating")

// newPod is the pod rs's template describes, owned by rs.
func (c *Controller) newPod(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*c.controllerRef(rs)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// slowStart calls fn count times in batches of 1, 2, 4, ... running each
// batch in parallel, and stops after the first batch with a failure. It
// returns how many calls succeeded and the failures.
func slowStart(count int, fn func() error) (int, error) {
	done := 0
	for batch := min(1, count); batch > 0; batch = min(2*batch, count-done) {
		errc := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() { errc <- fn() })
		}
		wg.Wait()
		close(errc)
		var errs []error
		for err := range errc {
			if err != nil {
				errs = append(errs, err)
			}
		}
		done += batch - len(errs)
		if len(errs) > 0 {
			err := errors.Join(errs...)
			if onlyTerminating(errs) {
				err = nil
			}
			return done, err
		}
	}
	return done, nil
}

func onlyTerminating(errs []error) bool {
	for _, err := range errs {
		if !errors.Is(err, errNamespaceTerminating) {
			return false
		}
	}
	return true
}

// calculateStatus is rs's status for the owned pods, and how long until a
// ready pod becomes available (0: none pending).
func (c *Controller) calculateStatus(rs *appsv1.ReplicaSet, owned []*corev1.Pod, manageErr error) (appsv1.ReplicaSetStatus, time.Duration) {
	st := *rs.Status.DeepCopy()
	now := c.clock.Now()
	tmpl := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var fully, ready, available int32
	var wait time.Duration
	minReady := time.Duration(rs.Spec.MinReadySeconds) * time.Second
	for _, p := range owned {
		if tmpl.Matches(labels.Set(p.Labels)) {
			fully++
		}
		readySince, ok := podReadySince(p)
		if !ok {
			continue
		}
		ready++
		if left := availableIn(readySince, minReady, now); left == 0 {
			available++
		} else if wait == 0 || left < wait {
			wait = left
		}
	}
	st.Replicas = int32(len(owned))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available

	failure := findCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ReasonFailedCreate
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		if int32(len(owned)) > want {
			reason = ReasonFailedDelete
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		st.Conditions = slices.DeleteFunc(st.Conditions, func(c appsv1.ReplicaSetCondition) bool {
			return c.Type == appsv1.ReplicaSetReplicaFailure
		})
	}
	return st, wait
}

func findCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// podReadySince reports whether the pod is Ready and since when.
func podReadySince(p *corev1.Pod) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time, c.Status == corev1.ConditionTrue
		}
	}
	return time.Time{}, false
}

// availableIn is how long until a pod ready since readySince has been ready
// for minReady; 0 means it is available now. As in Kubernetes, a pod must
// have been ready strictly longer than minReady.
func availableIn(readySince time.Time, minReady time.Duration, now time.Time) time.Duration {
	if minReady == 0 {
		return 0
	}
	if readySince.IsZero() {
		return minReady
	}
	at := readySince.Add(minReady)
	if at.Before(now) {
		return 0
	}
	return at.Sub(now) + time.Millisecond
}

// writeStatus stores st unless it and observedGeneration are unchanged. A
// conflict is retried once on a fresh copy.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) error {
	st.ObservedGeneration = rs.Generation
	if statusEqual(rs.Status, st) {
		return nil
	}
	cp := rs.DeepCopy()
	cp.Status = st
	_, err := c.kind.updateStatus(ctx, cp)
	if !apierrors.IsConflict(err) {
		return err
	}
	live, gerr := c.kind.getLive(ctx, rs.Namespace, rs.Name)
	if gerr != nil || live.UID != rs.UID {
		return err
	}
	st.ObservedGeneration = live.Generation
	live.Status = st
	_, err = c.kind.updateStatus(ctx, live)
	return err
}

func statusEqual(a, b appsv1.ReplicaSetStatus) bool {
	if a.Replicas != b.Replicas || a.FullyLabeledReplicas != b.FullyLabeledReplicas ||
		a.ReadyReplicas != b.ReadyReplicas || a.AvailableReplicas != b.AvailableReplicas ||
		a.ObservedGeneration != b.ObservedGeneration || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message {
			return false
		}
	}
	return true
}
