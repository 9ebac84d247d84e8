package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// node is one observed object. Nodes are immutable once in the graph: an
// update replaces the node, so a *node read under the lock may be used
// after it is released.
type node struct {
	uid        types.UID
	gvr        schema.GroupVersionResource
	namespace  string
	name       string
	owners     []metav1.OwnerReference
	deleting   bool
	finalizers []string
}

func newNode(gvr schema.GroupVersionResource, m *metav1.PartialObjectMetadata) *node {
	return &node{
		uid:        m.UID,
		gvr:        gvr,
		namespace:  m.Namespace,
		name:       m.Name,
		owners:     slices.Clone(m.OwnerReferences),
		deleting:   m.DeletionTimestamp != nil,
		finalizers: slices.Clone(m.Finalizers),
	}
}

// deletingDependents reports a foreground deletion in progress.
func (n *node) deletingDependents() bool {
	return n != nil && n.deleting && slices.Contains(n.finalizers, metav1.FinalizerDeleteDependents)
}

// orphaning reports an orphan deletion in progress.
func (n *node) orphaning() bool {
	return n != nil && n.deleting && slices.Contains(n.finalizers, metav1.FinalizerOrphanDependents)
}

func (n *node) ownerRef(owner types.UID) (metav1.OwnerReference, bool) {
	for _, r := range n.owners {
		if r.UID == owner {
			return r, true
		}
	}
	return metav1.OwnerReference{}, false
}

func blocks(r metav1.OwnerReference) bool {
	return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
}

// graph is the ownership graph of observed objects.
type graph struct {
	mu sync.RWMutex // guards nodes and dependents
	// nodes holds every observed object by UID.
	nodes map[types.UID]*node
	// dependents maps an owner UID (observed or not) to the UIDs of the
	// observed objects that reference it.
	dependents map[types.UID]map[types.UID]struct{}
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, dependents: map[types.UID]map[types.UID]struct{}{}}
}

func (g *graph) get(uid types.UID) *node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[uid]
}

// dependentsOf returns the observed dependents of owner; the caller owns
// the slice.
func (g *graph) dependentsOf(owner types.UID) []*node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []*node
	for uid := range g.dependents[owner] {
		if n := g.nodes[uid]; n != nil {
			out = append(out, n)
		}
	}
	return out
}

// hasDependents reports whether any observed object references owner.
func (g *graph) hasDependents(owner types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.dependents[owner]) > 0
}

// blockingDependents returns the observed dependents of owner whose
// reference to it has blockOwnerDeletion=true.
func (g *graph) blockingDependents(owner types.UID) []*node {
	var out []*node
	for _, d := range g.dependentsOf(owner) {
		if r, ok := d.ownerRef(owner); ok && blocks(r) {
			out = append(out, d)
		}
	}
	return out
}

// change is the effect of applying one event: what must be looked at.
type change struct {
	attemptToDelete []types.UID
	attemptToOrphan []types.UID
}

// upsert records an added or updated object and returns what to look at.
func (g *graph) upsert(n *node) change {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ch change
	old := g.nodes[n.uid]
	if old != nil && old.gvr != n.gvr {
		// The same object seen through a second resource: the first
		// one observed stays authoritative.
		return ch
	}
	g.nodes[n.uid] = n

	var oldOwners []metav1.OwnerReference
	if old != nil {
		oldOwners = old.owners
	}
	ownersChanged := false
	for _, r := range oldOwners {
		nr, still := n.ownerRef(r.UID)
		if !still {
			g.unlink(r.UID, n.uid)
			ownersChanged = true
		}
		if (!still || blocks(r) != blocks(nr)) && g.nodes[r.UID].deletingDependents() {
			// A foreground deletion may be waiting on this dependent.
			ch.attemptToDelete = append(ch.attemptToDelete, r.UID)
		}
	}
	for _, r := range n.owners {
		if _, had := old.ownerRefOK(r.UID); !had {
			g.link(r.UID, n.uid)
			ownersChanged = true
		}
	}
	if len(n.owners) > 0 && (old == nil || ownersChanged) {
		ch.attemptToDelete = append(ch.attemptToDelete, n.uid)
	}
	if n.deletingDependents() && !old.deletingDependents() {
		ch.attemptToDelete = append(ch.attemptToDelete, n.uid)
		for uid := range g.dependents[n.uid] {
			ch.attemptToDelete = append(ch.attemptToDelete, uid)
		}
	}
	if n.orphaning() && !old.orphaning() {
		ch.attemptToOrphan = append(ch.attemptToOrphan, n.uid)
	}
	return ch
}

// remove records a deleted object and returns what to look at: its
// dependents (their owner is gone) and owners waiting on it.
func (g *graph) remove(gvr schema.GroupVersionResource, uid types.UID) change {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ch change
	old := g.nodes[uid]
	if old != nil && old.gvr != gvr {
		return ch
	}
	if old != nil {
		delete(g.nodes, uid)
		for _, r := range old.owners {
			g.unlink(r.UID, uid)
			if g.nodes[r.UID].deletingDependents() {
				ch.attemptToDelete = append(ch.attemptToDelete, r.UID)
			}
		}
	}
	for dep := range g.dependents[uid] {
		ch.attemptToDelete = append(ch.attemptToDelete, dep)
	}
	return ch
}

func (n *node) ownerRefOK(owner types.UID) (metav1.OwnerReference, bool) {
	if n == nil {
		return metav1.OwnerReference{}, false
	}
	return n.ownerRef(owner)
}

// link and unlink maintain g.dependents; g.mu must be held.
func (g *graph) link(owner, dep types.UID) {
	s := g.dependents[owner]
	if s == nil {
		s = map[types.UID]struct{}{}
		g.dependents[owner] = s
	}
	s[dep] = struct{}{}
}

func (g *graph) unlink(owner, dep types.UID) {
	if s := g.dependents[owner]; s != nil {
		delete(s, dep)
		if len(s) == 0 {
			delete(g.dependents, owner)
		}
	}
}
