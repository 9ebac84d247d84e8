package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resource is an amount of each schedulable resource. CPU is in millicores,
// the rest in base units. Scalar holds extended resources (and hugepages),
// keyed by name.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	Scalar           map[corev1.ResourceName]int64
}

// Default requests used for scoring containers that request nothing, so that
// best-effort pods still spread (upstream's non-zero defaults).
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// resourceFromList converts a ResourceList.
func resourceFromList(rl corev1.ResourceList) Resource {
	var r Resource
	r.addList(rl)
	return r
}

func (r *Resource) addList(rl corev1.ResourceList) {
	for name, q := range rl {
		r.addOne(name, q)
	}
}

func (r *Resource) addOne(name corev1.ResourceName, q resource.Quantity) {
	switch name {
	case corev1.ResourceCPU:
		r.MilliCPU += q.MilliValue()
	case corev1.ResourceMemory:
		r.Memory += q.Value()
	case corev1.ResourceEphemeralStorage:
		r.EphemeralStorage += q.Value()
	case corev1.ResourcePods:
		r.Pods += q.Value()
	default:
		if isScalarResource(name) {
			if r.Scalar == nil {
				r.Scalar = map[corev1.ResourceName]int64{}
			}
			r.Scalar[name] += q.Value()
		}
	}
}

// isScalarResource reports whether name is an extended resource or hugepages,
// the resources NodeResourcesFit checks beyond cpu, memory and storage.
func isScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	if len(s) > len(corev1.ResourceHugePagesPrefix) && s[:len(corev1.ResourceHugePagesPrefix)] == corev1.ResourceHugePagesPrefix {
		return true
	}
	// Extended resources are domain-qualified and outside kubernetes.io
	// (other than the requests.* quota names, which never reach pods).
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			domain := s[:i]
			return domain != "kubernetes.io" && !hasSuffix(domain, ".kubernetes.io")
		}
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// Add adds o to r.
func (r *Resource) Add(o Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] -= v
	}
}

// max sets each amount of r to the larger of r's and o's.
func (r *Resource) max(o Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.Pods = max(r.Pods, o.Pods)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	c := r
	if r.Scalar != nil {
		c.Scalar = make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			c.Scalar[k] = v
		}
	}
	return c
}

// podRequests computes what a pod needs from a node while it runs, as the
// kubelet admits it: the regular containers together with every sidecar
// (restartable init container), or the largest moment of the init sequence
// if that is bigger (each init container runs beside the sidecars started
// before it), plus the pod overhead. Pod-level requests (spec.resources)
// replace the container sum for the resources they name. With nonZero,
// containers that request no cpu or memory count the scoring defaults.
func podRequests(pod *corev1.Pod, nonZero bool) Resource {
	var containers Resource
	for i := range pod.Spec.Containers {
		containers.Add(containerRequests(&pod.Spec.Containers[i], nonZero))
	}
	var sidecars, initPeak Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		req := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Add(req)
			initPeak.max(sidecars)
			continue
		}
		moment := sidecars.Clone()
		moment.Add(req)
		initPeak.max(moment)
	}
	total := containers
	total.Add(sidecars)
	total.max(initPeak)
	if pod.Spec.Resources != nil {
		for name, q := range pod.Spec.Resources.Requests {
			switch name {
			case corev1.ResourceCPU:
				total.MilliCPU = q.MilliValue()
			case corev1.ResourceMemory:
				total.Memory = q.Value()
			}
		}
	}
	if pod.Spec.Overhead != nil {
		total.addList(pod.Spec.Overhead)
	}
	total.Pods = 0
	return total
}

func containerRequests(c *corev1.Container, nonZero bool) Resource {
	r := resourceFromList(c.Resources.Requests)
	if nonZero {
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			r.MilliCPU = defaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			r.Memory = defaultMemoryRequest
		}
	}
	return r
}
