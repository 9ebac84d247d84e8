package scheduler

import (
	"context"
	"math"
	"slices"
	"strconv"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

const (
	reasonSpread             = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
)

// podTopologySpread keeps matching pods spread across topology domains:
// DoNotSchedule constraints filter, ScheduleAnyway constraints score. A pod
// without constraints of its own gets the profile's default constraints,
// selecting the pods that what selects it selects (defaultSelector).
type podTopologySpread struct {
	defaults []corev1.TopologySpreadConstraint
	// systemDefaulted: defaults are the system ones, for which a node
	// missing a key still counts and scores in the domains it has.
	systemDefaulted bool
	// defaultSelector returns the selector default constraints use for
	// pod (empty: none apply); nil disables the defaults.
	defaultSelector func(pod *corev1.Pod) labels.Selector
}

var (
	_ Filter     = podTopologySpread{}
	_ PreFilter  = podTopologySpread{}
	_ podDelta   = podTopologySpread{}
	_ Scorer     = podTopologySpread{}
	_ PreScorer  = podTopologySpread{}
	_ Normalizer = podTopologySpread{}
)

func (podTopologySpread) Name() string { return "PodTopologySpread" }

type spreadConstraint struct {
	maxSkew      int32
	key          string
	sel          labels.Selector
	minDomains   int32
	honorAffin   bool
	honorTaints  bool
	whenUnsatHrd bool
}

// constraints returns the constraints of one kind (hard: DoNotSchedule)
// that apply to pod: its own, else the defaults. requireAll reports whether
// a node must carry every constraint's key to count at all (false only for
// the system defaults).
func (p podTopologySpread) constraints(pod *corev1.Pod, hard bool) (cons []spreadConstraint, requireAll bool) {
	if len(pod.Spec.TopologySpreadConstraints) > 0 || len(p.defaults) == 0 || p.defaultSelector == nil {
		return parseConstraints(pod, pod.Spec.TopologySpreadConstraints, hard, nil), true
	}
	sel := p.defaultSelector(pod)
	if sel.Empty() {
		return nil, true
	}
	return parseConstraints(pod, p.defaults, hard, sel), !p.systemDefaulted
}

// parseConstraints parses the constraints of one kind in list; a non-nil
// sel replaces their label selectors (default constraints have none).
func parseConstraints(pod *corev1.Pod, list []corev1.TopologySpreadConstraint, hard bool, sel labels.Selector) []spreadConstraint {
	var out []spreadConstraint
	for _, c := range list {
		if (c.WhenUnsatisfiable == corev1.DoNotSchedule) != hard {
			continue
		}
		if sel != nil {
			out = append(out, newSpreadConstraint(&c, sel))
			continue
		}
		sel := labels.Nothing()
		if c.LabelSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				continue
			}
			sel = s
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					if r, err := labels.NewRequirement(k, "in", []string{v}); err == nil {
						sel = sel.Add(*r)
					}
				}
			}
		}
		out = append(out, newSpreadConstraint(&c, sel))
	}
	return out
}

func newSpreadConstraint(c *corev1.TopologySpreadConstraint, sel labels.Selector) spreadConstraint {
	sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, sel: sel, minDomains: 1, honorAffin: true}
	if c.MinDomains != nil {
		sc.minDomains = *c.MinDomains
	}
	if c.NodeAffinityPolicy != nil && *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyIgnore {
		sc.honorAffin = false
	}
	if c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {
		sc.honorTaints = true
	}
	return sc
}

// spreadState counts matching pods per domain for each constraint.
type spreadState struct {
	cons   []spreadConstraint
	counts []map[string]int
	self   []int
	// requireAll: a node counts only if it carries every constraint's key
	// (else each constraint counts the nodes carrying its own).
	requireAll bool
	// floors are what each constraint's skew is measured from: the
	// smallest domain count, or 0 with fewer than minDomains domains.
	// Kept by setFloors whenever counts change, so Filter does not walk
	// the domains for every node.
	floors []int
}

// setFloors recomputes floors from counts (into a new slice: clones share
// the old one).
func (s *spreadState) setFloors() {
	s.floors = make([]int, len(s.cons))
	for i, c := range s.cons {
		floor := math.MaxInt
		for _, cnt := range s.counts[i] {
			floor = min(floor, cnt)
		}
		if len(s.counts[i]) < int(c.minDomains) || floor == math.MaxInt {
			floor = 0
		}
		s.floors[i] = floor
	}
}

// eligible reports whether n counts for constraint i.
func (s *spreadState) eligible(pod *corev1.Pod, i int, n *NodeInfo) bool {
	if s.requireAll {
		return eligible(pod, s.cons, n)
	}
	return eligible(pod, s.cons[i:i+1], n)
}

func (s *spreadState) clone() stateData {
	c := &spreadState{cons: s.cons, self: s.self, requireAll: s.requireAll, floors: s.floors, counts: make([]map[string]int, len(s.counts))}
	for i, m := range s.counts {
		c.counts[i] = make(map[string]int, len(m))
		for k, v := range m {
			c.counts[i][k] = v
		}
	}
	return c
}

// eligibleByKeys reports whether eligible depends only on the node carrying
// every constraint key: no inclusion policy looks at the pod's node
// selector or affinity, or at taints.
func eligibleByKeys(pod *corev1.Pod, cons []spreadConstraint) bool {
	for _, c := range cons {
		if c.honorTaints {
			return false
		}
		if c.honorAffin {
			if len(pod.Spec.NodeSelector) > 0 {
				return false
			}
			if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				return false
			}
		}
	}
	return true
}

// eligible reports whether n's domains count for pod: it must carry every
// constraint key and honour the inclusion policies.
func eligible(pod *corev1.Pod, cons []spreadConstraint, n *NodeInfo) bool {
	for _, c := range cons {
		if _, ok := n.Node.Labels[c.key]; !ok {
			return false
		}
		if c.honorAffin && !nodematch.PodSpec(&pod.Spec, n.Node) {
			return false
		}
		if c.honorTaints {
			for i := range n.Node.Spec.Taints {
				t := &n.Node.Spec.Taints[i]
				if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !nodematch.Tolerated(pod.Spec.Tolerations, t) {
					return false
				}
			}
		}
	}
	return true
}

// countSpread counts, per constraint, the pods matching its selector in
// each domain of the eligible nodes. The pod itself is never among them: a
// cycle runs only for a pod the cache does not count (and a dry run takes
// it off its node first, see withoutPod).
//
// With the cache's index (idx non-nil) and constraints whose eligibility
// depends on node labels alone, the counts are the index's running totals
// per domain.
func countSpread(pod *corev1.Pod, cons []spreadConstraint, requireAll bool, nodes []*NodeInfo, idx *podIndex) *spreadState {
	s := &spreadState{cons: cons, counts: make([]map[string]int, len(cons)), self: make([]int, len(cons)), requireAll: requireAll}
	keys := make([]string, len(cons))
	for i, c := range cons {
		s.counts[i] = map[string]int{}
		if c.sel.Matches(labels.Set(pod.Labels)) {
			s.self[i] = 1
		}
	}
	if idx != nil && eligibleByKeys(pod, cons) {
		required := make([]string, len(cons))
		for i, c := range cons {
			required[i] = c.key
		}
		for i, c := range cons {
			if !requireAll {
				required = []string{c.key}
			}
			q := selectorQuery{namespaces: sets.New(pod.Namespace), sel: c.sel, key: c.key, required: slices.Clone(required), liveOnly: true}
			idx.selectorCounts(q, nodes, func(v string, _, pods int) { s.counts[i][v] = pods })
		}
		s.setFloors()
		return s
	}
	for i, c := range cons {
		// Everything() and Nothing() both print as "".
		keys[i] = pod.Namespace + "\x00" + strconv.FormatBool(c.sel.Empty()) + "\x00" + c.sel.String()
	}
	for _, n := range nodes {
		if requireAll && !eligible(pod, cons, n) {
			continue
		}
		for i, c := range cons {
			if !requireAll && !eligible(pod, cons[i:i+1], n) {
				continue
			}
			v := n.Node.Labels[c.key]
			s.counts[i][v] += n.countMatching(keys[i], pod.Namespace, c.sel)
		}
	}
	s.setFloors()
	return s
}

func (p podTopologySpread) PreFilter(_ context.Context, state *CycleState, pod *corev1.Pod) *Status {
	cons, requireAll := p.constraints(pod, true)
	if len(cons) == 0 {
		state.skip[p.Name()] = true
		return nil
	}
	state.data[p.Name()] = countSpread(pod, cons, requireAll, state.nodes, state.index)
	return nil
}

func (p podTopologySpread) delta(state *CycleState, o *PodInfo, n *NodeInfo, d int) {
	if state.skip[p.Name()] {
		return
	}
	s := state.data[p.Name()].(*spreadState)
	pod := state.podInfo.Pod
	if o.Pod.Namespace != pod.Namespace {
		return
	}
	for i, c := range s.cons {
		if s.eligible(pod, i, n) && c.sel.Matches(labels.Set(o.Pod.Labels)) {
			s.counts[i][n.Node.Labels[c.key]] += d
		}
	}
	s.setFloors()
}

func (p podTopologySpread) AddPod(state *CycleState, o *PodInfo, n *NodeInfo) {
	p.delta(state, o, n, 1)
}

func (p podTopologySpread) RemovePod(state *CycleState, o *PodInfo, n *NodeInfo) {
	p.delta(state, o, n, -1)
}

func (p podTopologySpread) Filter(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	if state.skip[p.Name()] {
		return nil
	}
	s := state.data[p.Name()].(*spreadState)
	for i, c := range s.cons {
		v, ok := n.Node.Labels[c.key]
		if !ok {
			return newStatus(UnschedulableAndUnresolvable, reasonSpreadMissingLabel)
		}
		if s.counts[i][v]+s.self[i]-s.floors[i] > int(c.maxSkew) {
			return newStatus(Unschedulable, reasonSpread)
		}
	}
	return nil
}

// spreadScore holds the soft constraints' counts and domain weights.
type spreadScore struct {
	s       *spreadState
	weights []float64
}

func (s *spreadScore) clone() stateData { return s }

// PreScore counts matching pods per domain for the ScheduleAnyway
// constraints; domains with many values weigh more (log(n+2)).
func (p podTopologySpread) PreScore(_ context.Context, state *CycleState, pod *corev1.Pod, _ []*NodeInfo) {
	cons, requireAll := p.constraints(pod, false)
	if len(cons) == 0 {
		return
	}
	ss := &spreadScore{s: countSpread(pod, cons, requireAll, state.nodes, state.index)}
	for i := range cons {
		ss.weights = append(ss.weights, math.Log(float64(len(ss.s.counts[i])+2)))
	}
	state.data["PodTopologySpread/score"] = ss
}

// Score returns the weighted count of matching pods in the node's domains
// (lower is better, inverted by Normalize); nodes without a key score -1,
// except under the system defaults, where a missing key adds nothing.
func (p podTopologySpread) Score(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) int64 {
	v, ok := state.data["PodTopologySpread/score"]
	if !ok {
		return 0
	}
	ss := v.(*spreadScore)
	var total float64
	for i, c := range ss.s.cons {
		val, ok := n.Node.Labels[c.key]
		if !ok && !ss.s.requireAll {
			continue
		}
		if !ok {
			return -1
		}
		total += float64(ss.s.counts[i][val]+int(c.maxSkew)-1) * ss.weights[i]
	}
	return int64(math.Round(total * 100))
}

// Normalize: fewest matching pods gets 100; nodes missing a key get 0.
func (p podTopologySpread) Normalize(scores []int64) {
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s < 0 {
			continue
		}
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range scores {
		switch {
		case s < 0:
			scores[i] = 0
		case hi == 0:
			scores[i] = MaxNodeScore
		default:
			scores[i] = MaxNodeScore * (hi + lo - s) / hi
		}
	}
}
