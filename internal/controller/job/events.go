package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Reasons of the events this controller records, as upstream. A Job that
// fails records a Warning with its Failed condition's reason and message
// (ReasonBackoffLimitExceeded, ReasonDeadlineExceeded, ...). Events about
// a pod name it as related: the events.k8s.io recorder folds events that
// share regarding, reason, action and related into one series showing
// only the first note.
const (
	ReasonSuccessfulCreate     = "SuccessfulCreate"
	ReasonFailedCreate         = "FailedCreate"
	ReasonSuccessfulDelete     = "SuccessfulDelete"
	ReasonFailedDelete         = "FailedDelete"
	ReasonCompleted            = "Completed"
	ReasonTooManySucceededPods = "TooManySucceededPods"
	ReasonSuspended            = "Suspended"
	ReasonResumed              = "Resumed"
)

// note is an event a sync records after its status write succeeds, so a
// write lost to a conflict is not reported twice.
type note struct {
	eventtype, reason, message string
}

// finishedNotes are the events of a Job reaching tgt's final condition:
// Completed (after TooManySucceededPods if more pods succeeded than
// completions asked for), or a Warning repeating the Failed condition.
func finishedNotes(job *batchv1.Job, st *batchv1.JobStatus, tgt *target) []note {
	if tgt.final != batchv1.JobComplete {
		return []note{{corev1.EventTypeWarning, tgt.reason, tgt.message}}
	}
	var out []note
	if job.Spec.Completions != nil && st.Succeeded > *job.Spec.Completions {
		out = append(out, note{corev1.EventTypeWarning, ReasonTooManySucceededPods,
			"Too many succeeded pods running after completion count reached"})
	}
	return append(out, note{corev1.EventTypeNormal, ReasonCompleted, "Job completed"})
}
