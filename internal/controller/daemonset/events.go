package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Reasons of the events this controller records, as upstream. Events
// about a pod name it as related: the events.k8s.io recorder folds
// events that share regarding, reason, action and related into one series
// showing only the first note.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
	// ReasonSelectingAll: the set's selector is empty; it is not synced.
	ReasonSelectingAll = "SelectingAll"
	// ReasonFailedDaemonPod and ReasonSucceededDaemonPod: a finished pod
	// found on a node that should keep the daemon is deleted, to be
	// replaced.
	ReasonFailedDaemonPod    = "FailedDaemonPod"
	ReasonSucceededDaemonPod = "SucceededDaemonPod"
)

// finishedEvents records, for each finished pod about to be deleted,
// that it was found: a Warning for a failed pod, Normal for a succeeded
// one.
func (c *Controller) finishedEvents(ds *appsv1.DaemonSet, pods []*corev1.Pod) {
	for _, p := range pods {
		if p.Status.Phase == corev1.PodFailed {
			c.recorder.Eventf(ds, p, corev1.EventTypeWarning, ReasonFailedDaemonPod, "Delete",
				"Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, nodeOf(p))
			continue
		}
		c.recorder.Eventf(ds, p, corev1.EventTypeNormal, ReasonSucceededDaemonPod, "Delete",
			"Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, nodeOf(p))
	}
}
