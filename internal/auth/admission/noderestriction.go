package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/auth"
)

// NodeUserPrefix starts the user name of a node's credentials.
const NodeUserPrefix = "system:node:"

// NodeLeaseNamespace holds the nodes' heartbeat Leases.
const NodeLeaseNamespace = "kube-node-lease"

// NodeRestriction limits what a node (user system:node:NAME in group
// system:nodes) may write, on top of the node authorizer: its own Node
// (without changing its taints or setting protected labels), mirror pods
// bound to itself, the status of pods bound to itself, evictions and
// deletes of pods bound to itself, its own Lease and CSINode.
//
// Without Nodes the owner UID of mirror pods is not verified; without Pods
// evictions by nodes are refused.
type NodeRestriction struct {
	Nodes NodeGetter
	Pods  PodGetter
}

var _ Mutator = (*NodeRestriction)(nil)

func (*NodeRestriction) Name() string { return "NodeRestriction" }

// nodeIdentity returns the node a user acts as, and whether it is a node.
func nodeIdentity(u *auth.User) (string, bool) {
	if u == nil || !strings.HasPrefix(u.Name, NodeUserPrefix) {
		return "", false
	}
	for _, g := range u.Groups {
		if g == auth.NodesGroup {
			return strings.TrimPrefix(u.Name, NodeUserPrefix), true
		}
	}
	return "", false
}

func (p *NodeRestriction) Admit(ctx context.Context, req *Request) error {
	node, isNode := nodeIdentity(req.Attributes.User)
	if !isNode {
		return nil
	}
	if node == "" {
		return forbidden(req, fmt.Errorf("could not determine node from user %q", req.Attributes.User.Name))
	}
	a := req.Attributes
	switch {
	case a.APIGroup == "" && a.Resource == "pods":
		switch a.Subresource {
		case "":
			return p.admitPod(ctx, node, req)
		case "status":
			return p.admitPodStatus(node, req)
		case "eviction":
			return p.admitPodEviction(ctx, node, req)
		default:
			return forbidden(req, fmt.Errorf("unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource))
		}
	case a.APIGroup == "" && a.Resource == "nodes":
		return p.admitNode(node, req)
	case a.APIGroup == "coordination.k8s.io" && a.Resource == "leases":
		if a.Namespace != NodeLeaseNamespace {
			return forbidden(req, fmt.Errorf("can only access leases in the %q system namespace", NodeLeaseNamespace))
		}
		if a.Name != node && !(req.Operation == Create && objectName(req) == node) {
			return forbidden(req, fmt.Errorf("can only access node lease with the same name as the requesting node"))
		}
	case a.APIGroup == "storage.k8s.io" && a.Resource == "csinodes":
		if name := objectName(req); name != node && a.Name != node {
			return forbidden(req, fmt.Errorf("node %q is not allowed to modify csinode %q", node, name))
		}
	}
	return nil
}

func (p *NodeRestriction) admitPod(ctx context.Context, node string, req *Request) error {
	switch req.Operation {
	case Create:
		return p.admitMirrorPodCreate(ctx, node, req)
	case Delete:
		old, ok := req.OldObject.(*corev1.Pod)
		if !ok {
			return unexpectedType(req.OldObject)
		}
		if old.Spec.NodeName != node {
			return forbidden(req, fmt.Errorf("node %q can only delete pods with spec.nodeName set to itself", node))
		}
		return nil
	default:
		return forbidden(req, fmt.Errorf("unexpected operation %q, node %q can only create and delete mirror pods", req.Operation, node))
	}
}

func (p *NodeRestriction) admitMirrorPodCreate(ctx context.Context, node string, req *Request) error {
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	if !isMirrorPod(pod) {
		return forbidden(req, fmt.Errorf("pod does not have %q annotation, node %q can only create mirror pods", MirrorPodAnnotation, node))
	}
	if pod.Spec.NodeName != node {
		return forbidden(req, fmt.Errorf("node %q can only create pods with spec.nodeName set to itself", node))
	}
	switch owners := pod.OwnerReferences; {
	case len(owners) > 1:
		return forbidden(req, fmt.Errorf("node %q can only create pods with a single owner reference set to itself", node))
	case len(owners) == 0:
		return forbidden(req, fmt.Errorf("node %q can only create pods with an owner reference set to itself", node))
	default:
		o := owners[0]
		if o.APIVersion != "v1" || o.Kind != "Node" || o.Name != node {
			return forbidden(req, fmt.Errorf("node %q can only create pods with an owner reference set to itself", node))
		}
		if o.Controller == nil || !*o.Controller {
			return forbidden(req, fmt.Errorf("node %q can only create pods with a controller owner reference set to itself", node))
		}
		if o.BlockOwnerDeletion != nil && *o.BlockOwnerDeletion {
			return forbidden(req, fmt.Errorf("node %q must not set blockOwnerDeletion on an owner reference", node))
		}
		if p.Nodes != nil {
			n, err := p.Nodes.GetNode(ctx, node)
			if apierrors.IsNotFound(err) {
				return err
			}
			if err != nil {
				return forbidden(req, fmt.Errorf("error looking up node %s to verify uid: %v", node, err))
			}
			if o.UID != n.UID {
				return forbidden(req, fmt.Errorf("node %s UID mismatch: expected %s got %s", node, n.UID, o.UID))
			}
		}
	}
	// A node may not use its pods to reach other API objects.
	if pod.Spec.ServiceAccountName != "" {
		return forbidden(req, fmt.Errorf("node %q can not create pods that reference a service account", node))
	}
	if podUsesSecrets(pod) {
		return forbidden(req, fmt.Errorf("node %q can not create pods that reference secrets", node))
	}
	if podUsesConfigMaps(pod) {
		return forbidden(req, fmt.Errorf("node %q can not create pods that reference configmaps", node))
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return forbidden(req, fmt.Errorf("node %q can not create pods that reference persistentvolumeclaims", node))
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ClusterTrustBundle != nil {
					return forbidden(req, fmt.Errorf("node %q can not create pods that use clustertrustbundles", node))
				}
			}
		}
	}
	if len(pod.Spec.ResourceClaims) > 0 {
		return forbidden(req, fmt.Errorf("node %q can not create pods that reference resourceclaims", node))
	}
	return nil
}

func (p *NodeRestriction) admitPodStatus(node string, req *Request) error {
	if req.Operation != Update {
		return forbidden(req, fmt.Errorf("unexpected operation %q", req.Operation))
	}
	old, ok := req.OldObject.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.OldObject)
	}
	if old.Spec.NodeName != node {
		return forbidden(req, fmt.Errorf("node %q can only update pod status for pods with spec.nodeName set to itself", node))
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	if !equalStringMaps(old.Labels, pod.Labels) {
		return forbidden(req, fmt.Errorf("node %q cannot update labels through pod status", node))
	}
	return nil
}

func (p *NodeRestriction) admitPodEviction(ctx context.Context, node string, req *Request) error {
	if req.Operation != Create {
		return forbidden(req, fmt.Errorf("unexpected operation %s", req.Operation))
	}
	if p.Pods == nil {
		return forbidden(req, fmt.Errorf("node %q cannot evict pods: pod lookup unavailable", node))
	}
	pod, err := p.Pods.GetPod(ctx, req.Attributes.Namespace, req.Attributes.Name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbidden(req, err)
	}
	if pod.Spec.NodeName != node {
		return forbidden(req, fmt.Errorf("node %s can only evict pods with spec.nodeName set to itself", node))
	}
	return nil
}

func (p *NodeRestriction) admitNode(node string, req *Request) error {
	name := req.Attributes.Name
	if req.Operation == Create {
		name = objectName(req)
	}
	if name != node {
		return forbidden(req, fmt.Errorf("node %q is not allowed to modify node %q", node, name))
	}
	switch req.Operation {
	case Create:
		n, ok := req.Object.(*corev1.Node)
		if !ok {
			return unexpectedType(req.Object)
		}
		if bad := forbiddenNodeLabels(changedLabels(n.Labels, nil)); len(bad) > 0 {
			return forbidden(req, fmt.Errorf("node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", ")))
		}
	case Update:
		n, ok := req.Object.(*corev1.Node)
		if !ok {
			return unexpectedType(req.Object)
		}
		old, ok := req.OldObject.(*corev1.Node)
		if !ok {
			return unexpectedType(req.OldObject)
		}
		if !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return forbidden(req, fmt.Errorf("node %q is not allowed to modify taints", node))
		}
		if bad := forbiddenNodeLabels(changedLabels(n.Labels, old.Labels)); len(bad) > 0 {
			return forbidden(req, fmt.Errorf("is not allowed to modify labels: %s", strings.Join(bad, ", ")))
		}
	}
	return nil
}

// changedLabels returns the keys added, removed or changed from old to new.
func changedLabels(new, old map[string]string) []string {
	var keys []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || ov != v {
			keys = append(keys, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// kubeletLabels are the kubernetes.io labels a kubelet may set on itself.
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"topology.kubernetes.io/zone":              true,
	"topology.kubernetes.io/region":            true,
	"failure-domain.beta.kubernetes.io/zone":   true,
	"failure-domain.beta.kubernetes.io/region": true,
	"kubernetes.io/os":                         true,
	"kubernetes.io/arch":                       true,
	"beta.kubernetes.io/os":                    true,
	"beta.kubernetes.io/arch":                  true,
	"node.kubernetes.io/instance-type":         true,
	"beta.kubernetes.io/instance-type":         true,
}

// kubeletLabelDomains may be used freely by kubelets (with subdomains).
var kubeletLabelDomains = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

// forbiddenNodeLabels returns, sorted, the keys a node may not set: the
// node-restriction.kubernetes.io domain, and kubernetes.io / k8s.io labels
// that are not kubelet labels.
func forbiddenNodeLabels(keys []string) []string {
	var bad []string
	for _, k := range keys {
		domain := labelDomain(k)
		switch {
		case inDomain(domain, "node-restriction.kubernetes.io"):
			bad = append(bad, k)
		case (inDomain(domain, "kubernetes.io") || inDomain(domain, "k8s.io")) && !isKubeletLabel(k, domain):
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func isKubeletLabel(key, domain string) bool {
	if kubeletLabels[key] {
		return true
	}
	for _, d := range kubeletLabelDomains {
		if inDomain(domain, d) {
			return true
		}
	}
	return false
}

func labelDomain(key string) string {
	if i := strings.Index(key, "/"); i >= 0 {
		return key[:i]
	}
	return ""
}

// inDomain reports whether domain is d or a subdomain of it.
func inDomain(domain, d string) bool {
	return domain == d || strings.HasSuffix(domain, "."+d)
}

func equalStringMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
