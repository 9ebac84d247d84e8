package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// mirrorPodAnnotation marks a static pod's mirror in the API.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// ValidatePodSubresourceUpdate validates a write to a pod's
// ephemeralcontainers or resize subresource: the pod as a whole (metadata
// and spec as on create) and upstream's rules for what that subresource may
// change. The caller has already carried over everything else from old.
func ValidatePodSubresourceUpdate(sub string, pod, old *corev1.Pod) field.ErrorList {
	errs := ValidateCreate(pod)
	errs = append(errs, validateMetaImmutable(pod, old)...)
	switch sub {
	case "ephemeralcontainers":
		errs = append(errs, validateEphemeralContainersUpdate(pod, old)...)
	case "resize":
		errs = append(errs, validatePodResize(pod, old)...)
	}
	return errs
}

// ephemeralForbidden is upstream's message for a container field an
// ephemeral container may not set.
const ephemeralForbidden = "cannot be set for an Ephemeral Container"

// validateEphemeralContainers checks the pod's ephemeral containers as
// upstream: each is a container (validated by the caller) whose name is
// unique among all the pod's containers, whose target is one of the pod's
// init or app containers, and which sets none of what makes a container
// part of the workload (ports, probes, lifecycle, resources, resize and
// restart policies, subPath mounts).
func validateEphemeralContainers(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	others := sets.New[string]()
	for _, c := range spec.InitContainers {
		others.Insert(c.Name)
	}
	for _, c := range spec.Containers {
		others.Insert(c.Name)
	}
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		ip := p.Index(i)
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(ip.Child("targetContainerName"), ec.TargetContainerName))
		}
		set := func(name string, isSet bool) {
			if isSet {
				errs = append(errs, field.Forbidden(ip.Child(name), ephemeralForbidden))
			}
		}
		set("ports", len(ec.Ports) > 0)
		set("resources", len(ec.Resources.Limits) > 0 || len(ec.Resources.Requests) > 0 || len(ec.Resources.Claims) > 0)
		set("resizePolicy", len(ec.ResizePolicy) > 0)
		set("restartPolicy", ec.RestartPolicy != nil)
		set("restartPolicyRules", len(ec.RestartPolicyRules) > 0)
		set("livenessProbe", ec.LivenessProbe != nil)
		set("readinessProbe", ec.ReadinessProbe != nil)
		set("startupProbe", ec.StartupProbe != nil)
		set("lifecycle", ec.Lifecycle != nil)
		for j, m := range ec.VolumeMounts {
			mp := ip.Child("volumeMounts").Index(j)
			if m.SubPath != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPath"), ephemeralForbidden))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(mp.Child("subPathExpr"), ephemeralForbidden))
			}
		}
	}
	return errs
}

// validateEphemeralContainersUpdate allows only additions: an existing
// ephemeral container may be neither removed nor changed (matched by
// name, as a patch need not keep the order). Static pods have none.
func validateEphemeralContainersUpdate(pod, old *corev1.Pod) field.ErrorList {
	if _, ok := old.Annotations[mirrorPodAnnotation]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	p := field.NewPath("spec", "ephemeralContainers")
	byName := map[string]*corev1.EphemeralContainer{}
	for i := range pod.Spec.EphemeralContainers {
		byName[pod.Spec.EphemeralContainers[i].Name] = &pod.Spec.EphemeralContainers[i]
	}
	var errs field.ErrorList
	for _, o := range old.Spec.EphemeralContainers {
		n, ok := byName[o.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", o.Name)))
		case !equality.Semantic.DeepEqual(o, *n):
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be changed\n", o.Name)))
		}
	}
	return errs
}

// validatePodResize checks a resize as upstream: only the cpu and memory
// requests and limits (and resize policies) of app containers and
// sidecars change, none is removed, the QoS class stays, and the pod is
// neither static nor on a node that cannot resize (one that reports no
// resources for a running container).
func validatePodResize(pod, old *corev1.Pod) field.ErrorList {
	if _, ok := old.Annotations[mirrorPodAnnotation]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if old.Spec.OS != nil && old.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	spec := field.NewPath("spec")
	var errs field.ErrorList
	oldQOS := old.Status.QOSClass
	if oldQOS == "" {
		oldQOS = podQOS(old)
	}
	if newQOS := podQOS(pod); newQOS != oldQOS {
		errs = append(errs, field.Invalid(spec, newQOS, "Pod QOS Class may not change as a result of resizing"))
	}
	if !nodeSupportsResize(old) {
		errs = append(errs, field.Forbidden(spec, "Pod running on node without support for resize"))
	}
	if len(pod.Spec.Containers) != len(old.Spec.Containers) {
		return append(errs, field.Forbidden(spec.Child("containers"), "containers may not be added or removed"))
	}
	if len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(spec.Child("initContainers"), "initContainers may not be added or removed"))
	}
	for i := range old.Spec.Containers {
		if pod.Spec.Containers[i].Name != old.Spec.Containers[i].Name {
			return append(errs, field.Forbidden(spec.Child("containers").Index(i).Child("name"), "containers may not be renamed or reordered"))
		}
	}
	for i := range old.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name != old.Spec.InitContainers[i].Name {
			return append(errs, field.Forbidden(spec.Child("initContainers").Index(i).Child("name"), "containers may not be renamed or reordered"))
		}
	}

	// What may change is put back to the old values; anything still
	// different is forbidden.
	mutable := pod.Spec.DeepCopy()
	for i := range mutable.Containers {
		c, o := &mutable.Containers[i], &old.Spec.Containers[i]
		errs = append(errs, noRemovedResources(&c.Resources, &o.Resources, spec.Child("containers").Index(i).Child("resources"))...)
		resetCPUMemory(c, o)
		if !equality.Semantic.DeepEqual(c, o) {
			errs = append(errs, field.Forbidden(spec, "only cpu and memory resources are mutable"))
		}
	}
	for i := range mutable.InitContainers {
		c, o := &mutable.InitContainers[i], &old.Spec.InitContainers[i]
		ip := spec.Child("initContainers").Index(i)
		if !isRestartable(o) {
			if !equality.Semantic.DeepEqual(c.Resources, o.Resources) {
				errs = append(errs, field.Forbidden(ip, "resources for non-sidecar init containers are immutable"))
			}
			continue
		}
		errs = append(errs, noRemovedResources(&c.Resources, &o.Resources, ip.Child("resources"))...)
		resetCPUMemory(c, o)
		if !equality.Semantic.DeepEqual(c, o) {
			errs = append(errs, field.Forbidden(ip, "only cpu and memory resources for sidecar containers are mutable"))
		}
	}
	mutable.Containers, mutable.InitContainers = old.Spec.Containers, old.Spec.InitContainers
	if !equality.Semantic.DeepEqual(mutable, &old.Spec) {
		errs = append(errs, field.Forbidden(spec, "only cpu and memory resources are mutable"))
	}
	return errs
}

// noRemovedResources forbids dropping a request or limit a resize had.
func noRemovedResources(r, old *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name := range old.Requests {
		if _, ok := r.Requests[name]; !ok {
			errs = append(errs, field.Forbidden(p.Child("requests"), "resource requests cannot be removed"))
			break
		}
	}
	for name := range old.Limits {
		if _, ok := r.Limits[name]; !ok {
			errs = append(errs, field.Forbidden(p.Child("limits"), "resource limits cannot be removed"))
			break
		}
	}
	return errs
}

// resetCPUMemory sets c's cpu and memory requests and limits and its
// resize policy back to old's.
func resetCPUMemory(c, old *corev1.Container) {
	reset := func(list *corev1.ResourceList, oldList corev1.ResourceList) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			q, ok := oldList[name]
			switch {
			case ok:
				if *list == nil {
					*list = corev1.ResourceList{}
				}
				(*list)[name] = q
			case *list != nil:
				delete(*list, name)
			}
		}
		if len(*list) == 0 && len(oldList) == 0 {
			*list = oldList
		}
	}
	reset(&c.Resources.Requests, old.Resources.Requests)
	reset(&c.Resources.Limits, old.Resources.Limits)
	c.ResizePolicy = old.ResizePolicy
}

// nodeSupportsResize is false when a running container's status carries
// no resources: its node predates in-place resize.
func nodeSupportsResize(pod *corev1.Pod) bool {
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if s.State.Running != nil && s.Resources == nil {
			return false
		}
	}
	return true
}

func isRestartable(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// podQOS is the QoS class of the pod's spec: Guaranteed when every
// container limits cpu and memory with requests equal to the limits,
// BestEffort when none requests or limits either, else Burstable.
func podQOS(pod *corev1.Pod) corev1.PodQOSClass {
	anySet, guaranteed := false, true
	cs := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range cs {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if (hasReq && !req.IsZero()) || (hasLim && !lim.IsZero()) {
				anySet = true
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

var (
	supportedResizeResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	supportedResizePolicies  = []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}
)

// validateResizePolicy checks a container's resizePolicy: cpu or memory,
// each once, with a known restart policy.
func validateResizePolicy(policies []corev1.ContainerResizePolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[corev1.ResourceName]()
	for i, rp := range policies {
		ip := p.Index(i)
		switch {
		case rp.ResourceName == "":
			errs = append(errs, field.Required(ip.Child("resourceName"), ""))
		case seen.Has(rp.ResourceName):
			errs = append(errs, field.Duplicate(ip.Child("resourceName"), rp.ResourceName))
		default:
			errs = append(errs, enum(rp.ResourceName, supportedResizeResources, ip.Child("resourceName"))...)
		}
		seen.Insert(rp.ResourceName)
		errs = append(errs, enum(rp.RestartPolicy, supportedResizePolicies, ip.Child("restartPolicy"))...)
	}
	return errs
}
