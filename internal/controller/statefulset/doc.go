// Package statefulset is the StatefulSet controller: it keeps
// spec.replicas pods named <set>-<ordinal> (ordinals from
// spec.ordinals.start), each with a stable hostname, the set's
// serviceName as subdomain, and its own PersistentVolumeClaims
// <claim>-<set>-<ordinal> made from spec.volumeClaimTemplates.
//
// Pods are created and deleted one at a time, lowest ordinal first on
// the way up and highest first on the way down, each waiting for the
// previous to be running and ready (OrderedReady), or all at once
// (Parallel). Each version of the pod template is a ControllerRevision;
// pods carry the revision name in the controller-revision-hash label.
// The RollingUpdate strategy replaces pods whose ordinal is at or above
// the partition, highest first, one (or maxUnavailable) at a time;
// OnDelete only uses the new revision for pods the user deleted.
// The claims' owner references implement
// persistentVolumeClaimRetentionPolicy: the set owns them when
// WhenDeleted is Delete, a condemned pod owns them when WhenScaled is
// Delete, and the garbage collector does the deleting.
//
// Events on the set, as upstream's statefulset-controller records them:
// SuccessfulCreate/FailedCreate, SuccessfulUpdate/FailedUpdate (identity
// labels, claims of an existing pod) and SuccessfulDelete/FailedDelete
// for pods ("create Pod web-0 in StatefulSet web successful"),
// SuccessfulCreate/FailedCreate for claims ("create Claim data-web-0 Pod
// web-0 in StatefulSet web success"), and RecreatingFailedPod /
// RecreatingTerminatedPod before a finished pod is replaced. A pod already
// gone, or one the cache had not yet seen, is no failure and no event.
//
// Handlers only enqueue the set's namespace/name; Sync is level-based and
// reads listers. Pod names are fixed, so creating twice on a stale cache
// is an AlreadyExists, not a duplicate, and no expectations are needed.
//
// Run registers the handlers, waits for the caches, runs the workers
// until its context ends, then shuts the queue down and waits for them.
package statefulset
