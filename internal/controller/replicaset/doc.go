// Package replicaset is the ReplicaSet controller, and — with the same code
// — the ReplicationController controller: it keeps the number of live pods
// matching a workload's selector at spec.replicas.
//
// Behaviour, as in Kubernetes:
//   - Pods are created from spec.template with generateName "<name>-", the
//     template's labels, annotations and finalizers, and a controller
//     ownerReference (blockOwnerDeletion) to the workload. Creations go in
//     slow-start batches (1, 2, 4, ...) so a failing template costs one
//     request, not hundreds; at most BurstReplicas pods change per sync.
//   - Surplus pods are deleted best-first: unscheduled before scheduled,
//     Pending before Unknown before Running, not ready before ready, lower
//     controller.kubernetes.io/pod-deletion-cost first, pods doubled up on
//     a node with their siblings (pods of the same Deployment) first, more
//     recently ready first, more restarts first, newer first.
//   - Orphan pods matching the selector are adopted, owned pods that no
//     longer match are released (both by ownerReference patches), after a
//     live read confirms the workload is not being deleted.
//   - Expectations: after asking for N creations or deletions, a workload
//     is not managed again until the pod informer has reported all of them
//     (or five minutes pass), so a stale cache never causes a second round
//     of creations or deletions.
//   - Status: replicas, fullyLabeledReplicas, readyReplicas,
//     availableReplicas (ready for minReadySeconds), observedGeneration and
//     the ReplicaFailure condition (FailedCreate / FailedDelete).
//
// ReplicationControllers are converted to a ReplicaSet view (map selector as
// matchLabels) on the way in and back on status writes, so sync has one
// code path.
//
// Run registers the event handlers (which only enqueue namespace/name keys),
// waits for the caches, runs the workers until its context ends, then shuts
// the queue down and waits for the workers. Sync may also be called directly,
// as the tests do.
package replicaset
