package scheduler

import (
	"maps"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Cache is the scheduler's view of nodes and the pods on them, kept
// incrementally from informer events, plus "assumed" pods: pods a cycle has
// placed whose binding is still in flight. An assumed pod counts on its node
// at once, so the next cycle never double-books the node; when the informer
// reports the pod bound the assumption is confirmed, and when the binding
// fails it is forgotten.
type Cache struct {
	// mu guards every field below.
	mu sync.RWMutex
	// nodes by name; a NodeInfo with a nil Node is a placeholder for pods
	// whose node the informer has not reported yet.
	nodes map[string]*NodeInfo
	// order is the names of nodes with a Node, sorted; rebuilt when nodes
	// come or go.
	order []string
	// list mirrors order as node infos; nil when it must be rebuilt.
	list []*NodeInfo
	// pods maps a pod's UID to the node it is counted on.
	pods map[string]podState
	// idx holds running counts over the nodes in list; every change to a
	// node with a Node, or to its pods, updates it.
	idx *podIndex
}

type podState struct {
	node    string
	assumed bool
	pod     *corev1.Pod
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{nodes: map[string]*NodeInfo{}, pods: map[string]podState{}, idx: newPodIndex()}
}

// View runs fn with every node info (sorted by name) under the read lock. fn
// must not keep or modify the infos.
func (c *Cache) View(fn func(nodes []*NodeInfo)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for c.list == nil {
		// Rebuilding under a read lock would race; take the slow path.
		c.mu.RUnlock()
		c.mu.Lock()
		c.rebuildLocked()
		c.mu.Unlock()
		c.mu.RLock()
	}
	fn(c.list)
}

// ViewIndexed is View that also passes the cache's running counts for
// PreFilters (see podIndex), or nil when the pod with uid is counted in the
// cache: the counts would include the pod itself.
func (c *Cache) ViewIndexed(uid string, fn func(nodes []*NodeInfo, idx *podIndex)) {
	c.View(func(nodes []*NodeInfo) {
		idx := c.idx
		if _, ok := c.pods[uid]; ok {
			idx = nil
		}
		fn(nodes, idx)
	})
}

func (c *Cache) rebuildLocked() {
	if c.list != nil {
		return
	}
	c.order = c.order[:0]
	for name, n := range c.nodes {
		if n.Node != nil {
			c.order = append(c.order, name)
		}
	}
	sort.Strings(c.order)
	list := make([]*NodeInfo, len(c.order))
	for i, name := range c.order {
		list[i] = c.nodes[name]
	}
	c.list = list
}

// NodeCount returns how many nodes the cache knows.
func (c *Cache) NodeCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, ni := range c.nodes {
		if ni.Node != nil {
			n++
		}
	}
	return n
}

// AddNode records or updates a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok {
		n = &NodeInfo{}
		c.nodes[node.Name] = n
	}
	old := n.Node
	if old == nil {
		c.list = nil
	} else if !maps.Equal(old.Labels, node.Labels) {
		c.idx.nodeDelta(n, old.Labels, -1)
	}
	n.SetNode(node)
	if old == nil || !maps.Equal(old.Labels, node.Labels) {
		c.idx.nodeDelta(n, node.Labels, 1)
	}
}

// RemoveNode forgets a node; pods still counted on it keep a placeholder
// until they are removed too.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	if n.Node != nil {
		c.idx.nodeDelta(n, n.Node.Labels, -1)
	}
	if len(n.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		n.Node = nil
	}
	c.list = nil
}

func (c *Cache) nodeLocked(name string) *NodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		n = &NodeInfo{}
		c.nodes[name] = n
	}
	return n
}

// Assume counts pod (whose spec.nodeName the caller has set on its own
// copy) on its node before the binding is confirmed. It fails if the pod is
// already counted.
func (c *Cache) Assume(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := string(pod.UID)
	if _, ok := c.pods[uid]; ok {
		return false
	}
	c.addLocked(pod)
	c.pods[uid] = podState{node: pod.Spec.NodeName, assumed: true, pod: pod}
	return true
}

// Forget undoes Assume after a failed binding. A pod the informer has
// meanwhile confirmed is left alone.
func (c *Cache) Forget(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := string(pod.UID)
	st, ok := c.pods[uid]
	if !ok || !st.assumed {
		return
	}
	c.removeLocked(uid, st)
}

// addLocked counts pod on its node.
func (c *Cache) addLocked(pod *corev1.Pod) {
	n := c.nodeLocked(pod.Spec.NodeName)
	pi := newPodInfo(pod)
	n.AddPod(pi)
	if n.Node != nil {
		c.idx.podDelta(pi, n.Node.Labels, 1)
	}
}

func (c *Cache) removeLocked(uid string, st podState) {
	if n, ok := c.nodes[st.node]; ok {
		if pi := n.podInfo(uid); pi != nil && n.Node != nil {
			c.idx.podDelta(pi, n.Node.Labels, -1)
		}
		n.RemovePod(uid)
		if n.Node == nil && len(n.Pods) == 0 {
			delete(c.nodes, st.node)
		}
	}
	delete(c.pods, uid)
}

// AddPod records an assigned pod reported by the informer (confirming an
// assumption) or updates it. Terminal pods hold nothing and are removed.
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := string(pod.UID)
	st, ok := c.pods[uid]
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		if ok {
			c.removeLocked(uid, st)
		}
		return
	}
	if ok {
		if !st.assumed && st.pod == pod {
			return
		}
		c.removeLocked(uid, st)
	}
	c.addLocked(pod)
	c.pods[uid] = podState{node: pod.Spec.NodeName, pod: pod}
}

// RemovePod forgets an assigned pod the informer reports deleted.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := string(pod.UID)
	if st, ok := c.pods[uid]; ok {
		c.removeLocked(uid, st)
	}
}

// Pod returns the pod counted under uid, if any.
func (c *Cache) Pod(uid string) (*corev1.Pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st, ok := c.pods[uid]
	return st.pod, ok
}
