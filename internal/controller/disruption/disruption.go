// Package disruption keeps the status of PodDisruptionBudgets: how many of
// the pods a budget covers are expected, healthy and needed healthy, and
// so how many disruptions (evictions) it allows now.
//
// The expected count is the pods' number for an integer minAvailable, and
// otherwise the sum of the desired replicas of the pods' controllers
// (Deployment, ReplicaSet — through its Deployment if it has one —,
// StatefulSet, ReplicationController). A pod is healthy when it is Ready
// and not being deleted. Pods the eviction subresource recorded in
// status.disruptedPods are not counted healthy until they are seen
// deleted, or for two minutes at most.
//
// Handlers enqueue budgets (a pod event enqueues the budgets selecting
// it); Sync writes the status when it changed. Run runs the workers until
// its context ends and waits for them.
package disruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	policyinformers "k8s.io/client-go/informers/policy/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// DeletionTimeout is how long a pod stays in disruptedPods without being
// seen deleted.
const DeletionTimeout = 2 * time.Minute

// Config holds what a Controller needs; all but Clock, Logger, Workers and
// MaxRetryDelay are required.
type Config struct {
	Client                 kubernetes.Interface
	PDBs                   policyinformers.PodDisruptionBudgetInformer
	Pods                   coreinformers.PodInformer
	ReplicationControllers coreinformers.ReplicationControllerInformer
	ReplicaSets            appsinformers.ReplicaSetInformer
	Deployments            appsinformers.DeploymentInformer
	StatefulSets           appsinformers.StatefulSetInformer
	Clock                  clock.WithTicker
	Logger                 *slog.Logger
	Workers                int
	MaxRetryDelay          time.Duration
}

// Controller keeps PodDisruptionBudget status.
type Controller struct {
	client   kubernetes.Interface
	pdbs     cache.SharedIndexInformer
	pdbList  policylisters.PodDisruptionBudgetLister
	pods     cache.SharedIndexInformer
	podList  corelisters.PodLister
	rcList   corelisters.ReplicationControllerLister
	rsList   appslisters.ReplicaSetLister
	depList  appslisters.DeploymentLister
	stsList  appslisters.StatefulSetLister
	synced   []cache.InformerSynced
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:   cfg.Client,
		pdbs:     cfg.PDBs.Informer(),
		pdbList:  cfg.PDBs.Lister(),
		pods:     cfg.Pods.Informer(),
		podList:  cfg.Pods.Lister(),
		rcList:   cfg.ReplicationControllers.Lister(),
		rsList:   cfg.ReplicaSets.Lister(),
		depList:  cfg.Deployments.Lister(),
		stsList:  cfg.StatefulSets.Lister(),
		clock:    cfg.Clock,
		log:      cfg.Logger,
		workers:  cfg.Workers,
		maxDelay: cfg.MaxRetryDelay,
	}
	c.synced = []cache.InformerSynced{
		cfg.ReplicationControllers.Informer().HasSynced, cfg.ReplicaSets.Informer().HasSynced,
		cfg.Deployments.Informer().HasSynced, cfg.StatefulSets.Informer().HasSynced,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "disruption")
	if c.workers <= 0 {
		c.workers = 3
	}
	return c
}

// Run registers the handlers, waits for the caches and runs the workers
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	q := ctrlutil.NewQueue[string]("disruption", c.clock, 0, c.maxDelay)
	onPDB := func(o any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
			q.Add(k)
		}
	}
	onPod := func(o any) {
		if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = tomb.Obj
		}
		pod, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		for _, pdb := range c.budgetsFor(pod) {
			q.Add(pdb.Namespace + "/" + pdb.Name)
		}
	}
	pdbReg, err := c.pdbs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPDB, UpdateFunc: func(_, o any) { onPDB(o) }, DeleteFunc: onPDB,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.pdbs.RemoveEventHandler(pdbReg) }()
	podReg, err := c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, o any) { onPod(o) }, DeleteFunc: onPod,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.pods.RemoveEventHandler(podReg) }()
	synced := append([]cache.InformerSynced{c.pdbs.HasSynced, c.pods.HasSynced, pdbReg.HasSynced, podReg.HasSynced}, c.synced...)
	if !cache.WaitForNamedCacheSync("disruption", ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, q, c.workers, c.Sync)
	return nil
}

func (c *Controller) budgetsFor(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	list, _ := c.pdbList.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	var out []*policyv1.PodDisruptionBudget
	for _, pdb := range list {
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && pdb.Spec.Selector != nil && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pdb)
		}
	}
	return out
}

// Sync recomputes the status of the budget named key.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	cached, err := c.pdbList.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	pdb := cached.DeepCopy()
	now := c.clock.Now()
	pods, err := c.podsFor(pdb)
	if err != nil {
		return ctrlutil.Result{}, err
	}
	var status policyv1.PodDisruptionBudgetStatus
	var requeue time.Duration
	expected, desired, calcErr := c.expectations(pdb, pods)
	if calcErr != nil {
		// Fail safe: allow nothing until the budget can be worked out.
		c.log.Info("cannot compute budget", "pdb", key, "err", calcErr)
		status = pdb.Status
		status.DisruptionsAllowed = 0
		setCondition(&status, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
			Reason: policyv1.SyncFailedReason, Message: calcErr.Error()}, pdb.Generation, now)
		status.ObservedGeneration = pdb.Generation
	} else {
		disrupted, next := c.liveDisruptions(pdb, pods, now)
		healthy := int32(0)
		for _, p := range pods {
			if _, ok := disrupted[p.Name]; ok {
				continue
			}
			if p.DeletionTimestamp == nil && podHealthy(p) {
				healthy++
			}
		}
		status = policyv1.PodDisruptionBudgetStatus{
			ObservedGeneration: pdb.Generation,
			DisruptedPods:      disrupted,
			CurrentHealthy:     healthy,
			DesiredHealthy:     desired,
			ExpectedPods:       expected,
			DisruptionsAllowed: max(healthy-desired, 0),
			Conditions:         pdb.Status.Conditions,
		}
		if status.DisruptionsAllowed > 0 {
			setCondition(&status, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue,
				Reason: policyv1.SufficientPodsReason}, pdb.Generation, now)
		} else {
			setCondition(&status, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
				Reason: policyv1.InsufficientPodsReason}, pdb.Generation, now)
		}
		if !next.IsZero() {
			requeue = next.Sub(now)
		}
	}
	if apiequality.Semantic.DeepEqual(status, pdb.Status) {
		return ctrlutil.Result{RequeueAfter: requeue}, nil
	}
	pdb.Status = status
	_, err = c.client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	return ctrlutil.Result{RequeueAfter: requeue}, nil
}

func (c *Controller) podsFor(pdb *policyv1.PodDisruptionBudget) ([]*corev1.Pod, error) {
	if pdb.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, nil
	}
	return c.podList.Pods(pdb.Namespace).List(sel)
}

// expectations computes expectedPods and desiredHealthy.
func (c *Controller) expectations(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod) (expected, desired int32, err error) {
	if ma := pdb.Spec.MinAvailable; ma != nil && ma.Type == intstr.Int {
		return int32(len(pods)), ma.IntVal, nil
	}
	if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
		return int32(len(pods)), 0, nil
	}
	expected, err = c.scaleOf(pods)
	if err != nil {
		return 0, 0, err
	}
	if ma := pdb.Spec.MinAvailable; ma != nil {
		v, err := scaled(*ma, expected)
		if err != nil {
			return 0, 0, err
		}
		return expected, v, nil
	}
	v, err := scaled(*pdb.Spec.MaxUnavailable, expected)
	if err != nil {
		return 0, 0, err
	}
	return expected, max(expected-v, 0), nil
}

// scaled resolves an int or a percentage of total, rounding up.
func scaled(v intstr.IntOrString, total int32) (int32, error) {
	if v.Type == intstr.Int {
		return v.IntVal, nil
	}
	var pct int
	if _, err := fmt.Sscanf(v.StrVal, "%d%%", &pct); err != nil {
		return 0, fmt.Errorf("invalid value %q: %w", v.StrVal, err)
	}
	return int32(math.Ceil(float64(pct) * float64(total) / 100)), nil
}

// errNoController is returned when a covered pod has no controller whose
// scale could tell how many pods are expected.
var errNoController = errors.New("disruption: found no controller for pod")

// scaleOf sums the desired replicas of the pods' controllers, each counted
// once.
func (c *Controller) scaleOf(pods []*corev1.Pod) (int32, error) {
	seen := map[types.UID]bool{}
	var total int32
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			return 0, fmt.Errorf("%w %s", errNoController, pod.Name)
		}
		uid, replicas, err := c.controllerScale(pod.Namespace, ref)
		if err != nil {
			return 0, err
		}
		if !seen[uid] {
			seen[uid] = true
			total += replicas
		}
	}
	return total, nil
}

func (c *Controller) controllerScale(ns string, ref *metav1.OwnerReference) (types.UID, int32, error) {
	replicas := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	missing := fmt.Errorf("%w: %s %s not found", errNoController, ref.Kind, ref.Name)
	switch ref.Kind {
	case "ReplicaSet":
		rs, err := c.rsList.ReplicaSets(ns).Get(ref.Name)
		if err != nil || rs.UID != ref.UID {
			return "", 0, missing
		}
		if dref := metav1.GetControllerOf(rs); dref != nil && dref.Kind == "Deployment" {
			if d, err := c.depList.Deployments(ns).Get(dref.Name); err == nil && d.UID == dref.UID {
				return d.UID, replicas(d.Spec.Replicas), nil
			}
		}
		return rs.UID, replicas(rs.Spec.Replicas), nil
	case "StatefulSet":
		s, err := c.stsList.StatefulSets(ns).Get(ref.Name)
		if err != nil || s.UID != ref.UID {
			return "", 0, missing
		}
		return s.UID, replicas(s.Spec.Replicas), nil
	case "ReplicationController":
		rc, err := c.rcList.ReplicationControllers(ns).Get(ref.Name)
		if err != nil || rc.UID != ref.UID {
			return "", 0, missing
		}
		return rc.UID, replicas(rc.Spec.Replicas), nil
	case "Deployment":
		d, err := c.depList.Deployments(ns).Get(ref.Name)
		if err != nil || d.UID != ref.UID {
			return "", 0, missing
		}
		return d.UID, replicas(d.Spec.Replicas), nil
	}
	return "", 0, fmt.Errorf("%w: %s %s has no known scale", errNoController, ref.Kind, ref.Name)
}

// liveDisruptions keeps the disruptedPods entries that still stand: the
// pod exists, is not yet deleted, and the entry is younger than
// DeletionTimeout. next is when the first of them expires.
func (c *Controller) liveDisruptions(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Time) {
	if len(pdb.Status.DisruptedPods) == 0 {
		return nil, time.Time{}
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var next time.Time
	for name, at := range pdb.Status.DisruptedPods {
		p := byName[name]
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		expiry := at.Add(DeletionTimeout)
		if !expiry.After(now) {
			continue
		}
		out[name] = at
		if next.IsZero() || expiry.Before(next) {
			next = expiry
		}
	}
	if len(out) == 0 {
		return nil, next
	}
	return out, next
}

func podHealthy(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setCondition adds or replaces the condition, keeping its transition
// time when the status is unchanged.
func setCondition(s *policyv1.PodDisruptionBudgetStatus, c metav1.Condition, gen int64, now time.Time) {
	c.ObservedGeneration = gen
	c.LastTransitionTime = metav1.NewTime(now)
	conds := make([]metav1.Condition, 0, len(s.Conditions)+1)
	found := false
	for _, old := range s.Conditions {
		if old.Type != c.Type {
			conds = append(conds, old)
			continue
		}
		found = true
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		conds = append(conds, c)
	}
	if !found {
		conds = append(conds, c)
	}
	s.Conditions = conds
}
