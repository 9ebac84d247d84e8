package scheduler

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// podIndex keeps running per-topology-domain counts over the cache's nodes
// (those with a Node object) so that the inter-pod affinity and topology
// spread PreFilters cost a few map reads per cycle instead of a visit to
// every pod:
//
//   - existing pods' required anti-affinity terms, grouped by identical term:
//     how many such terms sit in each domain of the term's topology key;
//   - selector counts: for a (namespaces, selector, topology key, required
//     node keys) a cycle has asked about, how many pods match in each domain
//     and how many nodes each domain has. They are built from the nodes on
//     first use and then kept up to date like the anti-affinity groups; at
//     most maxSelectorCounts are kept, the least recently used dropped.
//
// The Cache updates it under its write lock with every pod and node change
// (podDelta, nodeDelta); cycles read it under the cache's read lock. mu is
// still needed because two readers (a cycle and a dry run) may register a
// selector count at once. Counts are what a scan of the same nodes would
// give, which the tests check against the scanning code paths.
type podIndex struct {
	// mu guards anti, counts and tick.
	mu     sync.Mutex
	anti   map[string]*antiGroup
	counts map[string]*selectorCount
	tick   uint64
}

// antiGroup is one distinct required anti-affinity term held by existing
// pods: how many pods hold it, and how many in each domain of its key.
type antiGroup struct {
	term    affinityTerm
	holders int
	domains map[string]int
}

// selectorCount counts pods matching a selector per topology domain.
type selectorCount struct {
	namespaces sets.Set[string] // ignored when allNamespaces
	allNS      bool
	sel        labels.Selector
	key        string
	// required keys a node must carry to be counted (key among them).
	required []string
	// liveOnly skips pods being deleted (topology spread does, inter-pod
	// affinity does not).
	liveOnly bool
	pods     map[string]int // domain value → matching pods
	nodes    map[string]int // domain value → counted nodes
	lastUse  uint64
}

// maxSelectorCounts bounds the selector counts kept: each costs a selector
// match per pod change.
const maxSelectorCounts = 64

func newPodIndex() *podIndex {
	return &podIndex{anti: map[string]*antiGroup{}, counts: map[string]*selectorCount{}}
}

// termKey identifies an affinity term for grouping: terms with equal keys
// select the same pods and count in the same domains.
func termKey(t *affinityTerm) string {
	var b strings.Builder
	b.WriteString(t.TopologyKey)
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(t.allNamespaces))
	b.WriteByte(0)
	ns := sets.List(t.Namespaces)
	b.WriteString(strings.Join(ns, ","))
	b.WriteByte(0)
	if t.NsSelector != nil {
		b.WriteString("ns:" + t.NsSelector.String())
	}
	b.WriteByte(0)
	// Everything() and Nothing() both print as "".
	b.WriteString(strconv.FormatBool(t.Selector.Empty()))
	b.WriteByte(0)
	b.WriteString(t.Selector.String())
	return b.String()
}

// counted returns n's domain for s, false if n does not count.
func (s *selectorCount) domain(nodeLabels map[string]string) (string, bool) {
	for _, k := range s.required {
		if _, ok := nodeLabels[k]; !ok {
			return "", false
		}
	}
	v, ok := nodeLabels[s.key]
	return v, ok
}

func (s *selectorCount) matches(p *corev1.Pod) bool {
	if s.liveOnly && p.DeletionTimestamp != nil {
		return false
	}
	if !s.allNS && !s.namespaces.Has(p.Namespace) {
		return false
	}
	return s.sel.Matches(labels.Set(p.Labels))
}

func addCount(m map[string]int, k string, d int) {
	if c := m[k] + d; c != 0 {
		m[k] = c
	} else {
		delete(m, k)
	}
}

// podDelta counts pi (d = 1) or uncounts it (d = -1) on a node with
// nodeLabels. The caller holds the cache's write lock.
func (x *podIndex) podDelta(pi *PodInfo, nodeLabels map[string]string, d int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.podDeltaLocked(pi, nodeLabels, d)
}

func (x *podIndex) podDeltaLocked(pi *PodInfo, nodeLabels map[string]string, d int) {
	for i := range pi.RequiredAntiAffinity {
		t := &pi.RequiredAntiAffinity[i]
		g := x.anti[t.key]
		if g == nil {
			if d < 0 {
				continue
			}
			g = &antiGroup{term: *t, domains: map[string]int{}}
			x.anti[t.key] = g
		}
		g.holders += d
		if v, ok := nodeLabels[t.TopologyKey]; ok {
			addCount(g.domains, v, d)
		}
		if g.holders <= 0 {
			delete(x.anti, t.key)
		}
	}
	for _, s := range x.counts {
		if v, ok := s.domain(nodeLabels); ok && s.matches(pi.Pod) {
			addCount(s.pods, v, d)
		}
	}
}

// nodeDelta counts node n (with nodeLabels, which may be its old labels)
// and all its pods (d = 1) or uncounts them (d = -1).
func (x *podIndex) nodeDelta(n *NodeInfo, nodeLabels map[string]string, d int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range x.counts {
		if v, ok := s.domain(nodeLabels); ok {
			addCount(s.nodes, v, d)
		}
	}
	for _, pi := range n.Pods {
		x.podDeltaLocked(pi, nodeLabels, d)
	}
}

// existingAnti calls fn with every domain holding existing pods'
// required anti-affinity terms that select pod, and how many terms there.
func (x *podIndex) existingAnti(pod *corev1.Pod, nsLabels func(string) labels.Set, fn func(key, value string, count int)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, g := range x.anti {
		if !g.term.matches(pod, nsLabels) {
			continue
		}
		for v, c := range g.domains {
			fn(g.term.TopologyKey, v, c)
		}
	}
}

// selectorQuery describes a selector count; see selectorCount.
type selectorQuery struct {
	namespaces sets.Set[string]
	allNS      bool
	sel        labels.Selector
	key        string
	required   []string
	liveOnly   bool
}

func (q *selectorQuery) id() string {
	var b strings.Builder
	b.WriteString(q.key)
	b.WriteByte(0)
	b.WriteString(strings.Join(q.required, ","))
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(q.liveOnly))
	b.WriteString(strconv.FormatBool(q.allNS))
	b.WriteByte(0)
	b.WriteString(strings.Join(sets.List(q.namespaces), ","))
	b.WriteByte(0)
	b.WriteString(strconv.FormatBool(q.sel.Empty()))
	b.WriteByte(0)
	b.WriteString(q.sel.String())
	return b.String()
}

// selectorCounts calls fn with each domain of q's key among the counted
// nodes, its node count and its matching pods. nodes are the cache's nodes
// (under its read lock), scanned when q is new.
func (x *podIndex) selectorCounts(q selectorQuery, nodes []*NodeInfo, fn func(value string, nodes, pods int)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.lookupLocked(q, nodes)
	for v, n := range s.nodes {
		fn(v, n, s.pods[v])
	}
}

// selectorMatches is selectorCounts for the domains with matching pods
// only: it costs what they number, not what the domains do.
func (x *podIndex) selectorMatches(q selectorQuery, nodes []*NodeInfo, fn func(value string, pods int)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for v, c := range x.lookupLocked(q, nodes).pods {
		fn(v, c)
	}
}

// lookupLocked returns q's selector count, building it from nodes if new.
func (x *podIndex) lookupLocked(q selectorQuery, nodes []*NodeInfo) *selectorCount {
	slices.Sort(q.required)
	id := q.id()
	x.tick++
	s := x.counts[id]
	if s == nil {
		s = &selectorCount{namespaces: q.namespaces, allNS: q.allNS, sel: q.sel, key: q.key, required: q.required,
			liveOnly: q.liveOnly, pods: map[string]int{}, nodes: map[string]int{}}
		for _, n := range nodes {
			v, ok := s.domain(n.Node.Labels)
			if !ok {
				continue
			}
			s.nodes[v]++
			for _, pi := range n.Pods {
				if s.matches(pi.Pod) {
					s.pods[v]++
				}
			}
		}
		if len(x.counts) >= maxSelectorCounts {
			var oldest string
			var at uint64
			for k, c := range x.counts {
				if oldest == "" || c.lastUse < at {
					oldest, at = k, c.lastUse
				}
			}
			delete(x.counts, oldest)
		}
		x.counts[id] = s
	}
	s.lastUse = x.tick
	return s
}
