package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The built-in priority classes.
const (
	SystemClusterCritical = "system-cluster-critical"
	SystemNodeCritical    = "system-node-critical"
	// HighestUserPriority is the largest value a user class may have.
	HighestUserPriority = 1000000000
	// SystemCriticalPriority is the base of the system classes.
	SystemCriticalPriority = 2 * HighestUserPriority
)

// SystemPriorityClasses returns the classes the API server creates at start
// (if missing). The slice is new on every call.
func SystemPriorityClasses() []schedulingv1.PriorityClass {
	mk := func(name string, value int32, desc string) schedulingv1.PriorityClass {
		return schedulingv1.PriorityClass{
			TypeMeta:    metav1.TypeMeta{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass"},
			ObjectMeta:  metav1.ObjectMeta{Name: name},
			Value:       value,
			Description: desc,
		}
	}
	return []schedulingv1.PriorityClass{
		mk(SystemNodeCritical, SystemCriticalPriority+1000, "Used for system critical pods that must not be moved from their current node."),
		mk(SystemClusterCritical, SystemCriticalPriority, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
	}
}

// Priority resolves a new pod's spec.priorityClassName into spec.priority
// and spec.preemptionPolicy (the global default class, else priority 0,
// when no class is named), and refuses unknown classes, hand-set
// priorities that disagree with the class, and a second globalDefault
// PriorityClass.
//
// Without PriorityClasses pods get priority 0 and named classes are refused.
type Priority struct {
	PriorityClasses PriorityClassLister
}

var (
	_ Mutator   = (*Priority)(nil)
	_ Validator = (*Priority)(nil)
)

func (*Priority) Name() string { return "Priority" }

func (p *Priority) Admit(ctx context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "pods", "") {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	var (
		value  int32
		policy *corev1.PreemptionPolicy
	)
	if pod.Spec.PriorityClassName == "" {
		def, err := p.globalDefault(ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to get default priority class: %v", err))
		}
		if def != nil {
			pod.Spec.PriorityClassName = def.Name
			value, policy = def.Value, def.PreemptionPolicy
		} else {
			lower := corev1.PreemptLowerPriority
			policy = &lower
		}
	} else {
		pc, err := p.get(ctx, pod.Spec.PriorityClassName)
		if apierrors.IsNotFound(err) {
			return forbidden(req, fmt.Errorf("no PriorityClass with name %v was found", pod.Spec.PriorityClassName))
		}
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to get PriorityClass with name %s: %v", pod.Spec.PriorityClassName, err))
		}
		value, policy = pc.Value, pc.PreemptionPolicy
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return forbidden(req, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if policy != nil {
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != *policy {
			return forbidden(req, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, *policy))
		}
		pp := *policy
		pod.Spec.PreemptionPolicy = &pp
	}
	return nil
}

// Validate refuses a PriorityClass that would become a second global
// default.
func (p *Priority) Validate(ctx context.Context, req *Request) error {
	if (req.Operation != Create && req.Operation != Update) || !req.is("scheduling.k8s.io", "priorityclasses", "") {
		return nil
	}
	pc, ok := req.Object.(*schedulingv1.PriorityClass)
	if !ok {
		return unexpectedType(req.Object)
	}
	if !pc.GlobalDefault || p.PriorityClasses == nil {
		return nil
	}
	def, err := p.globalDefault(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("failed to get default priority class: %v", err))
	}
	if def != nil && def.Name != pc.Name {
		return forbidden(req, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
	}
	return nil
}

func (p *Priority) get(ctx context.Context, name string) (*schedulingv1.PriorityClass, error) {
	if p.PriorityClasses == nil {
		return nil, apierrors.NewNotFound(schedulingv1.Resource("priorityclasses"), name)
	}
	return p.PriorityClasses.GetPriorityClass(ctx, name)
}

// globalDefault returns the global default class; if a race left several,
// the one with the lowest value.
func (p *Priority) globalDefault(ctx context.Context) (*schedulingv1.PriorityClass, error) {
	if p.PriorityClasses == nil {
		return nil, nil
	}
	all, err := p.PriorityClasses.ListPriorityClasses(ctx)
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for i := range all {
		if all[i].GlobalDefault && (def == nil || all[i].Value < def.Value) {
			def = &all[i]
		}
	}
	return def, nil
}
