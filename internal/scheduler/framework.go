package scheduler

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Code classifies a filter's verdict on one node.
type Code int

const (
	// Success: the node fits.
	Success Code = iota
	// Unschedulable: the node does not fit now, but evicting pods from it
	// might help (preemption considers it).
	Unschedulable
	// UnschedulableAndUnresolvable: no preemption on this node can help.
	UnschedulableAndUnresolvable
	// Error: the filter could not decide; the cycle is retried with backoff.
	Error
)

func (c Code) String() string {
	switch c {
	case Success:
		return "Success"
	case Unschedulable:
		return "Unschedulable"
	case UnschedulableAndUnresolvable:
		return "UnschedulableAndUnresolvable"
	}
	return "Error"
}

// Status is a filter's verdict; nil means Success. Reasons are the upstream
// human-readable strings ("Insufficient cpu") counted in the
// "0/N nodes are available" summary.
type Status struct {
	Code    Code
	Reasons []string
	// Plugin is the name of the filter that produced the status; the chain
	// fills it in.
	Plugin string
}

func newStatus(code Code, reasons ...string) *Status {
	return &Status{Code: code, Reasons: reasons}
}

// IsSuccess reports whether s is nil or a Success.
func (s *Status) IsSuccess() bool { return s == nil || s.Code == Success }

// Message joins the reasons.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, ", ")
}

// CycleState carries data computed once per pod per cycle (PreFilter,
// PreScore) to the per-node Filter and Score calls. It is owned by one
// scheduling cycle and not safe for concurrent writes; concurrent reads from
// Filter/Score are fine once PreFilter/PreScore have run.
type CycleState struct {
	data map[string]any
	// podInfo is the pod being scheduled, parsed once.
	podInfo *PodInfo
	// nodes is every node info of the cycle, read-only.
	nodes []*NodeInfo
	// skip marks filters whose PreFilter found nothing to check, so their
	// Filter returns at once.
	skip map[string]bool
	// index is the cache's running counts over nodes, read-only; nil when
	// nodes are not exactly the cache's (tests, dry runs), and PreFilters
	// then scan the pods themselves.
	index *podIndex
}

func newCycleState(pi *PodInfo, nodes []*NodeInfo) *CycleState {
	return &CycleState{data: map[string]any{}, podInfo: pi, nodes: nodes, skip: map[string]bool{}}
}

// Filter decides whether one node can run the pod. Implementations are small
// and single-purpose; the order they run in is set in newFilters.
type Filter interface {
	Name() string
	// Filter returns nil when the node fits. It must not modify pod or
	// node; it may read state written by its own PreFilter.
	Filter(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) *Status
}

// PreFilter is implemented by filters that precompute per-pod data once per
// cycle. A non-nil status rejects the pod on every node (the status' reasons
// become the whole summary, as upstream's PreFilter messages do).
type PreFilter interface {
	PreFilter(ctx context.Context, state *CycleState, pod *corev1.Pod) *Status
}

// stateData is a plugin's per-cycle data; clone gives preemption a copy it
// can change while simulating evictions.
type stateData interface{ clone() stateData }

// podDelta is implemented by filters whose PreFilter data depends on other
// pods; preemption calls it to simulate adding or removing a pod on n.
type podDelta interface {
	AddPod(state *CycleState, added *PodInfo, n *NodeInfo)
	RemovePod(state *CycleState, removed *PodInfo, n *NodeInfo)
}

// Clone returns a copy whose plugin data can be changed independently.
func (s *CycleState) Clone() *CycleState {
	c := &CycleState{data: make(map[string]any, len(s.data)), podInfo: s.podInfo, nodes: s.nodes, skip: s.skip, index: s.index}
	for k, v := range s.data {
		if d, ok := v.(stateData); ok {
			v = d.clone()
		}
		c.data[k] = v
	}
	return c
}

// Scorer ranks a feasible node; higher is better. Raw scores may have any
// range; Normalize (when implemented) maps them to 0..MaxNodeScore.
type Scorer interface {
	Name() string
	Score(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) int64
}

// PreScorer is implemented by scorers that precompute per-pod data over the
// feasible nodes before Score is called on each.
type PreScorer interface {
	PreScore(ctx context.Context, state *CycleState, pod *corev1.Pod, feasible []*NodeInfo)
}

// Normalizer rewrites a scorer's raw scores (indexed like the feasible
// nodes) into 0..MaxNodeScore.
type Normalizer interface {
	Normalize(scores []int64)
}

// MaxNodeScore is the top of every normalized score, as upstream.
const MaxNodeScore int64 = 100

// normalize maps scores linearly to 0..MaxNodeScore, highest to the top; with
// reverse the lowest raw score gets the top.
func normalize(scores []int64, reverse bool) {
	var max int64
	for _, s := range scores {
		if s > max {
			max = s
		}
	}
	if max == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = MaxNodeScore * s / max
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
