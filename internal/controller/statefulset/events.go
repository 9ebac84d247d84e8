package statefulset

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Actions of the events this controller records; each pod or claim
// event's reason is Successful<Action> or Failed<Action>, as upstream.
const (
	actionCreate = "Create"
	actionUpdate = "Update"
	actionDelete = "Delete"
)

// Reasons of the events recorded before a finished pod is replaced.
const (
	ReasonRecreatingFailedPod     = "RecreatingFailedPod"
	ReasonRecreatingTerminatedPod = "RecreatingTerminatedPod"
)

// Every pod or claim event names that object as related: the
// events.k8s.io recorder folds events that share regarding, reason,
// action and related into one series showing only the first note, so
// without it the creations of one sync would read as one.

// podEvent records action applied to pod on set: Normal
// Successful<Action> when err is nil, else Warning Failed<Action> with
// err, in upstream's words.
func (c *Controller) podEvent(set *appsv1.StatefulSet, action string, pod *corev1.Pod, err error) {
	verb := strings.ToLower(action)
	if err == nil {
		c.recorder.Eventf(set, pod, corev1.EventTypeNormal, "Successful"+action, action,
			"%s Pod %s in StatefulSet %s successful", verb, pod.Name, set.Name)
		return
	}
	c.recorder.Eventf(set, pod, corev1.EventTypeWarning, "Failed"+action, action,
		"%s Pod %s in StatefulSet %s failed error: %s", verb, pod.Name, set.Name, err)
}

// claimEvent records action applied to claim, made for pod, on set;
// like podEvent, with upstream's (differently worded) claim messages.
func (c *Controller) claimEvent(set *appsv1.StatefulSet, action string, claim *corev1.PersistentVolumeClaim, pod *corev1.Pod, err error) {
	verb := strings.ToLower(action)
	if err == nil {
		c.recorder.Eventf(set, claim, corev1.EventTypeNormal, "Successful"+action, action,
			"%s Claim %s Pod %s in StatefulSet %s success", verb, claim.Name, pod.Name, set.Name)
		return
	}
	c.recorder.Eventf(set, claim, corev1.EventTypeWarning, "Failed"+action, action,
		"%s Claim %s for Pod %s in StatefulSet %s failed error: %s", verb, claim.Name, pod.Name, set.Name, err)
}

// recreateEvent records that the finished pod is about to be deleted to
// be replaced: a Warning for a failed pod, Normal for a succeeded one.
func (c *Controller) recreateEvent(set *appsv1.StatefulSet, pod *corev1.Pod) {
	if pod.Status.Phase == corev1.PodFailed {
		c.recorder.Eventf(set, pod, corev1.EventTypeWarning, ReasonRecreatingFailedPod, actionDelete,
			"StatefulSet %s/%s is recreating failed Pod %s", set.Namespace, set.Name, pod.Name)
		return
	}
	c.recorder.Eventf(set, pod, corev1.EventTypeNormal, ReasonRecreatingTerminatedPod, actionDelete,
		"StatefulSet %s/%s is recreating terminated Pod %s", set.Namespace, set.Name, pod.Name)
}
