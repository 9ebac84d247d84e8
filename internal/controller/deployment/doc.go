// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, as Kubernetes does.
//
// For each Deployment the controller finds the ReplicaSet whose template
// equals the Deployment's (ignoring the pod-template-hash label) — the new
// ReplicaSet — creating it if needed as "<deployment>-<hash>", where hash
// is an FNV-32a hash of the template and status.collisionCount rendered with
// rand.SafeEncodeString. Every other owned ReplicaSet is old.
//
//   - RollingUpdate scales the new ReplicaSet up while the total stays at
//     most replicas+maxSurge, and old ones down while at least
//     replicas-maxUnavailable pods stay available (unhealthy old pods go
//     first). Recreate scales every old ReplicaSet to zero, waits until
//     their pods are gone, then scales the new one up.
//   - A replicas change during a rollout (including through the scale
//     subresource) is spread over the active ReplicaSets in proportion to
//     their size, using the desired-replicas and max-replicas annotations.
//   - Revisions: deployment.kubernetes.io/revision on each ReplicaSet (and
//     on the Deployment), revision-history when an old revision comes back,
//     other Deployment annotations (kubernetes.io/change-cause) copied to
//     the new ReplicaSet; the oldest ReplicaSets with no pods beyond
//     spec.revisionHistoryLimit are deleted once a rollout completes.
//     Rollback is what kubectl rollout undo does client-side: it writes the
//     old template back, and the old ReplicaSet becomes new again.
//   - spec.paused stops rollouts (scaling still applies) and sets
//     Progressing Unknown DeploymentPaused / DeploymentResumed.
//   - Status: replicas, updatedReplicas, readyReplicas, availableReplicas,
//     unavailableReplicas, observedGeneration, collisionCount, and the
//     Available (MinimumReplicasAvailable / MinimumReplicasUnavailable) and
//     Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
//     ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded)
//     conditions, which kubectl rollout status reads.
//
// The controller owns ReplicaSets through controller ownerReferences,
// adopting orphans that match the selector and releasing those that no
// longer do. The Deployment's own revision annotation is written with an
// ordinary update (the status subresource keeps metadata as stored).
//
// Run registers the event handlers (which only enqueue namespace/name keys),
// waits for the caches, runs the workers until its context ends, then shuts
// the queue down and waits for the workers. Sync may also be called directly,
// as the tests do.
package deployment
