package scheduler

import (
	"context"
	"fmt"
	"math"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	reasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	reasonNoVictims            = "No preemption victims found for incoming pod"
)

// preemption is the outcome of looking for victims: a node and the pods to
// evict from it, or none (msg explains, in upstream's words).
type preemption struct {
	node    string
	victims []*corev1.Pod
	msg     string
}

// candidate is one node where evicting victims lets the pod fit.
type candidate struct {
	node       string
	victims    []*PodInfo
	violations int
}

// maxCandidates bounds how many candidate nodes are simulated: upstream's
// 10% of the nodes, at least 100.
func maxCandidates(nodes int) int { return max(nodes/10, 100) }

// preempt finds the node where evicting the fewest, lowest-priority pods
// lets pod fit; PodDisruptionBudgets are respected where possible. nodes and
// res come from the failed cycle, under the cache's read lock.
func (c *chain) preempt(ctx context.Context, pod *corev1.Pod, nodes []*NodeInfo, res *result, pdbs []*policyv1.PodDisruptionBudget) preemption {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return preemption{msg: "preemption: not eligible due to preemptionPolicy=Never."}
	}
	if res.preFilter != nil {
		return preemption{msg: fmt.Sprintf("preemption: 0/%d nodes are available: %d %s.", len(nodes), len(nodes), reasonPreemptionNotHelpful)}
	}
	prio := podPriority(pod)
	notHelpful, noVictims := 0, 0
	var cands []candidate
	for _, n := range nodes {
		st := res.statuses[n.Node.Name]
		if st == nil || st.Code != Unschedulable {
			notHelpful++
			continue
		}
		if len(cands) >= maxCandidates(len(nodes)) {
			continue
		}
		cand, ok := c.victimsOn(ctx, pod, prio, n, res.state, pdbs)
		if !ok {
			noVictims++
			continue
		}
		cands = append(cands, cand)
	}
	if len(cands) == 0 {
		var parts []string
		if noVictims > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", noVictims, reasonNoVictims))
		}
		if notHelpful > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", notHelpful, reasonPreemptionNotHelpful))
		}
		sort.Strings(parts)
		msg := fmt.Sprintf("preemption: 0/%d nodes are available:", len(nodes))
		for i, p := range parts {
			if i > 0 {
				msg += ","
			}
			msg += " " + p
		}
		return preemption{msg: msg + "."}
	}
	best := pickCandidate(cands)
	out := preemption{node: best.node}
	for _, v := range best.victims {
		out.victims = append(out.victims, v.Pod)
	}
	return out
}

// victimsOn simulates evicting every lower-priority pod from n; if pod then
// fits, it puts pods back, highest priority first (PDB-protected ones before
// the rest), while pod still fits. What could not go back are the victims.
func (c *chain) victimsOn(ctx context.Context, pod *corev1.Pod, prio int32, n *NodeInfo, state *CycleState, pdbs []*policyv1.PodDisruptionBudget) (candidate, bool) {
	ni := n.Clone()
	st := state.Clone()
	var lower []*PodInfo
	for _, p := range n.Pods {
		if podPriority(p.Pod) < prio {
			lower = append(lower, p)
			ni.RemovePod(string(p.Pod.UID))
			c.removePod(st, p, ni)
		}
	}
	if len(lower) == 0 || !c.filter(ctx, st, pod, ni).IsSuccess() {
		return candidate{}, false
	}
	sort.SliceStable(lower, func(i, j int) bool {
		pi, pj := podPriority(lower[i].Pod), podPriority(lower[j].Pod)
		if pi != pj {
			return pi > pj
		}
		return lower[i].Pod.CreationTimestamp.Before(&lower[j].Pod.CreationTimestamp)
	})
	violating, ok := splitByPDB(lower, pdbs)
	cand := candidate{node: n.Node.Name}
	reprieve := func(p *PodInfo) bool {
		ni.AddPod(p)
		c.addPod(st, p, ni)
		if c.filter(ctx, st, pod, ni).IsSuccess() {
			return true
		}
		ni.RemovePod(string(p.Pod.UID))
		c.removePod(st, p, ni)
		cand.victims = append(cand.victims, p)
		return false
	}
	for _, p := range violating {
		if !reprieve(p) {
			cand.violations++
		}
	}
	for _, p := range ok {
		reprieve(p)
	}
	return cand, len(cand.victims) > 0
}

// splitByPDB separates pods whose eviction would exceed a budget's allowed
// disruptions from the rest, counting down each budget as pods are taken.
func splitByPDB(pods []*PodInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, ok []*PodInfo) {
	allowed := make([]int32, len(pdbs))
	sels := make([]labels.Selector, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
		if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && pdb.Spec.Selector != nil {
			sels[i] = s
		}
	}
	for _, p := range pods {
		violates := false
		for i, pdb := range pdbs {
			if pdb.Namespace != p.Pod.Namespace || sels[i] == nil || sels[i].Empty() || !sels[i].Matches(labels.Set(p.Pod.Labels)) {
				continue
			}
			if _, gone := pdb.Status.DisruptedPods[p.Pod.Name]; gone {
				continue
			}
			allowed[i]--
			if allowed[i] < 0 {
				violates = true
			}
		}
		if violates {
			violating = append(violating, p)
		} else {
			ok = append(ok, p)
		}
	}
	return violating, ok
}

// pickCandidate prefers, in turn: fewest PDB violations, lowest
// highest-victim priority, smallest sum of victim priorities, fewest
// victims; then the first (nodes are in name order).
func pickCandidate(cands []candidate) candidate {
	key := func(c candidate) [4]int64 {
		var highest int64 = math.MinInt32
		var sum int64
		for _, v := range c.victims {
			p := int64(podPriority(v.Pod))
			highest = max(highest, p)
			sum += p + math.MaxInt32 + 1
		}
		return [4]int64{int64(c.violations), highest, sum, int64(len(c.victims))}
	}
	best, bk := cands[0], key(cands[0])
	for _, c := range cands[1:] {
		k := key(c)
		for i := range k {
			if k[i] != bk[i] {
				if k[i] < bk[i] {
					best, bk = c, k
				}
				break
			}
		}
	}
	return best
}
