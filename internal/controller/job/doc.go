// Package job is the Job controller: it runs a Job's pods to completion.
//
// For each Job it creates pods from the template up to spec.parallelism
// (never more than the completions still missing), retries failed pods with
// an exponential backoff (10s doubling to 6m, reset by a success) until
// spec.backoffLimit is passed, enforces spec.activeDeadlineSeconds, honours
// spec.suspend (deleting the active pods) and spec.podFailurePolicy, and for
// Indexed Jobs gives every pod a completion index (annotation and label
// batch.kubernetes.io/job-completion-index, env JOB_COMPLETION_INDEX,
// hostname <job>-<index>) and runs each index to success once, optionally
// with spec.backoffLimitPerIndex.
//
// Pods are tracked with the batch.kubernetes.io/job-tracking finalizer: a
// finished pod's UID is first written to status.uncountedTerminatedPods, then
// the finalizer is removed, then the UID is moved into status.succeeded or
// status.failed. Each step is guarded by the Job's resourceVersion, so a pod
// is counted exactly once even across controller restarts.
//
// Finishing is two-step as upstream: the SuccessCriteriaMet or FailureTarget
// condition is added first; once no active pods and no uncounted pods
// remain, Complete or Failed follows.
//
// Events on the Job, as upstream's job-controller records them:
// SuccessfulCreate "Created pod: <name>", FailedCreate "Error creating:
// <err>", SuccessfulDelete "Deleted pod: <name>", FailedDelete "Error
// deleting: <err>", Suspended and Resumed, and on finishing either
// Completed "Job completed" or a Warning with the Failed condition's reason
// and message (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy,
// ...). Condition events are recorded only once the status write that sets
// the condition succeeded.
//
// New builds a Controller and starts nothing; Run adds the informer
// handlers, waits for the caches and runs the workers until its context
// ends, returning after every worker stopped.
package job
