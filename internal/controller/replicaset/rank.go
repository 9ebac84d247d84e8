package replicaset

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// PodDeletionCostAnnotation lets users say which pods of a ReplicaSet go
// first on scale-down: lower cost first.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n owned pods to delete, best candidates first.
func (c *Controller) podsToDelete(rs *appsv1.ReplicaSet, owned []*corev1.Pod, n int) []*corev1.Pod {
	if n >= len(owned) {
		return owned
	}
	// Pods of sibling workloads (same controlling owner, e.g. the
	// Deployment) count toward doubling up on a node.
	perNode := map[string]int{}
	for _, p := range c.relatedPods(rs, owned) {
		if p.Spec.NodeName != "" && isActive(p) {
			perNode[p.Spec.NodeName]++
		}
	}
	now := c.clock.Now()
	ranked := make([]rankedPod, len(owned))
	for i, p := range owned {
		ranked[i] = newRankedPod(p, perNode[p.Spec.NodeName], now)
	}
	slices.SortStableFunc(ranked, compareForDeletion)
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}

// relatedPods are the pods owned by rs and by every workload sharing rs's
// controlling owner; just rs's own when it has none.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet, owned []*corev1.Pod) []*corev1.Pod {
	ref := metav1.GetControllerOf(rs)
	if ref == nil {
		return owned
	}
	siblings, err := c.kind.list(rs.Namespace)
	if err != nil {
		return owned
	}
	uids := map[types.UID]bool{}
	for _, s := range siblings {
		if r := metav1.GetControllerOf(s); r != nil && r.UID == ref.UID {
			uids[s.UID] = true
		}
	}
	var out []*corev1.Pod
	if c.podIndex != nil {
		for uid := range uids {
			pods, err := c.podsControlledBy(rs.Namespace, uid)
			if err != nil {
				return owned
			}
			out = append(out, pods...)
		}
		return out
	}
	pods, err := c.podLister.Pods(rs.Namespace).List(labels.Everything())
	if err != nil {
		return owned
	}
	for _, p := range pods {
		if r := metav1.GetControllerOf(p); r != nil && uids[r.UID] {
			out = append(out, p)
		}
	}
	return out
}

// rankedPod caches what compareForDeletion looks at.
type rankedPod struct {
	pod        *corev1.Pod
	assigned   bool
	phase      int // Pending 0, Unknown 1, Running 2
	ready      bool
	readyFor   time.Duration
	cost       int64
	doubledUp  int // related pods on the same node
	restarts   int32
	created    time.Time
	hasCreated bool
}

func newRankedPod(p *corev1.Pod, onNode int, now time.Time) rankedPod {
	r := rankedPod{pod: p, assigned: p.Spec.NodeName != "", doubledUp: onNode}
	switch p.Status.Phase {
	case corev1.PodPending, "":
		r.phase = 0
	case corev1.PodUnknown:
		r.phase = 1
	default:
		r.phase = 2
	}
	if since, ok := podReadySince(p); ok {
		r.ready = true
		if !since.IsZero() {
			r.readyFor = now.Sub(since)
		}
	}
	if v, ok := p.Annotations[PodDeletionCostAnnotation]; ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			r.cost = n
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		r.restarts = max(r.restarts, cs.RestartCount)
	}
	r.created, r.hasCreated = p.CreationTimestamp.Time, !p.CreationTimestamp.IsZero()
	return r
}

// compareForDeletion orders pods best-to-delete first: unassigned, then
// earlier phase, not ready, lower deletion cost, more doubled up, ready for
// less time, more restarts, newer.
func compareForDeletion(a, b rankedPod) int {
	if a.assigned != b.assigned {
		return boolFirst(!a.assigned)
	}
	if c := cmp.Compare(a.phase, b.phase); c != 0 {
		return c
	}
	if a.ready != b.ready {
		return boolFirst(!a.ready)
	}
	if c := cmp.Compare(a.cost, b.cost); c != 0 {
		return c
	}
	if c := cmp.Compare(b.doubledUp, a.doubledUp); c != 0 {
		return c
	}
	if a.ready && b.ready {
		if c := cmp.Compare(a.readyFor, b.readyFor); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(b.restarts, a.restarts); c != 0 {
		return c
	}
	if a.hasCreated != b.hasCreated {
		return boolFirst(!a.hasCreated)
	}
	return b.created.Compare(a.created)
}

// boolFirst is -1 when the pod it is asked about goes first, else 1.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}
