package scheduler

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	reasonAffinity         = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity     = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAntiRule = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// topoPair is one topology domain: a label key and value.
type topoPair struct{ key, value string }

// interPodAffinity enforces required pod affinity and anti-affinity, both the
// incoming pod's and (symmetrically) existing pods' anti-affinity, and
// scores preferred terms.
type interPodAffinity struct {
	nsLabels func(ns string) labels.Set
	hardW    int64
}

var (
	_ Filter     = (*interPodAffinity)(nil)
	_ PreFilter  = (*interPodAffinity)(nil)
	_ podDelta   = (*interPodAffinity)(nil)
	_ Scorer     = (*interPodAffinity)(nil)
	_ PreScorer  = (*interPodAffinity)(nil)
	_ Normalizer = (*interPodAffinity)(nil)
)

func (*interPodAffinity) Name() string { return "InterPodAffinity" }

// interPodState counts, per topology domain, the existing pods that forbid
// the incoming pod (existingAnti), match all its affinity terms (affinity)
// and match one of its anti-affinity terms (anti).
type interPodState struct {
	existingAnti, affinity, anti map[topoPair]int
	// antiKeys are the distinct keys of existingAnti, so Filter looks up
	// a node's few domains instead of walking every counted domain.
	antiKeys []string
}

// addExistingAnti adds d to the existing pods' anti-affinity count of p.
func (s *interPodState) addExistingAnti(p topoPair, d int) {
	if _, ok := s.existingAnti[p]; !ok && !slices.Contains(s.antiKeys, p.key) {
		s.antiKeys = append(s.antiKeys, p.key)
	}
	s.existingAnti[p] += d
}

func (s *interPodState) clone() stateData {
	c := &interPodState{existingAnti: map[topoPair]int{}, affinity: map[topoPair]int{}, anti: map[topoPair]int{}, antiKeys: slices.Clone(s.antiKeys)}
	for k, v := range s.existingAnti {
		c.existingAnti[k] = v
	}
	for k, v := range s.affinity {
		c.affinity[k] = v
	}
	for k, v := range s.anti {
		c.anti[k] = v
	}
	return c
}

func (f *interPodAffinity) PreFilter(_ context.Context, state *CycleState, pod *corev1.Pod) *Status {
	s := &interPodState{existingAnti: map[topoPair]int{}, affinity: map[topoPair]int{}, anti: map[topoPair]int{}}
	pi := state.podInfo
	idx := state.index
	if idx != nil {
		idx.existingAnti(pi.Pod, f.nsLabels, func(key, value string, c int) {
			s.addExistingAnti(topoPair{key, value}, c)
		})
	}
	incoming := len(pi.RequiredAffinity)+len(pi.RequiredAntiAffinity) > 0
	if incoming && idx != nil && indexable(pi) {
		f.countIndexed(s, pi, state.nodes, idx)
		incoming = false
	}
	if idx == nil || incoming {
		for _, n := range state.nodes {
			if idx == nil {
				for _, other := range n.PodsWithRequiredAnti {
					f.count(s, pi, other, n, 1, true, false)
				}
			}
			if incoming {
				for _, other := range n.Pods {
					f.count(s, pi, other, n, 1, false, true)
				}
			}
		}
	}
	state.data[f.Name()] = s
	return nil
}

// indexable reports whether the incoming pod's required terms can be
// counted from the index's selector counts: each term independently (at
// most one affinity term, whose "matches all" is then that term) and no
// namespaceSelector (its match depends on namespace labels, which the
// index does not follow).
func indexable(pi *PodInfo) bool {
	if len(pi.RequiredAffinity) > 1 {
		return false
	}
	for _, ts := range [][]affinityTerm{pi.RequiredAffinity, pi.RequiredAntiAffinity} {
		for i := range ts {
			if ts[i].NsSelector != nil {
				return false
			}
		}
	}
	return true
}

// countIndexed is the incoming half of count over all nodes, read from the
// index: per term, the pods it selects in each domain.
func (f *interPodAffinity) countIndexed(s *interPodState, pi *PodInfo, nodes []*NodeInfo, idx *podIndex) {
	add := func(t *affinityTerm, m map[topoPair]int) {
		q := selectorQuery{namespaces: t.Namespaces, allNS: t.allNamespaces, sel: t.Selector, key: t.TopologyKey, required: []string{t.TopologyKey}}
		idx.selectorMatches(q, nodes, func(v string, pods int) {
			m[topoPair{t.TopologyKey, v}] += pods
		})
	}
	for i := range pi.RequiredAffinity {
		add(&pi.RequiredAffinity[i], s.affinity)
	}
	for i := range pi.RequiredAntiAffinity {
		add(&pi.RequiredAntiAffinity[i], s.anti)
	}
}

// count adds d for other (on n) to the domains it affects.
func (f *interPodAffinity) count(s *interPodState, pi, other *PodInfo, n *NodeInfo, d int, existing, incoming bool) {
	if other.Pod.UID == pi.Pod.UID {
		return
	}
	if existing {
		for i := range other.RequiredAntiAffinity {
			t := &other.RequiredAntiAffinity[i]
			if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.matches(pi.Pod, f.nsLabels) {
				s.addExistingAnti(topoPair{t.TopologyKey, v}, d)
			}
		}
	}
	if !incoming {
		return
	}
	if len(pi.RequiredAffinity) > 0 && matchesAll(pi.RequiredAffinity, other.Pod, f.nsLabels) {
		for i := range pi.RequiredAffinity {
			t := &pi.RequiredAffinity[i]
			if v, ok := n.Node.Labels[t.TopologyKey]; ok {
				s.affinity[topoPair{t.TopologyKey, v}] += d
			}
		}
	}
	for i := range pi.RequiredAntiAffinity {
		t := &pi.RequiredAntiAffinity[i]
		if v, ok := n.Node.Labels[t.TopologyKey]; ok && t.matches(other.Pod, f.nsLabels) {
			s.anti[topoPair{t.TopologyKey, v}] += d
		}
	}
}

func matchesAll(terms []affinityTerm, pod *corev1.Pod, nsLabels func(string) labels.Set) bool {
	for i := range terms {
		if !terms[i].matches(pod, nsLabels) {
			return false
		}
	}
	return true
}

func (f *interPodAffinity) AddPod(state *CycleState, added *PodInfo, n *NodeInfo) {
	s := state.data[f.Name()].(*interPodState)
	f.count(s, state.podInfo, added, n, 1, true, true)
}

func (f *interPodAffinity) RemovePod(state *CycleState, removed *PodInfo, n *NodeInfo) {
	s := state.data[f.Name()].(*interPodState)
	f.count(s, state.podInfo, removed, n, -1, true, true)
}

func (f *interPodAffinity) Filter(_ context.Context, state *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	s := state.data[f.Name()].(*interPodState)
	pi := state.podInfo
	labels := n.Node.Labels
	for i := range pi.RequiredAffinity {
		t := &pi.RequiredAffinity[i]
		v, ok := labels[t.TopologyKey]
		if ok && s.affinity[topoPair{t.TopologyKey, v}] > 0 {
			continue
		}
		// The first pod of a group that selects itself may go anywhere
		// nothing else matches yet.
		if ok && !anyPositive(s.affinity) && matchesAll(pi.RequiredAffinity, pod, f.nsLabels) {
			continue
		}
		return newStatus(UnschedulableAndUnresolvable, reasonAffinity)
	}
	for i := range pi.RequiredAntiAffinity {
		t := &pi.RequiredAntiAffinity[i]
		if v, ok := labels[t.TopologyKey]; ok && s.anti[topoPair{t.TopologyKey, v}] > 0 {
			return newStatus(Unschedulable, reasonAntiAffinity)
		}
	}
	for _, k := range s.antiKeys {
		if v, ok := labels[k]; ok && s.existingAnti[topoPair{k, v}] > 0 {
			return newStatus(Unschedulable, reasonExistingAntiRule)
		}
	}
	return nil
}

func anyPositive(m map[topoPair]int) bool {
	for _, v := range m {
		if v > 0 {
			return true
		}
	}
	return false
}

// interPodScore is the summed weight per topology domain, and the
// distinct keys among the domains.
type interPodScore struct {
	weights map[topoPair]int64
	keys    []string
}

func (s *interPodScore) clone() stateData { return s }

// PreScore sums, per domain, the incoming pod's preferred (anti-)affinity
// weights for each existing pod it selects, and existing pods' preferred
// terms (and required affinity, at hardPodAffinityWeight) that select it.
func (f *interPodAffinity) PreScore(_ context.Context, state *CycleState, pod *corev1.Pod, _ []*NodeInfo) {
	pi := state.podInfo
	scores := &interPodScore{weights: map[topoPair]int64{}}
	has := len(pi.PreferredAffinity)+len(pi.PreferredAnti) > 0
	add := func(key string, n *NodeInfo, w int64) {
		if v, ok := n.Node.Labels[key]; ok {
			if !slices.Contains(scores.keys, key) {
				scores.keys = append(scores.keys, key)
			}
			scores.weights[topoPair{key, v}] += w
		}
	}
	for _, n := range state.nodes {
		others := n.PodsWithAffinity
		if has {
			others = n.Pods
		}
		for _, o := range others {
			if o.Pod.UID == pod.UID {
				continue
			}
			for i := range pi.PreferredAffinity {
				if t := &pi.PreferredAffinity[i]; t.matches(o.Pod, f.nsLabels) {
					add(t.TopologyKey, n, int64(t.Weight))
				}
			}
			for i := range pi.PreferredAnti {
				if t := &pi.PreferredAnti[i]; t.matches(o.Pod, f.nsLabels) {
					add(t.TopologyKey, n, -int64(t.Weight))
				}
			}
			for i := range o.PreferredAffinity {
				if t := &o.PreferredAffinity[i]; t.matches(pod, f.nsLabels) {
					add(t.TopologyKey, n, int64(t.Weight))
				}
			}
			for i := range o.PreferredAnti {
				if t := &o.PreferredAnti[i]; t.matches(pod, f.nsLabels) {
					add(t.TopologyKey, n, -int64(t.Weight))
				}
			}
			if f.hardW > 0 {
				for i := range o.RequiredAffinity {
					if t := &o.RequiredAffinity[i]; t.matches(pod, f.nsLabels) {
						add(t.TopologyKey, n, f.hardW)
					}
				}
			}
		}
	}
	state.data["InterPodAffinity/score"] = scores
}

func (f *interPodAffinity) Score(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) int64 {
	scores := state.data["InterPodAffinity/score"].(*interPodScore)
	var s int64
	for _, k := range scores.keys {
		if v, ok := n.Node.Labels[k]; ok {
			s += scores.weights[topoPair{k, v}]
		}
	}
	return s
}

// Normalize maps the range min..max of the raw scores to 0..100.
func (f *interPodAffinity) Normalize(scores []int64) { normalizeMinMax(scores) }

func normalizeMinMax(scores []int64) {
	if len(scores) == 0 {
		return
	}
	lo, hi := scores[0], scores[0]
	for _, s := range scores {
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range scores {
		if hi == lo {
			scores[i] = 0
			continue
		}
		scores[i] = MaxNodeScore * (s - lo) / (hi - lo)
	}
}
