// Package daemonset is the DaemonSet controller: it keeps one pod of each
// DaemonSet on every node the pod template may run on (nodeSelector,
// required node affinity, and taints, with the tolerations every daemon
// pod gets added: not-ready and unreachable NoExecute without a time
// limit; disk-, memory- and pid-pressure and unschedulable NoSchedule;
// network-unavailable for host-network pods).
//
// Pods are not bound by the controller: each gets a required node
// affinity on metadata.name (matchFields) naming its node, and the
// scheduler places it. Pods on nodes that no longer qualify, or no longer
// exist, are deleted; failed pods are replaced.
//
// Each version of the template is a ControllerRevision; pods carry its
// hash in the controller-revision-hash label. RollingUpdate replaces old
// pods within maxUnavailable (deleting first) or maxSurge (starting the
// new pod first, deleting the old once the new one is available);
// OnDelete waits for the user to delete pods.
//
// Events on the set, as upstream's daemonset-controller records them:
// SuccessfulCreate "Created pod: <name>", FailedCreate "Error creating:
// <err>", SuccessfulDelete "Deleted pod: <name>", FailedDelete "Error
// deleting: <err>", FailedDaemonPod / SucceededDaemonPod when a finished
// pod is deleted from a node that should keep the daemon, and
// SelectingAll for an empty selector. Upstream's FailedPlacement reported
// a node without room for the pod; here, as in current upstream, the
// scheduler decides that, so it is not recorded.
//
// Pod names are generated, so creations and deletions are recorded as
// expectations: a set is not acted on again until the cache has seen
// them (or they expire).
//
// Run registers the handlers, waits for the caches, runs the workers
// until its context ends, then shuts the queue down and waits for them.
package daemonset
