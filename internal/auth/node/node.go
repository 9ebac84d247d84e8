package node

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
)

// LeaseNamespace holds the nodes' heartbeat leases.
const LeaseNamespace = "kube-node-lease"

// userPrefix starts the user name of every node.
const userPrefix = "system:node:"

// Graph answers the questions the authorizer asks about the objects around
// a node. Implementations must be safe for concurrent use; returned
// objects belong to the Graph and are not modified.
type Graph interface {
	// PodsOnNode returns the pods whose spec.nodeName is node, in any
	// order, terminal ones included.
	PodsOnNode(node string) ([]*corev1.Pod, error)
	// PersistentVolumeClaim returns a claim, or an error (NotFound when it
	// does not exist).
	PersistentVolumeClaim(namespace, name string) (*corev1.PersistentVolumeClaim, error)
	// PersistentVolume returns a volume, or an error (NotFound when it
	// does not exist).
	PersistentVolume(name string) (*corev1.PersistentVolume, error)
	// VolumeAttachment returns an attachment, or an error (NotFound when it
	// does not exist).
	VolumeAttachment(name string) (*storagev1.VolumeAttachment, error)
}

// Authorizer is the Node authorizer. Create it with New.
type Authorizer struct {
	graph     Graph
	nodeRules []rbacv1.PolicyRule
}

var _ auth.Authorizer = (*Authorizer)(nil)

// New returns a Node authorizer reading relations from graph.
func New(graph Graph) *Authorizer {
	return &Authorizer{graph: graph, nodeRules: rbac.NodeRules()}
}

// fieldSelector parses the field selector of a list or watch.
func fieldSelector(a auth.Attributes) fields.Requirements {
	raw := a.FieldSelector
	if raw == "" {
		return nil
	}
	sel, err := fields.ParseSelector(raw)
	if err != nil {
		return nil
	}
	return sel.Requirements()
}

// NodeName returns the node u is and whether u is a node at all: a user
// named "system:node:NAME" in group system:nodes. name is empty for a node
// user with nothing after the prefix.
func NodeName(u *auth.User) (name string, isNode bool) {
	if u == nil || !strings.HasPrefix(u.Name, userPrefix) {
		return "", false
	}
	for _, g := range u.Groups {
		if g == auth.NodesGroup {
			return strings.TrimPrefix(u.Name, userPrefix), true
		}
	}
	return "", false
}

// Authorize implements auth.Authorizer. err is always nil; failures to
// read the graph deny with a reason.
func (z *Authorizer) Authorize(ctx context.Context, a auth.Attributes) (auth.Decision, string, error) {
	node, isNode := NodeName(a.User)
	if !isNode {
		return auth.NoOpinion, "", nil
	}
	if node == "" {
		return auth.NoOpinion, fmt.Sprintf("unknown node for user %q", a.User.Name), nil
	}
	if a.ResourceRequest {
		switch a.APIGroup + "/" + a.Resource {
		case "/secrets":
			return z.readNamespaced(node, a, z.secretRelated)
		case "/configmaps":
			return z.readNamespaced(node, a, z.podReferences(configMapRefs))
		case "/persistentvolumeclaims":
			if a.Subresource == "status" {
				return z.statusUpdate(node, a, z.pvcRelated)
			}
			return z.get(node, a, z.pvcRelated)
		case "/persistentvolumes":
			return z.get(node, a, z.pvRelated)
		case "storage.k8s.io/volumeattachments":
			return z.get(node, a, z.attachmentRelated)
		case "/serviceaccounts":
			return z.createToken(node, a)
		case "coordination.k8s.io/leases":
			return leaseDecision(node, a)
		case "storage.k8s.io/csinodes":
			return csiNodeDecision(node, a)
		case "/nodes":
			return nodeDecision(node, a)
		case "/pods":
			return z.podDecision(ctx, node, a)
		}
	}
	if rbac.RulesAllow(a, z.nodeRules...) {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// relatedFunc reports whether the object namespace/name of the resource
// in question is reachable from a pod bound to node.
type relatedFunc func(node, namespace, name string) (bool, error)

func (z *Authorizer) decide(node string, a auth.Attributes, related relatedFunc) (auth.Decision, string, error) {
	if a.Name == "" {
		return auth.NoOpinion, "No Object name found", nil
	}
	ok, err := related(node, a.Namespace, a.Name)
	if err != nil || !ok {
		return auth.NoOpinion, fmt.Sprintf("no relationship found between node '%s' and this object", node), nil
	}
	return auth.Allow, "", nil
}

// readNamespaced allows get, list and watch of one named object (list and
// watch name it with a metadata.name field selector) referenced by a pod
// on the node.
func (z *Authorizer) readNamespaced(node string, a auth.Attributes, related relatedFunc) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "list", "watch":
	default:
		return auth.NoOpinion, "can only read resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot read subresource", nil
	}
	if a.Namespace == "" {
		return auth.NoOpinion, "can only read namespaced object of this type", nil
	}
	return z.decide(node, a, related)
}

func (z *Authorizer) get(node string, a auth.Attributes, related relatedFunc) (auth.Decision, string, error) {
	if a.Verb != "get" {
		return auth.NoOpinion, "can only get individual resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot get subresource", nil
	}
	return z.decide(node, a, related)
}

func (z *Authorizer) statusUpdate(node string, a auth.Attributes, related relatedFunc) (auth.Decision, string, error) {
	switch a.Verb {
	case "update", "patch":
	default:
		return auth.NoOpinion, "can only get/update/patch this type", nil
	}
	return z.decide(node, a, related)
}

func (z *Authorizer) createToken(node string, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "create" || a.Name == "" {
		return auth.NoOpinion, "can only create tokens for individual service accounts", nil
	}
	if a.Subresource != "token" {
		return auth.NoOpinion, "can only create token subresource of serviceaccount", nil
	}
	return z.decide(node, a, z.podReferences(func(p *corev1.Pod, visit func(string)) {
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		visit(sa)
	}))
}

func leaseDecision(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.NoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != LeaseNamespace {
		return auth.NoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", LeaseNamespace), nil
	}
	// A create names no object here; NodeRestriction admission checks it.
	if a.Verb != "create" && a.Name != node {
		return auth.NoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return auth.Allow, "", nil
}

func csiNodeDecision(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.NoOpinion, "can only get, create, update, patch, or delete a CSINode", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot authorize CSINode subresources", nil
	}
	if a.Verb != "create" && a.Name != node {
		return auth.NoOpinion, "can only access CSINode with the same name as the requesting node", nil
	}
	return auth.Allow, "", nil
}

// nodeDecision: a node reads only its own Node (by name, so it can look
// before registering); it may create and update Nodes and their status,
// narrowed to its own by NodeRestriction admission.
func nodeDecision(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "create", "update", "patch":
			return auth.Allow, "", nil
		case "get", "list", "watch":
			switch a.Name {
			case node:
				return auth.Allow, "", nil
			case "":
				return auth.NoOpinion, fmt.Sprintf("node '%s' cannot read all nodes, only its own Node object", node), nil
			default:
				return auth.NoOpinion, fmt.Sprintf("node '%s' cannot read '%s', only its own Node object", node, a.Name), nil
			}
		}
	case "status":
		if a.Verb == "update" || a.Verb == "patch" {
			return auth.Allow, "", nil
		}
	}
	return auth.NoOpinion, "", nil
}

// podDecision: a node gets its own pods, lists and watches them with a
// spec.nodeName field selector, creates and deletes mirror pods, and
// writes status and evictions (NodeRestriction narrows the writes).
func (z *Authorizer) podDecision(ctx context.Context, node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Subresource {
	case "":
		switch a.Verb {
		case "get":
			return z.decide(node, a, z.podRelated)
		case "list", "watch":
			for _, r := range fieldSelector(a) {
				if r.Field == "spec.nodeName" && (r.Operator == selection.Equals || r.Operator == selection.DoubleEquals) && r.Value == node {
					return auth.Allow, "", nil
				}
			}
			if a.Name != "" {
				return z.decide(node, a, z.podRelated)
			}
			return auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector", nil
		case "create", "delete":
			return auth.Allow, "", nil
		}
	case "status":
		if a.Verb == "update" || a.Verb == "patch" {
			return auth.Allow, "", nil
		}
	case "eviction":
		if a.Verb == "create" {
			return auth.Allow, "", nil
		}
	}
	return auth.NoOpinion, "", nil
}

func (z *Authorizer) podRelated(node, namespace, name string) (bool, error) {
	pods, err := z.graph.PodsOnNode(node)
	if err != nil {
		return false, err
	}
	for _, p := range pods {
		if p.Namespace == namespace && p.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// podReferences turns a visitor of the names a pod references (in its own
// namespace) into a relatedFunc.
func (z *Authorizer) podReferences(refs func(*corev1.Pod, func(string))) relatedFunc {
	return func(node, namespace, name string) (bool, error) {
		pods, err := z.graph.PodsOnNode(node)
		if err != nil {
			return false, err
		}
		found := false
		for _, p := range pods {
			if p.Namespace != namespace {
				continue
			}
			refs(p, func(n string) { found = found || n == name })
			if found {
				return true, nil
			}
		}
		return false, nil
	}
}

// secretRelated: a secret is related when a pod on the node references it
// or a persistent volume those pods use names it (in any namespace).
func (z *Authorizer) secretRelated(node, namespace, name string) (bool, error) {
	if ok, err := z.podReferences(secretRefs)(node, namespace, name); ok || err != nil {
		return ok, err
	}
	pvs, err := z.volumesOnNode(node)
	if err != nil {
		return false, err
	}
	found := false
	for _, pv := range pvs {
		volumeSecretRefs(pv, func(ns, n string) { found = found || (ns == namespace && n == name) })
		if found {
			return true, nil
		}
	}
	return false, nil
}

func (z *Authorizer) pvcRelated(node, namespace, name string) (bool, error) {
	return z.podReferences(claimRefs)(node, namespace, name)
}

// pvRelated: a volume is related when a claim used by a pod on the node is
// bound to it.
func (z *Authorizer) pvRelated(node, _, name string) (bool, error) {
	pvs, err := z.volumesOnNode(node)
	if err != nil {
		return false, err
	}
	for _, pv := range pvs {
		if pv.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func (z *Authorizer) attachmentRelated(node, _, name string) (bool, error) {
	va, err := z.graph.VolumeAttachment(name)
	if err != nil {
		return false, err
	}
	return va.Spec.NodeName == node, nil
}

// volumesOnNode returns the persistent volumes bound to claims that pods
// on node use. Claims or volumes that cannot be read are skipped.
func (z *Authorizer) volumesOnNode(node string) ([]*corev1.PersistentVolume, error) {
	pods, err := z.graph.PodsOnNode(node)
	if err != nil {
		return nil, err
	}
	var out []*corev1.PersistentVolume
	seen := map[string]bool{}
	for _, p := range pods {
		claimRefs(p, func(claim string) {
			pvc, err := z.graph.PersistentVolumeClaim(p.Namespace, claim)
			if err != nil || pvc.Spec.VolumeName == "" || seen[pvc.Spec.VolumeName] {
				return
			}
			pv, err := z.graph.PersistentVolume(pvc.Spec.VolumeName)
			if err != nil {
				return
			}
			seen[pv.Name] = true
			out = append(out, pv)
		})
	}
	return out, nil
}
