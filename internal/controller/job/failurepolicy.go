package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// policyMatch is the outcome of a failed pod against the job's
// podFailurePolicy: the action of the first matching rule (nil when no
// rule matches, which counts the failure as usual) and a message saying why.
type policyMatch struct {
	action  *batchv1.PodFailurePolicyAction
	message string
}

// matchFailurePolicy finds the first rule of policy that the failed pod
// matches.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) policyMatch {
	if policy == nil {
		return policyMatch{}
	}
	for i, rule := range policy.Rules {
		if r := rule.OnExitCodes; r != nil {
			if c := matchExitCodes(r, pod); c != nil {
				return policyMatch{action: &rule.Action, message: fmt.Sprintf(
					"Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					c.Name, pod.Namespace, pod.Name, c.State.Terminated.ExitCode, rule.Action, i)}
			}
		}
		for _, pat := range rule.OnPodConditions {
			for _, cond := range pod.Status.Conditions {
				if cond.Type == pat.Type && cond.Status == pat.Status {
					return policyMatch{action: &rule.Action, message: fmt.Sprintf(
						"Pod %s/%s has condition %s matching %s rule at index %d",
						pod.Namespace, pod.Name, cond.Type, rule.Action, i)}
				}
			}
		}
	}
	return policyMatch{}
}

// matchExitCodes returns the first terminated container (init containers
// first) whose non-zero exit code the requirement matches.
func matchExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, pod *corev1.Pod) *corev1.ContainerStatus {
	statuses := append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...)
	for i := range statuses {
		cs := &statuses[i]
		if r.ContainerName != nil && *r.ContainerName != cs.Name {
			continue
		}
		t := cs.State.Terminated
		if t == nil || t.ExitCode == 0 {
			continue
		}
		in := slices.Contains(r.Values, t.ExitCode)
		if (r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
			return cs
		}
	}
	return nil
}
