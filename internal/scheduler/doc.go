// Package scheduler is Skiff's pod scheduler: an API client that assigns
// pending pods (spec.schedulerName matching one of its profiles, no
// spec.nodeName) to nodes by POSTing pods/binding.
//
// # Shape
//
// Informers feed two structures: the Cache (every node with the pods on it,
// including "assumed" pods whose binding is still in flight) and the Queue
// (pending pods: an active heap ordered by priority then creation time, a
// backoff heap, and an unschedulable pool that only cluster events relevant
// to the plugins that rejected a pod move back, plus a 5 minute flush).
//
// One goroutine runs scheduling cycles: pop a pod, run the profile's filter
// chain over the nodes (stopping once percentageOfNodesToScore worth of
// feasible nodes are found, starting where the last cycle stopped), score the
// feasible nodes with the weighted score chain, assume the pod on the best
// node and hand it to a binder goroutine, then pop the next pod. Filters and
// scores are small types assembled in order in plugins.go (newFilters,
// newScorers); each rejection carries its reason, which feeds the upstream
// "0/N nodes are available: ..." message, the PodScheduled condition and the
// FailedScheduling event. When no node fits, preemption (preempt.go) looks for
// the node where evicting the fewest, lowest-priority pods makes the pod fit,
// sets status.nominatedNodeName and deletes the victims.
//
// # Explanations
//
// Every cycle produces an Explanation: per node, the filter that rejected it
// and why, or each weighted score. The latest one for each pending or
// recently scheduled pod is kept in memory (Scheduler.Explain) and written as
// one structured debug log line ("scheduling explanation"). Nothing is written
// to the API, so explanations cost no requests. ExplainPod dry-runs one pod
// against the current cache; ExplainFromAPI builds a throw-away scheduler
// whose cache is filled from the API to do the same outside the scheduler's
// process (`skiff explain pod`), and WriteExplanation prints the table.
//
// # Lifecycle
//
// New registers event handlers on the informer factory it is given; Run
// starts that factory (harmless if the caller already did), waits for the
// caches, optionally acquires the leader Lease, and blocks running cycles
// until its context ends. Losing the Lease ends the term's cycles and
// bindings, puts unfinished pods back in the queue, and campaigns again
// (package leader); the informers and the cache stay warm between terms.
// In-flight bindings are waited for before Run returns.
//
// # Locks
//
// Cache.mu guards the node infos and assumed pods; a scheduling cycle holds it
// for reading while filtering and scoring, and for writing only to assume.
// Queue.mu guards the three queues; it is never held while calling out. The
// lock order is Cache.mu then Queue.mu (only the binder takes both, in turn,
// never nested).
package scheduler
