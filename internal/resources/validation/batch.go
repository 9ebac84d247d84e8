package validation

import (
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxCronJobNameLength leaves room for the suffix a CronJob's Jobs get
// within a 63-character label value.
const maxCronJobNameLength = 52

func init() {
	register(typedRules[*batchv1.Job]{namespaced: true, name: apivalidation.NameIsDNSSubdomain, create: validateJob, update: validateJobUpdate,
		status: func(j, _ *batchv1.Job) field.ErrorList {
			s := j.Status
			counts := map[string]int32{"active": s.Active, "succeeded": s.Succeeded, "failed": s.Failed}
			if s.Ready != nil {
				counts["ready"] = *s.Ready
			}
			if s.Terminating != nil {
				counts["terminating"] = *s.Terminating
			}
			return replicaCounts(field.NewPath("status"), counts, 0)
		}})
	register(typedRules[*batchv1.CronJob]{namespaced: true, name: apivalidation.NameIsDNSSubdomain, create: validateCronJob})
}

var supportedJobRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}

func validateJob(j *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateJobSpec(&j.Spec, p, true)
	manual := j.Spec.ManualSelector != nil && *j.Spec.ManualSelector
	if !manual && j.UID != "" && j.Spec.Selector != nil {
		if got, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok || got != string(j.UID) {
			errs = append(errs, field.Invalid(p.Child("selector"), j.Spec.Selector, "`selector` not auto-generated"))
		}
	}
	return errs
}

// validateJobSpec validates a Job's spec; in a CronJob's template the
// selector is generated later and may be absent.
func validateJobSpec(spec *batchv1.JobSpec, p *field.Path, selectorRequired bool) field.ErrorList {
	errs := nonNegative32(spec.Parallelism, p.Child("parallelism"))
	errs = append(errs, nonNegative32(spec.Completions, p.Child("completions"))...)
	errs = append(errs, nonNegative32(spec.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, nonNegative32(spec.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, positive(*spec.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if spec.CompletionMode != nil {
		cp := p.Child("completionMode")
		errs = append(errs, enum(*spec.CompletionMode, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}, cp)...)
		if *spec.CompletionMode == batchv1.IndexedCompletion && spec.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		}
	}
	if spec.BackoffLimitPerIndex != nil && (spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion) {
		errs = append(errs, field.Forbidden(p.Child("backoffLimitPerIndex"), "requires indexed completion mode"))
	}
	if spec.PodReplacementPolicy != nil {
		errs = append(errs, enum(*spec.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.TerminatingOrFailed, batchv1.Failed}, p.Child("podReplacementPolicy"))...)
	}
	sp := p.Child("selector")
	tp := p.Child("template")
	if spec.Selector == nil {
		if selectorRequired {
			errs = append(errs, field.Required(sp, ""))
		}
	} else {
		errs = append(errs, labelSelector(spec.Selector, sp)...)
		errs = append(errs, selectorMatchesLabels(spec.Selector, spec.Template.Labels, tp.Child("metadata", "labels"))...)
	}
	errs = append(errs, validatePodTemplateSpec(&spec.Template, nil, tp)...)
	rp := tp.Child("spec", "restartPolicy")
	if rpv := spec.Template.Spec.RestartPolicy; rpv != corev1.RestartPolicyOnFailure && rpv != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(rp, rpv, supportedJobRestartPolicies))
	}
	return errs
}

// validateJobUpdate keeps a Job's selector, completion mode and pod
// template fixed; a suspended Job that has never started may still change
// its pods' scheduling directives.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	errs := immutable(j.Spec.Selector, old.Spec.Selector, p.Child("selector"))
	errs = append(errs, immutable(j.Spec.CompletionMode, old.Spec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, immutable(j.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(j.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	// Indexed jobs may scale completions together with parallelism.
	indexed := old.Spec.CompletionMode != nil && *old.Spec.CompletionMode == batchv1.IndexedCompletion
	elastic := indexed && j.Spec.Completions != nil && j.Spec.Parallelism != nil && *j.Spec.Completions == *j.Spec.Parallelism
	if !elastic {
		errs = append(errs, immutable(j.Spec.Completions, old.Spec.Completions, p.Child("completions"))...)
	}

	tmpl := old.Spec.Template.DeepCopy()
	suspended := old.Spec.Suspend != nil && *old.Spec.Suspend
	if suspended && old.Status.StartTime == nil {
		t := &j.Spec.Template
		tmpl.Labels, tmpl.Annotations = t.Labels, t.Annotations
		tmpl.Spec.NodeSelector, tmpl.Spec.Affinity, tmpl.Spec.Tolerations = t.Spec.NodeSelector, t.Spec.Affinity, t.Spec.Tolerations
		tmpl.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	if !equality.Semantic.DeepEqual(tmpl, &j.Spec.Template) {
		errs = append(errs, field.Invalid(p.Child("template"), j.Spec.Template, fieldImmutableMsg))
	}
	return errs
}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	if len(cj.Name) > maxCronJobNameLength {
		errs = append(errs, field.Invalid(metadataPath.Child("name"), cj.Name, "must be no more than 52 characters"))
	}
	p := field.NewPath("spec")
	sp := p.Child("schedule")
	switch {
	case cj.Spec.Schedule == "":
		errs = append(errs, field.Required(sp, ""))
	case strings.Contains(cj.Spec.Schedule, "TZ"):
		errs = append(errs, field.Invalid(sp, cj.Spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	default:
		if err := parseCron(cj.Spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, cj.Spec.Schedule, err.Error()))
		}
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		tp := p.Child("timeZone")
		if *tz == "" || strings.EqualFold(*tz, "local") {
			errs = append(errs, field.Invalid(tp, *tz, "unknown time zone "+*tz))
		} else if _, err := time.LoadLocation(*tz); err != nil {
			errs = append(errs, field.Invalid(tp, *tz, err.Error()))
		}
	}
	errs = append(errs, enum(cj.Spec.ConcurrencyPolicy, []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}, p.Child("concurrencyPolicy"))...)
	if cj.Spec.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*cj.Spec.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, nonNegative32(cj.Spec.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegative32(cj.Spec.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	errs = append(errs, validateJobSpec(&cj.Spec.JobTemplate.Spec, p.Child("jobTemplate", "spec"), false)...)
	return errs
}
