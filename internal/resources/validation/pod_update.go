package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podUpdateForbiddenMsg names what a pod update may change.
const podUpdateForbiddenMsg = "pod updates may not change fields other than " +
	"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
	"`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// validatePodUpdate enforces that a pod's spec is fixed once created except
// for images, a shorter active deadline, added tolerations, and the grace
// period fix-up.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList

	// Empty images are reported by the create checks, which also run on
	// updates.

	if old.Spec.ActiveDeadlineSeconds != nil {
		ap := p.Child("activeDeadlineSeconds")
		switch {
		case pod.Spec.ActiveDeadlineSeconds == nil:
			errs = append(errs, field.Invalid(ap, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		case *pod.Spec.ActiveDeadlineSeconds > *old.Spec.ActiveDeadlineSeconds:
			errs = append(errs, field.Invalid(ap, *pod.Spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	for _, ot := range old.Spec.Tolerations {
		if !hasToleration(pod.Spec.Tolerations, ot) {
			errs = append(errs, field.Forbidden(p.Child("tolerations"), fmt.Sprintf("existing toleration can not be modified except its tolerationSeconds: %s", tolerationString(ot))))
		}
	}

	// Overlay what may change onto a copy of the old spec; anything else
	// that differs is forbidden.
	mutable := old.Spec.DeepCopy()
	if len(mutable.Containers) == len(pod.Spec.Containers) {
		for i := range mutable.Containers {
			mutable.Containers[i].Image = pod.Spec.Containers[i].Image
		}
	}
	if len(mutable.InitContainers) == len(pod.Spec.InitContainers) {
		for i := range mutable.InitContainers {
			mutable.InitContainers[i].Image = pod.Spec.InitContainers[i].Image
		}
	}
	mutable.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
	mutable.Tolerations = pod.Spec.Tolerations
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		if ng := pod.Spec.TerminationGracePeriodSeconds; ng != nil && *ng == 1 {
			mutable.TerminationGracePeriodSeconds = ng
		}
	}
	// Ephemeral containers change only through their own subresource.
	mutable.EphemeralContainers = pod.Spec.EphemeralContainers
	if !equality.Semantic.DeepEqual(mutable, &pod.Spec) {
		errs = append(errs, field.Forbidden(p, podUpdateForbiddenMsg))
	}
	return errs
}

// hasToleration reports whether ts holds t, allowing tolerationSeconds to
// have changed.
func hasToleration(ts []corev1.Toleration, t corev1.Toleration) bool {
	for _, c := range ts {
		if c.Key == t.Key && c.Operator == t.Operator && c.Value == t.Value && c.Effect == t.Effect {
			return true
		}
	}
	return false
}

var supportedPodPhases = []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}

// validatePodStatusUpdate checks a pod status write: node name must not
// change, and a terminal phase may not be left.
func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	p := field.NewPath("status")
	errs := optionalEnum(pod.Status.Phase, supportedPodPhases, p.Child("phase"))
	if old.Spec.NodeName != "" && pod.Spec.NodeName != old.Spec.NodeName {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "nodeName"), "may not be changed directly"))
	}
	if terminal(old.Status.Phase) && pod.Status.Phase != old.Status.Phase {
		errs = append(errs, field.Forbidden(p.Child("phase"), fmt.Sprintf("may not be changed from %s", old.Status.Phase)))
	}
	if pod.Status.NominatedNodeName != "" {
		errs = append(errs, dnsSubdomain(pod.Status.NominatedNodeName, p.Child("nominatedNodeName"))...)
	}
	return errs
}

func terminal(phase corev1.PodPhase) bool {
	return phase == corev1.PodSucceeded || phase == corev1.PodFailed
}

func tolerationString(t corev1.Toleration) string {
	return fmt.Sprintf("{key:%q operator:%q value:%q effect:%q}", t.Key, t.Operator, t.Value, t.Effect)
}
