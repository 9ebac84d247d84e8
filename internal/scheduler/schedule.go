package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Explanation says why a cycle placed a pod where it did, or why it could
// not: the filter that rejected each examined node, and each weighted score
// of the feasible ones.
type Explanation struct {
	Pod string `json:"pod"`
	// Node is the chosen node ("" when none fit).
	Node string `json:"node,omitempty"`
	// Message is the FailedScheduling summary when no node fit.
	Message string `json:"message,omitempty"`
	// Total is the number of nodes, Examined how many the filters saw
	// (percentageOfNodesToScore may stop early).
	Total    int               `json:"total"`
	Examined int               `json:"examined"`
	Nodes    []NodeExplanation `json:"nodes,omitempty"`
}

// NodeExplanation is one node's verdict: a rejection (Filter, Code,
// Reasons) or its scores.
type NodeExplanation struct {
	Node    string        `json:"node"`
	Filter  string        `json:"filter,omitempty"`
	Code    string        `json:"code,omitempty"`
	Reasons []string      `json:"reasons,omitempty"`
	Scores  []PluginScore `json:"scores,omitempty"`
	Total   int64         `json:"total,omitempty"`
}

// PluginScore is one scorer's normalized score times its weight.
type PluginScore struct {
	Plugin string `json:"plugin"`
	Score  int64  `json:"score"`
	Weight int64  `json:"weight"`
}

// String renders the explanation as text, one node a line.
func (e *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s: ", e.Pod)
	if e.Node != "" {
		fmt.Fprintf(&b, "assigned to %s", e.Node)
	} else {
		b.WriteString(e.Message)
	}
	fmt.Fprintf(&b, " (%d/%d nodes examined)\n", e.Examined, e.Total)
	for _, n := range e.Nodes {
		if n.Filter != "" {
			fmt.Fprintf(&b, "  %s: rejected by %s: %s\n", n.Node, n.Filter, strings.Join(n.Reasons, ", "))
			continue
		}
		fmt.Fprintf(&b, "  %s: score %d", n.Node, n.Total)
		for _, s := range n.Scores {
			fmt.Fprintf(&b, " %s=%d×%d", s.Plugin, s.Score, s.Weight)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// result is a cycle's outcome.
type result struct {
	node string
	// statuses holds each rejected node's status (nil key: a PreFilter
	// rejected the pod everywhere, see preFilter).
	statuses  map[string]*Status
	preFilter *Status
	state     *CycleState
	total     int
	expl      *Explanation
	plugins   sets.Set[string]
}

// numFeasibleNodesToFind is how many feasible nodes a cycle looks for before
// scoring: all of them in clusters under 100 nodes, else pct percent
// (adaptive when 0: 50% − nodes/125, at least 5%), but at least 100.
func numFeasibleNodesToFind(pct int32, nodes int) int {
	const minFeasible, minPct = 100, 5
	if nodes < minFeasible || pct >= 100 {
		return nodes
	}
	p := int(pct)
	if p <= 0 {
		p = max(50-nodes/125, minPct)
	}
	return max(nodes*p/100, minFeasible)
}

// nominatedFunc returns the pods nominated to a node that should be counted
// as if they were there when scheduling a pod of the given priority.
type nominatedFunc func(node string, priority int32, except string) []*PodInfo

// findNode runs one cycle's filters and scores over nodes, which the caller
// holds under the cache's read lock; idx is the cache's index of them (nil:
// the PreFilters scan the nodes). start is where the last cycle stopped; it
// returns where the next should start.
func (c *chain) findNode(ctx context.Context, pod *corev1.Pod, nodes []*NodeInfo, idx *podIndex, start int, pct int32, nominated nominatedFunc, rnd *rand.Rand, full bool) (*result, int) {
	pi := newPodInfo(pod)
	state := newCycleState(pi, nodes)
	state.index = idx
	res := &result{statuses: map[string]*Status{}, state: state, total: len(nodes), plugins: sets.New[string]()}
	res.expl = &Explanation{Pod: podKey(pod), Total: len(nodes)}
	if len(nodes) == 0 {
		return res, start
	}
	for _, f := range c.filters {
		pf, ok := f.(PreFilter)
		if !ok {
			continue
		}
		if st := pf.PreFilter(ctx, state, pod); !st.IsSuccess() {
			st.Plugin = f.Name()
			res.preFilter = st
			res.plugins.Insert(f.Name())
			return res, start
		}
	}
	want := numFeasibleNodesToFind(pct, len(nodes))
	var feasible []*NodeInfo
	examine := func(n *NodeInfo) bool {
		st := c.filterWithNominated(ctx, state, pod, n, nominated)
		if st.IsSuccess() {
			feasible = append(feasible, n)
			return true
		}
		res.statuses[n.Node.Name] = st
		res.plugins.Insert(st.Plugin)
		res.expl.Nodes = append(res.expl.Nodes, NodeExplanation{Node: n.Node.Name, Filter: st.Plugin, Code: st.Code.String(), Reasons: st.Reasons})
		return false
	}
	// A nominated node (from an earlier preemption) is tried first and
	// taken at once if it fits.
	if nn := pod.Status.NominatedNodeName; nn != "" {
		i := sort.Search(len(nodes), func(i int) bool { return nodes[i].Node.Name >= nn })
		if i < len(nodes) && nodes[i].Node.Name == nn && examine(nodes[i]) {
			res.node = nn
			res.expl.Examined = 1
			res.expl.Node = nn
			return res, start
		}
	}
	examined := 0
	for ; examined < len(nodes) && len(feasible) < want; examined++ {
		n := nodes[(start+examined)%len(nodes)]
		if n.Node.Name == pod.Status.NominatedNodeName && res.statuses[n.Node.Name] != nil {
			continue
		}
		examine(n)
	}
	res.expl.Examined = examined
	next := (start + examined) % len(nodes)
	if len(feasible) == 0 {
		return res, next
	}
	res.node = c.score(ctx, state, pod, feasible, rnd, res.expl, full)
	res.expl.Node = res.node
	return res, next
}

// filterWithNominated runs the filter chain on n, counting pods nominated
// there with at least the pod's priority as if they already ran on it.
func (c *chain) filterWithNominated(ctx context.Context, state *CycleState, pod *corev1.Pod, n *NodeInfo, nominated nominatedFunc) *Status {
	if nominated != nil {
		if noms := nominated(n.Node.Name, podPriority(pod), string(pod.UID)); len(noms) > 0 {
			n = n.Clone()
			state = state.Clone()
			for _, p := range noms {
				n.AddPod(p)
				c.addPod(state, p, n)
			}
		}
	}
	return c.filter(ctx, state, pod, n)
}

// filter runs the filters in order and returns the first rejection.
func (c *chain) filter(ctx context.Context, state *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	for _, f := range c.filters {
		if st := f.Filter(ctx, state, pod, n); !st.IsSuccess() {
			st.Plugin = f.Name()
			return st
		}
	}
	return nil
}

func (c *chain) addPod(state *CycleState, p *PodInfo, n *NodeInfo) {
	for _, f := range c.filters {
		if d, ok := f.(podDelta); ok && state.data[f.Name()] != nil {
			d.AddPod(state, p, n)
		}
	}
}

func (c *chain) removePod(state *CycleState, p *PodInfo, n *NodeInfo) {
	for _, f := range c.filters {
		if d, ok := f.(podDelta); ok && state.data[f.Name()] != nil {
			d.RemovePod(state, p, n)
		}
	}
}

// topExplained is how many of the best-scoring nodes a successful cycle's
// explanation keeps (unless full).
const topExplained = 5

// score ranks the feasible nodes and returns the best; ties are broken at
// random so equal nodes share the load.
func (c *chain) score(ctx context.Context, state *CycleState, pod *corev1.Pod, feasible []*NodeInfo, rnd *rand.Rand, expl *Explanation, full bool) string {
	if len(feasible) == 1 && !full {
		expl.Nodes = append(expl.Nodes, NodeExplanation{Node: feasible[0].Node.Name})
		return feasible[0].Node.Name
	}
	for _, s := range c.scorers {
		if ps, ok := s.Scorer.(PreScorer); ok {
			ps.PreScore(ctx, state, pod, feasible)
		}
	}
	totals := make([]int64, len(feasible))
	per := make([][]int64, len(c.scorers))
	for i, s := range c.scorers {
		scores := make([]int64, len(feasible))
		for j, n := range feasible {
			scores[j] = s.Score(ctx, state, pod, n)
		}
		if nz, ok := s.Scorer.(Normalizer); ok {
			nz.Normalize(scores)
		}
		for j := range scores {
			totals[j] += scores[j] * s.weight
		}
		per[i] = scores
	}
	best, ties := 0, 1
	for j := 1; j < len(feasible); j++ {
		switch {
		case totals[j] > totals[best]:
			best, ties = j, 1
		case totals[j] == totals[best]:
			ties++
			if rnd.IntN(ties) == 0 {
				best = j
			}
		}
	}
	idx := make([]int, len(feasible))
	for j := range idx {
		idx[j] = j
	}
	sort.SliceStable(idx, func(a, b int) bool { return totals[idx[a]] > totals[idx[b]] })
	if !full && len(idx) > topExplained {
		idx = idx[:topExplained]
	}
	for _, j := range idx {
		ne := NodeExplanation{Node: feasible[j].Node.Name, Total: totals[j]}
		for i, s := range c.scorers {
			ne.Scores = append(ne.Scores, PluginScore{Plugin: s.Name(), Score: per[i][j], Weight: s.weight})
		}
		expl.Nodes = append(expl.Nodes, ne)
	}
	return feasible[best].Node.Name
}

// fitMessage renders upstream's summary: "0/N nodes are available: " and the
// count of each reason, sorted, then the preemption summary if any.
func fitMessage(res *result, postFilter string) string {
	msg := fmt.Sprintf("0/%d nodes are available:", res.total)
	if res.preFilter != nil {
		msg += fmt.Sprintf(" %s.", res.preFilter.Message())
	} else if h := histogram(res.statuses); h != "" {
		msg += fmt.Sprintf(" %s.", h)
	}
	if postFilter != "" {
		msg += fmt.Sprintf(" %s", postFilter)
	}
	return msg
}

// histogram counts each reason over the statuses: "2 Insufficient cpu, 3
// node(s) had untolerated taint {k: v}" (sorted as strings, as upstream).
func histogram(statuses map[string]*Status) string {
	counts := map[string]int{}
	for _, st := range statuses {
		for _, r := range st.Reasons {
			counts[r]++
		}
	}
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
