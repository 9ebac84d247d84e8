package admission

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// quotaEvaluator measures one kind of object for ResourceQuota.
type quotaEvaluator interface {
	// tracks reports whether name is a quota resource this kind uses.
	tracks(name corev1.ResourceName) bool
	// usage is what one object consumes.
	usage(obj interface{}) (corev1.ResourceList, error)
	// matchesScope reports whether a quota scope selects obj.
	matchesScope(sel corev1.ScopedResourceSelectorRequirement, obj interface{}) (bool, error)
	// constraints refuses objects a quota cannot measure (pods without
	// cpu/memory requests or limits under a cpu/memory quota).
	constraints(required []corev1.ResourceName, obj interface{}) error
}

// evaluatorFor picks the evaluator for a request, nil if quota ignores it.
// Pods are charged on create only (their resources are immutable);
// services and claims also on update (type and size may grow); every other
// kind is counted on create.
func evaluatorFor(req *Request) quotaEvaluator {
	a := req.Attributes
	if a.Subresource != "" {
		return nil
	}
	switch {
	case req.is("", "pods", ""):
		if req.Operation == Create {
			return podEvaluator{}
		}
	case req.is("", "services", ""):
		if req.Operation == Create || req.Operation == Update {
			return serviceEvaluator{}
		}
	case req.is("", "persistentvolumeclaims", ""):
		if req.Operation == Create || req.Operation == Update {
			return pvcEvaluator{}
		}
	default:
		if req.Operation == Create {
			return countEvaluator{names: objectCountNames(a.APIGroup, a.Resource)}
		}
	}
	return nil
}

// objectCountNames are the quota names counting objects of a resource:
// count/<resource>[.<group>] plus the legacy core names.
func objectCountNames(group, res string) []corev1.ResourceName {
	name := "count/" + res
	if group != "" {
		name += "." + group
	}
	names := []corev1.ResourceName{corev1.ResourceName(name)}
	if group == "" {
		switch res {
		case "pods", "services", "persistentvolumeclaims", "configmaps", "secrets", "replicationcontrollers", "resourcequotas":
			names = append(names, corev1.ResourceName(res))
		}
	}
	return names
}

func one() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }

// countEvaluator counts objects.
type countEvaluator struct{ names []corev1.ResourceName }

func (e countEvaluator) tracks(n corev1.ResourceName) bool {
	for _, x := range e.names {
		if x == n {
			return true
		}
	}
	return false
}

func (e countEvaluator) usage(interface{}) (corev1.ResourceList, error) {
	u := corev1.ResourceList{}
	for _, n := range e.names {
		u[n] = one()
	}
	return u, nil
}

func (countEvaluator) matchesScope(corev1.ScopedResourceSelectorRequirement, interface{}) (bool, error) {
	return true, nil
}

func (countEvaluator) constraints([]corev1.ResourceName, interface{}) error { return nil }

// serviceEvaluator counts services, load balancers and node ports.
type serviceEvaluator struct{}

func (serviceEvaluator) tracks(n corev1.ResourceName) bool {
	switch n {
	case corev1.ResourceServices, "count/services", corev1.ResourceServicesLoadBalancers, corev1.ResourceServicesNodePorts:
		return true
	}
	return false
}

func (serviceEvaluator) usage(obj interface{}) (corev1.ResourceList, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, fmt.Errorf("unexpected object type %T", obj)
	}
	u := corev1.ResourceList{corev1.ResourceServices: one(), "count/services": one()}
	nodePorts := 0
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		nodePorts = len(svc.Spec.Ports)
	case corev1.ServiceTypeLoadBalancer:
		u[corev1.ResourceServicesLoadBalancers] = one()
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a != nil && !*a {
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					nodePorts++
				}
			}
		} else {
			nodePorts = len(svc.Spec.Ports)
		}
	}
	u[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(int64(nodePorts), resource.DecimalSI)
	return u, nil
}

func (serviceEvaluator) matchesScope(corev1.ScopedResourceSelectorRequirement, interface{}) (bool, error) {
	return true, nil
}

func (serviceEvaluator) constraints([]corev1.ResourceName, interface{}) error { return nil }

// storageClassSuffix builds per-class quota names:
// <class>.storageclass.storage.k8s.io/requests.storage.
const storageClassSuffix = ".storageclass.storage.k8s.io/"

// pvcEvaluator counts claims and requested storage, in total and per class.
type pvcEvaluator struct{}

func (pvcEvaluator) tracks(n corev1.ResourceName) bool {
	switch n {
	case corev1.ResourcePersistentVolumeClaims, "count/persistentvolumeclaims", corev1.ResourceRequestsStorage:
		return true
	}
	s := string(n)
	return strings.Contains(s, storageClassSuffix) &&
		(strings.HasSuffix(s, "/requests.storage") || strings.HasSuffix(s, "/persistentvolumeclaims"))
}

func (pvcEvaluator) usage(obj interface{}) (corev1.ResourceList, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("unexpected object type %T", obj)
	}
	u := corev1.ResourceList{corev1.ResourcePersistentVolumeClaims: one(), "count/persistentvolumeclaims": one()}
	class := pvc.Annotations[BetaStorageClassAnnotation]
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		u[corev1.ResourceName(class+storageClassSuffix+"persistentvolumeclaims")] = one()
	}
	if s, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		u[corev1.ResourceRequestsStorage] = s.DeepCopy()
		if class != "" {
			u[corev1.ResourceName(class+storageClassSuffix+"requests.storage")] = s.DeepCopy()
		}
	}
	return u, nil
}

func (pvcEvaluator) matchesScope(corev1.ScopedResourceSelectorRequirement, interface{}) (bool, error) {
	return true, nil
}

func (pvcEvaluator) constraints([]corev1.ResourceName, interface{}) error { return nil }

// podEvaluator measures pods' count and compute resources.
type podEvaluator struct{}

// computeNames are the native resources quota splits into requests./limits.
var computeNames = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true, corev1.ResourceEphemeralStorage: true,
}

func (podEvaluator) tracks(n corev1.ResourceName) bool {
	s := string(n)
	switch {
	case n == corev1.ResourcePods || s == "count/pods":
		return true
	case computeNames[n]:
		return true
	case strings.HasPrefix(s, "requests."), strings.HasPrefix(s, "limits."):
		return true
	case strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		return true
	}
	return false
}

func (podEvaluator) usage(obj interface{}) (corev1.ResourceList, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("unexpected object type %T", obj)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return corev1.ResourceList{}, nil
	}
	u := computeUsage(podEffective(pod, requestsOf), podEffective(pod, limitsOf))
	u[corev1.ResourcePods] = one()
	u["count/pods"] = one()
	return u, nil
}

// computeUsage maps requests and limits to quota names: cpu and
// requests.cpu for a cpu request, limits.cpu for a cpu limit; hugepages
// as themselves and requests.*; extended resources as requests.* only.
func computeUsage(req, lim corev1.ResourceList) corev1.ResourceList {
	u := corev1.ResourceList{}
	for k, v := range req {
		switch {
		case computeNames[k] || strings.HasPrefix(string(k), corev1.ResourceHugePagesPrefix):
			u[k] = v.DeepCopy()
			u["requests."+k] = v.DeepCopy()
		case strings.Contains(string(k), "/"):
			u["requests."+k] = v.DeepCopy()
		}
	}
	for k, v := range lim {
		if computeNames[k] {
			u["limits."+k] = v.DeepCopy()
		}
	}
	return u
}

// podEffective is what the pod reserves of each resource: the sum of its
// containers and sidecars (restartable init containers), raised to any
// regular init container (plus the sidecars started before it) that
// needs more, plus the pod overhead.
func podEffective(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		total = addLists(total, of(&pod.Spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	peak := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = addLists(sidecars, of(c))
			total = addLists(total, of(c))
			continue
		}
		for k, v := range addLists(sidecars, of(c)) {
			if p, ok := peak[k]; !ok || v.Cmp(p) > 0 {
				peak[k] = v
			}
		}
	}
	for k, v := range peak {
		if t, ok := total[k]; !ok || v.Cmp(t) > 0 {
			total[k] = v
		}
	}
	return addLists(total, pod.Spec.Overhead)
}

func (podEvaluator) matchesScope(sel corev1.ScopedResourceSelectorRequirement, obj interface{}) (bool, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false, fmt.Errorf("unexpected object type %T", obj)
	}
	switch sel.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return isTerminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !isTerminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return isBestEffort(pod), nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !isBestEffort(pod), nil
	case corev1.ResourceQuotaScopePriorityClass:
		return priorityClassSelected(sel, pod.Spec.PriorityClassName)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return usesCrossNamespaceAffinity(pod), nil
	}
	return false, nil
}

func isTerminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

// isBestEffort reports whether no container requests or limits cpu or
// memory (the BestEffort QoS class).
func isBestEffort(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for k := range l {
					if k == corev1.ResourceCPU || k == corev1.ResourceMemory {
						return false
					}
				}
			}
		}
	}
	return true
}

// priorityClassSelected evaluates a PriorityClass scope expression against
// the pod's class name (an empty name does not exist).
func priorityClassSelected(sel corev1.ScopedResourceSelectorRequirement, class string) (bool, error) {
	ops := map[corev1.ScopeSelectorOperator]selection.Operator{
		corev1.ScopeSelectorOpIn:           selection.In,
		corev1.ScopeSelectorOpNotIn:        selection.NotIn,
		corev1.ScopeSelectorOpExists:       selection.Exists,
		corev1.ScopeSelectorOpDoesNotExist: selection.DoesNotExist,
	}
	op, ok := ops[sel.Operator]
	if !ok {
		return false, fmt.Errorf("%q is not a valid scope selector operator", sel.Operator)
	}
	key := string(corev1.ResourceQuotaScopePriorityClass)
	r, err := labels.NewRequirement(key, op, sel.Values)
	if err != nil {
		return false, err
	}
	set := labels.Set{}
	if class != "" {
		set[key] = class
	}
	return labels.NewSelector().Add(*r).Matches(set), nil
}

func usesCrossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	cross := func(t corev1.PodAffinityTerm) bool { return len(t.Namespaces) > 0 || t.NamespaceSelector != nil }
	check := func(req []corev1.PodAffinityTerm, pref []corev1.WeightedPodAffinityTerm) bool {
		for _, t := range req {
			if cross(t) {
				return true
			}
		}
		for _, t := range pref {
			if cross(t.PodAffinityTerm) {
				return true
			}
		}
		return false
	}
	if a.PodAffinity != nil && check(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	return a.PodAntiAffinity != nil && check(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
}

// validatedNames must be set on every container when a quota tracks them.
var validatedNames = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true,
	corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true,
}

// constraints: when a quota tracks cpu or memory (requests or limits),
// every container must state that value, else the quota could not count
// it. The message lists each missing name with its containers.
func (podEvaluator) constraints(required []corev1.ResourceName, obj interface{}) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return fmt.Errorf("unexpected object type %T", obj)
	}
	missing := map[corev1.ResourceName][]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			has := computeUsage(c.Resources.Requests, c.Resources.Limits)
			for _, n := range required {
				if _, ok := has[n]; validatedNames[n] && !ok {
					missing[n] = append(missing[n], c.Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, string(n))
	}
	sort.Strings(names)
	msgs := make([]string, len(names))
	for i, n := range names {
		cs := missing[corev1.ResourceName(n)]
		sort.Strings(cs)
		msgs[i] = fmt.Sprintf("%s for: %s", n, strings.Join(cs, ","))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}
