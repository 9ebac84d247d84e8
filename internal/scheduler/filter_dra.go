package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcelisters "k8s.io/client-go/listers/resource/v1"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
)

// Upstream's DynamicResources reasons.
const (
	reasonCannotAllocateClaims = "cannot allocate all claims"
	reasonClaimNotOnNode       = "resourceclaim not available on the node"
)

// dynamicResources is upstream's DynamicResources filter for a cluster
// with no device allocator: Skiff allocates no devices, so a pod whose
// claims are not all allocated fits no node ("cannot allocate all
// claims", what upstream reports when no driver publishes matching
// devices). PreFilter rejects pods whose claims do not exist yet, are
// being deleted, or name a device class that does not exist, with
// upstream's messages; an allocated claim restricts the pod to the
// nodes its allocation selects.
type dynamicResources struct {
	claims  resourcelisters.ResourceClaimLister
	classes resourcelisters.DeviceClassLister
}

var (
	_ Filter    = (*dynamicResources)(nil)
	_ PreFilter = (*dynamicResources)(nil)
)

func (*dynamicResources) Name() string { return "DynamicResources" }

// draState is what PreFilter learned: whether some claim still needs an
// allocation, and the node selectors of the allocated ones.
type draState struct {
	unallocated bool
	selectors   []*corev1.NodeSelector
}

func (s *draState) clone() stateData { return s }

func (d *dynamicResources) PreFilter(_ context.Context, state *CycleState, pod *corev1.Pod) *Status {
	if len(pod.Spec.ResourceClaims) == 0 || d.claims == nil {
		state.skip[d.Name()] = true
		return nil
	}
	st := &draState{}
	for i := range pod.Spec.ResourceClaims {
		pc := &pod.Spec.ResourceClaims[i]
		name, mustOwn, err := podClaimName(pod, pc)
		if err != nil {
			return newStatus(UnschedulableAndUnresolvable, err.Error())
		}
		if name == "" {
			continue // deliberately not created: nothing to allocate
		}
		claim, err := d.claims.ResourceClaims(pod.Namespace).Get(name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return newStatus(UnschedulableAndUnresolvable, err.Error())
			}
			return newStatus(Error, err.Error())
		}
		if claim.DeletionTimestamp != nil {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("resourceclaim %q is being deleted", claim.Name))
		}
		if mustOwn && !metav1.IsControlledBy(claim, pod) {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("ResourceClaim %s/%s was not created for Pod %s/%s (pod is not owner)", claim.Namespace, claim.Name, pod.Namespace, pod.Name))
		}
		if a := claim.Status.Allocation; a != nil {
			if a.NodeSelector != nil {
				st.selectors = append(st.selectors, a.NodeSelector)
			}
			continue
		}
		if s := d.checkClasses(claim); s != nil {
			return s
		}
		st.unallocated = true
	}
	state.data[d.Name()] = st
	return nil
}

// checkClasses rejects a claim whose requests name a missing device class.
func (d *dynamicResources) checkClasses(claim *resourcev1.ResourceClaim) *Status {
	if d.classes == nil {
		return nil
	}
	check := func(request, class string) *Status {
		if _, err := d.classes.Get(class); apierrors.IsNotFound(err) {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("request %s: device class %s does not exist", request, class))
		}
		return nil
	}
	for _, r := range claim.Spec.Devices.Requests {
		if r.Exactly != nil {
			if s := check(r.Name, r.Exactly.DeviceClassName); s != nil {
				return s
			}
		}
		for _, sub := range r.FirstAvailable {
			if s := check(r.Name+"/"+sub.Name, sub.DeviceClassName); s != nil {
				return s
			}
		}
	}
	return nil
}

func (d *dynamicResources) Filter(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	if state.skip[d.Name()] {
		return nil
	}
	st := state.data[d.Name()].(*draState)
	for _, sel := range st.selectors {
		if !nodematch.Selector(sel, n.Node) {
			return newStatus(UnschedulableAndUnresolvable, reasonClaimNotOnNode)
		}
	}
	if st.unallocated {
		return newStatus(UnschedulableAndUnresolvable, reasonCannotAllocateClaims)
	}
	return nil
}

// podClaimName resolves a pod's claim to its ResourceClaim name, as
// upstream's resourceclaim.Name: a direct reference, or the claim the
// ResourceClaim controller recorded in the pod's status for a template
// ("" when it deliberately created none). mustOwn is true for claims made
// from a template, which the pod must own.
func podClaimName(pod *corev1.Pod, pc *corev1.PodResourceClaim) (name string, mustOwn bool, err error) {
	switch {
	case pc.ResourceClaimName != nil:
		return *pc.ResourceClaimName, false, nil
	case pc.ResourceClaimTemplateName != nil:
		for _, s := range pod.Status.ResourceClaimStatuses {
			if s.Name == pc.Name {
				if s.ResourceClaimName == nil {
					return "", false, nil
				}
				return *s.ResourceClaimName, true, nil
			}
		}
		return "", false, fmt.Errorf(`pod "%s/%s": ResourceClaim not created yet`, pod.Namespace, pod.Name)
	}
	return "", false, fmt.Errorf(`pod "%s/%s", spec.resourceClaim %q: none of the supported fields are set`, pod.Namespace, pod.Name, pc.Name)
}
