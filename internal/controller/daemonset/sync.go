package daemonset

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

// Sync reconciles the DaemonSet named by key (namespace/name). A missing
// or deleting set is done; an error means retry.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	ds, err := c.sets.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.forget(key)
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if ds.DeletionTimestamp != nil {
		return ctrlutil.Result{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		if err == nil {
			c.recorder.Eventf(ds, nil, corev1.EventTypeWarning, ReasonSelectingAll, "Sync",
				"This daemon set is selecting all pods. A non-empty selector is required.")
		}
		c.log.Info("invalid selector, not syncing", "daemonset", key, "err", err)
		return ctrlutil.Result{}, nil
	}
	now := c.clock.Now()
	owner := history.Owner{Meta: ds, GVK: kind}
	allPods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	pods, err := history.ClaimPods(ctx, c.client, owner, sel, allPods, nil)
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
	data, err := history.TemplateData(&ds.Spec.Template)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	update, collisions, err := history.Ensure(ctx, c.client, owner, ds.Spec.Template.Labels, data, revs, ds.Status.CollisionCount)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })

	r := &run{ds: ds, hash: update.Labels[appsv1.ControllerRevisionHashLabelKey], now: now, byNode: map[string][]*corev1.Pod{}}
	for _, p := range pods {
		r.byNode[nodeOf(p)] = append(r.byNode[nodeOf(p)], p)
	}
	for _, ps := range r.byNode {
		sort.Slice(ps, func(i, j int) bool { return olderFirst(ps[i], ps[j]) })
	}

	var syncErr error
	if c.expect.satisfied(key, now) {
		creates, deletes := r.plan(nodes)
		c.finishedEvents(ds, r.finished)
		syncErr = c.act(ctx, key, ds, r, creates, deletes)
	}

	status := r.status(nodes)
	status.CollisionCount = collisions
	statusErr := c.updateStatus(ctx, ds, status)

	live := sets.New(update.Name)
	for _, p := range pods {
		if h := p.Labels[appsv1.ControllerRevisionHashLabelKey]; h != "" {
			live.Insert(history.Name(ds.Name, h))
		}
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	truncErr := history.Truncate(ctx, c.client, revs, live, limit)

	res := ctrlutil.Result{}
	if r.wait > 0 {
		res.RequeueAfter = r.wait
	}
	return res, errors.Join(syncErr, statusErr, truncErr)
}

// run is the state of one reconcile of one DaemonSet.
type run struct {
	ds   *appsv1.DaemonSet
	hash string // the update revision's hash
	now  time.Time
	// byNode are the set's pods by the node they are on or meant for,
	// oldest first.
	byNode map[string][]*corev1.Pod
	// wait, if positive, is when to look again for a pod becoming
	// available after minReadySeconds.
	wait time.Duration
	// finished are the failed and succeeded pods plan deletes from nodes
	// where the daemon may keep running, so that they are replaced.
	finished []*corev1.Pod
}

func olderFirst(a, b *corev1.Pod) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func (r *run) updated(p *corev1.Pod) bool {
	return p.Labels[appsv1.ControllerRevisionHashLabelKey] == r.hash
}

// available reports whether p is running and ready for minReadySeconds.
func (r *run) available(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status != corev1.ConditionTrue {
			return false
		}
		left := c.LastTransitionTime.Add(time.Duration(r.ds.Spec.MinReadySeconds) * time.Second).Sub(r.now)
		if left > 0 {
			if r.wait == 0 || left < r.wait {
				r.wait = left
			}
			return false
		}
		return true
	}
	return false
}

func ready(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// alive are the pods on node that are neither deleting nor finished.
func (r *run) alive(node string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range r.byNode[node] {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			out = append(out, p)
		}
	}
	return out
}

// plan returns the nodes that need a pod and the pods to delete.
func (r *run) plan(nodes []*corev1.Node) (creates []string, deletes []*corev1.Pod) {
	surge, maxUnavailable := r.rollingLimits(nodes)
	rolling := r.ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType
	known := map[string]bool{}
	unavailable := 0
	// Nodes whose only pod is old and available, candidates for replacing.
	var replaceable []string
	surging := 0
	for _, node := range nodes {
		known[node.Name] = true
		shouldRun, mayContinue := placement(r.ds, node)
		all := r.byNode[node.Name]
		alive := r.alive(node.Name)
		for _, p := range all {
			if p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded) {
				deletes = append(deletes, p) // replaced once gone
				if mayContinue {
					r.finished = append(r.finished, p)
				}
			}
		}
		switch {
		case !shouldRun && !mayContinue, !shouldRun && len(alive) == 0:
			if !mayContinue {
				deletes = append(deletes, alive...)
			}
			continue
		case !shouldRun:
			// Tainted NoSchedule after the pod started: it may stay.
			continue
		case len(all) == 0:
			creates = append(creates, node.Name)
			unavailable++
			continue
		case len(alive) == 0:
			unavailable++ // waiting for the failed or deleting pod to go
			continue
		}
		var oldPods, newPods []*corev1.Pod
		for _, p := range alive {
			if rolling && !r.updated(p) {
				oldPods = append(oldPods, p)
			} else {
				newPods = append(newPods, p)
			}
		}
		// Keep the oldest new pod, or else the oldest old pod; a second
		// pod is only kept while a surge replaces an old one.
		switch {
		case len(newPods) > 0:
			deletes = append(deletes, newPods[1:]...)
			if len(oldPods) > 0 {
				surging++
				if r.available(newPods[0]) {
					deletes = append(deletes, oldPods...)
				} else {
					deletes = append(deletes, oldPods[1:]...)
				}
			}
			if !r.available(newPods[0]) {
				unavailable++
			}
		default:
			deletes = append(deletes, oldPods[1:]...)
			if r.available(oldPods[0]) {
				replaceable = append(replaceable, node.Name)
			} else {
				// An old pod that is not serving anyway is replaced at once.
				deletes = append(deletes, oldPods[0])
				unavailable++
			}
		}
	}
	for node, ps := range r.byNode {
		if known[node] || node == "" {
			continue
		}
		for _, p := range ps {
			if p.DeletionTimestamp == nil {
				deletes = append(deletes, p) // its node is gone
			}
		}
	}
	if !rolling {
		return creates, deletes
	}
	for _, node := range replaceable {
		old := r.alive(node)[0]
		switch {
		case surge > 0:
			if surging < surge {
				creates = append(creates, node)
				surging++
			}
		case unavailable < maxUnavailable:
			deletes = append(deletes, old)
			unavailable++
		}
	}
	return creates, deletes
}

// rollingLimits resolves maxSurge and maxUnavailable against the number
// of nodes that should run the daemon.
func (r *run) rollingLimits(nodes []*corev1.Node) (surge, unavailable int) {
	ru := r.ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return 0, 1
	}
	desired := 0
	for _, n := range nodes {
		if ok, _ := placement(r.ds, n); ok {
			desired++
		}
	}
	scaled := func(v *intstr.IntOrString, up bool) int {
		if v == nil {
			return 0
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(v, desired, up)
		if err != nil {
			return 0
		}
		return n
	}
	surge = scaled(ru.MaxSurge, true)
	unavailable = scaled(ru.MaxUnavailable, true)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// act creates pods on nodes and deletes pods, recording expectations
// first so a stale cache does not make us repeat them.
func (c *Controller) act(ctx context.Context, key string, ds *appsv1.DaemonSet, r *run, creates []string, deletes []*corev1.Pod) error {
	if len(creates) == 0 && len(deletes) == 0 {
		return nil
	}
	c.expect.expect(key, len(creates), len(deletes), r.now)
	var errs []error
	for _, node := range creates {
		pod := newPod(ds, r.hash, node)
		created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			c.expect.observed(key, true) // no event will come
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				continue
			}
			c.recorder.Eventf(ds, pod, corev1.EventTypeWarning, ReasonFailedCreate, "Create", "Error creating: %v", err)
			errs = append(errs, fmt.Errorf("create pod on %s: %w", node, err))
			continue
		}
		c.recorder.Eventf(ds, created, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Create", "Created pod: %s", created.Name)
		c.log.Info("created pod", "daemonset", key, "pod", created.Name, "node", node)
	}
	seen := map[*corev1.Pod]bool{}
	for _, p := range deletes {
		if seen[p] {
			c.expect.observed(key, false)
			continue
		}
		seen[p] = true
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &p.UID},
		})
		if err != nil {
			c.expect.observed(key, false)
			// Not found, or a conflict on the UID precondition: the pod
			// is already gone.
			if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				c.recorder.Eventf(ds, p, corev1.EventTypeWarning, ReasonFailedDelete, "Delete", "Error deleting: %v", err)
				errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
			}
			continue
		}
		c.recorder.Eventf(ds, p, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Delete", "Deleted pod: %s", p.Name)
		c.log.Info("deleted pod", "daemonset", key, "pod", p.Name, "node", nodeOf(p))
	}
	return errors.Join(errs...)
}

// newPod is ds's pod for node at the revision with hash.
func newPod(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	pod := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Name = ""
	pod.GenerateName = ds.Name + "-"
	pod.Namespace = ds.Namespace
	pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(ds, kind)}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.ControllerRevisionHashLabelKey] = hash
	pod.Spec.Tolerations = withDaemonTolerations(&t.Spec)
	pinToNode(pod, node)
	return pod
}

// status counts, per node, what kubectl and users read.
func (r *run) status(nodes []*corev1.Node) appsv1.DaemonSetStatus {
	st := appsv1.DaemonSetStatus{ObservedGeneration: r.ds.Generation}
	for _, node := range nodes {
		shouldRun, _ := placement(r.ds, node)
		alive := r.alive(node.Name)
		if !shouldRun {
			if len(alive) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(alive) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		// The pod that counts is the newest-revision one if there is one.
		pod := alive[0]
		for _, p := range alive {
			if r.updated(p) {
				pod = p
				st.UpdatedNumberScheduled++
				break
			}
		}
		if ready(pod) {
			st.NumberReady++
		}
		if r.available(pod) {
			st.NumberAvailable++
		}
	}
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	return st
}

// updateStatus writes status if it differs from ds's.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, status appsv1.DaemonSetStatus) error {
	status.Conditions = ds.Status.Conditions
	if apiequality.Semantic.DeepEqual(ds.Status, status) {
		return nil
	}
	cp := ds.DeepCopy()
	cp.Status = status
	_, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or changed since our cache saw it: the newer version's
		// update event brings the key back.
		return nil
	}
	return err
}
