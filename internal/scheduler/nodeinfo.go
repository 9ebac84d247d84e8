package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PodInfo is a pod with what the filters need from it precomputed. It is
// immutable once built; Pod must not be modified.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is what the pod holds on its node; NonZero the same with
	// scoring defaults for containers that request nothing.
	Requests Resource
	NonZero  Resource
	// Parsed affinity terms of the pod.
	RequiredAffinity     []affinityTerm
	RequiredAntiAffinity []affinityTerm
	PreferredAffinity    []weightedTerm
	PreferredAnti        []weightedTerm
	Ports                []hostPort
}

// affinityTerm is a PodAffinityTerm with its selector parsed and namespaces
// resolved (an empty set with allNamespaces false means the pod's own).
type affinityTerm struct {
	Selector      labels.Selector
	Namespaces    sets.Set[string]
	NsSelector    labels.Selector // nil: none given
	TopologyKey   string
	allNamespaces bool
	// key identifies the term among equal ones (termKey).
	key string
}

type weightedTerm struct {
	affinityTerm
	Weight int32
}

// hostPort is one host port a pod's container claims.
type hostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

func newPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod, Requests: podRequests(pod, false), NonZero: podRequests(pod, true)}
	if a := pod.Spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			pi.RequiredAffinity = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			pi.PreferredAffinity = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.RequiredAntiAffinity = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			pi.PreferredAnti = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	addPorts := func(cs []corev1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				ip := p.HostIP
				if ip == "" {
					ip = "0.0.0.0"
				}
				pi.Ports = append(pi.Ports, hostPort{IP: ip, Protocol: proto, Port: p.HostPort})
			}
		}
	}
	addPorts(pod.Spec.Containers)
	var sidecars []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = append(sidecars, c)
		}
	}
	addPorts(sidecars)
	return pi
}

func parseTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) []affinityTerm {
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		if t, ok := parseTerm(pod, &terms[i]); ok {
			out = append(out, t)
		}
	}
	return out
}

func parseWeighted(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm) []weightedTerm {
	out := make([]weightedTerm, 0, len(terms))
	for i := range terms {
		if t, ok := parseTerm(pod, &terms[i].PodAffinityTerm); ok {
			out = append(out, weightedTerm{affinityTerm: t, Weight: terms[i].Weight})
		}
	}
	return out
}

// parseTerm resolves a term the way the API defines it: matchLabelKeys and
// mismatchLabelKeys add requirements taken from the pod's own labels; no
// namespaces and no namespaceSelector means the pod's namespace; an empty
// namespaceSelector means every namespace. Invalid selectors drop the term
// (validation rejects them before they reach us).
func parseTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm) (affinityTerm, bool) {
	ls := t.LabelSelector
	if ls == nil {
		ls = &metav1.LabelSelector{}
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return affinityTerm{}, false
	}
	if t.LabelSelector == nil {
		sel = labels.Nothing()
	}
	for _, k := range t.MatchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			if r, err := labels.NewRequirement(k, "in", []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	for _, k := range t.MismatchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			if r, err := labels.NewRequirement(k, "notin", []string{v}); err == nil {
				sel = sel.Add(*r)
			}
		}
	}
	at := affinityTerm{Selector: sel, Namespaces: sets.New(t.Namespaces...), TopologyKey: t.TopologyKey}
	if t.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return affinityTerm{}, false
		}
		if nsSel.Empty() {
			at.allNamespaces = true
		} else {
			at.NsSelector = nsSel
		}
	} else if len(t.Namespaces) == 0 {
		at.Namespaces.Insert(pod.Namespace)
	}
	at.key = termKey(&at)
	return at, true
}

// matches reports whether the term selects pod; nsLabels looks up a
// namespace's labels for namespaceSelector terms (may be nil).
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels func(string) labels.Set) bool {
	if !t.allNamespaces && !t.Namespaces.Has(pod.Namespace) {
		if t.NsSelector == nil || nsLabels == nil || !t.NsSelector.Matches(nsLabels(pod.Namespace)) {
			return false
		}
	}
	return t.Selector.Matches(labels.Set(pod.Labels))
}

// NodeInfo is a node and the pods assigned or assumed on it. The Cache owns
// node infos; a cycle reads them under the cache's read lock and preemption
// works on clones.
type NodeInfo struct {
	Node *corev1.Node
	Pods []*PodInfo
	// PodsWithAffinity have a term inter-pod scoring reads from existing
	// pods (required affinity, preferred affinity or anti-affinity; a
	// required anti-affinity term alone does not count);
	// PodsWithRequiredAnti have a required anti-affinity term.
	PodsWithAffinity     []*PodInfo
	PodsWithRequiredAnti []*PodInfo
	Requested            Resource
	NonZeroRequested     Resource
	Allocatable          Resource
	UsedPorts            []hostPort
	// ImageSizes maps every name of every image present on the node to its
	// size in bytes.
	ImageSizes map[string]int64

	// matchMu guards matches, which memoizes countMatching: how many pods
	// of a namespace match a selector, keyed by namespace and selector. A
	// cycle reads node infos under the cache's read lock, and two readers
	// (the scheduling cycle and a dry run) may fill it at once. AddPod and
	// RemovePod, under the cache's write lock, drop it.
	matchMu sync.Mutex
	matches map[string]int
}

// maxMatchKeys bounds a node's memo of selector counts.
const maxMatchKeys = 16

// countMatching returns how many pods on n in namespace ns, not being
// deleted, match sel; key identifies (ns, sel). Counting is the cost of
// every topology spread cycle (all pods on all nodes), and between two
// cycles only the node the last pod went to changes, so counts are kept
// until the node's pods change.
func (n *NodeInfo) countMatching(key, ns string, sel labels.Selector) int {
	n.matchMu.Lock()
	defer n.matchMu.Unlock()
	if c, ok := n.matches[key]; ok {
		return c
	}
	count := 0
	for _, o := range n.Pods {
		if o.Pod.Namespace == ns && o.Pod.DeletionTimestamp == nil && sel.Matches(labels.Set(o.Pod.Labels)) {
			count++
		}
	}
	if n.matches == nil || len(n.matches) >= maxMatchKeys {
		n.matches = make(map[string]int, 4)
	}
	n.matches[key] = count
	return count
}

func (n *NodeInfo) dropMatches() {
	n.matchMu.Lock()
	n.matches = nil
	n.matchMu.Unlock()
}

// Name returns the node's name ("" for a placeholder without a Node).
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// SetNode records node and recomputes what derives from it.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = resourceFromList(node.Status.Allocatable)
	n.ImageSizes = map[string]int64{}
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			n.ImageSizes[name] = img.SizeBytes
		}
	}
}

// AddPod counts pi on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.dropMatches()
	n.Pods = append(n.Pods, pi)
	if len(pi.RequiredAffinity)+len(pi.PreferredAffinity)+len(pi.PreferredAnti) > 0 {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinity) > 0 {
		n.PodsWithRequiredAnti = append(n.PodsWithRequiredAnti, pi)
	}
	n.Requested.Add(pi.Requests)
	n.Requested.Pods++
	n.NonZeroRequested.Add(pi.NonZero)
	n.NonZeroRequested.Pods++
	n.UsedPorts = append(n.UsedPorts, pi.Ports...)
}

// podInfo returns the info of the pod with uid counted on n, or nil.
func (n *NodeInfo) podInfo(uid string) *PodInfo {
	for _, p := range n.Pods {
		if string(p.Pod.UID) == uid {
			return p
		}
	}
	return nil
}

// RemovePod uncounts the pod with uid; it reports whether it was there.
func (n *NodeInfo) RemovePod(uid string) bool {
	idx := -1
	for i, p := range n.Pods {
		if string(p.Pod.UID) == uid {
			idx = i
			break
		}
	}
	if idx < 0 {
		return false
	}
	n.dropMatches()
	pi := n.Pods[idx]
	n.Pods = deletePodInfo(n.Pods, uid)
	n.PodsWithAffinity = deletePodInfo(n.PodsWithAffinity, uid)
	n.PodsWithRequiredAnti = deletePodInfo(n.PodsWithRequiredAnti, uid)
	n.Requested.Sub(pi.Requests)
	n.Requested.Pods--
	n.NonZeroRequested.Sub(pi.NonZero)
	n.NonZeroRequested.Pods--
	n.UsedPorts = n.UsedPorts[:0:0]
	for _, p := range n.Pods {
		n.UsedPorts = append(n.UsedPorts, p.Ports...)
	}
	return true
}

// deletePodInfo returns s without the pod with uid, never modifying s's
// backing array (clones may share it).
func deletePodInfo(s []*PodInfo, uid string) []*PodInfo {
	for i, p := range s {
		if string(p.Pod.UID) == uid {
			out := make([]*PodInfo, 0, len(s)-1)
			out = append(out, s[:i]...)
			return append(out, s[i+1:]...)
		}
	}
	return s
}

// Clone returns a copy that can be changed without touching n. Pod infos are
// shared (they are immutable).
func (n *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{
		Node:                 n.Node,
		Pods:                 append([]*PodInfo(nil), n.Pods...),
		PodsWithAffinity:     append([]*PodInfo(nil), n.PodsWithAffinity...),
		PodsWithRequiredAnti: append([]*PodInfo(nil), n.PodsWithRequiredAnti...),
		Requested:            n.Requested.Clone(),
		NonZeroRequested:     n.NonZeroRequested.Clone(),
		Allocatable:          n.Allocatable.Clone(),
		UsedPorts:            append([]hostPort(nil), n.UsedPorts...),
		ImageSizes:           n.ImageSizes,
	}
	return c
}
