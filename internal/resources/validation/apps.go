package validation

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*appsv1.Deployment]{namespaced: true, name: subdomain, create: validateDeployment,
		update: func(d, old *appsv1.Deployment) field.ErrorList {
			return immutable(d.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
		},
		status: func(d, _ *appsv1.Deployment) field.ErrorList {
			s := d.Status
			return replicaCounts(field.NewPath("status"), map[string]int32{"replicas": s.Replicas, "updatedReplicas": s.UpdatedReplicas,
				"readyReplicas": s.ReadyReplicas, "availableReplicas": s.AvailableReplicas, "unavailableReplicas": s.UnavailableReplicas}, s.ObservedGeneration)
		}})
	register(typedRules[*appsv1.ReplicaSet]{namespaced: true, name: subdomain, create: validateReplicaSet,
		update: func(rs, old *appsv1.ReplicaSet) field.ErrorList {
			return immutable(rs.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
		},
		status: func(rs, _ *appsv1.ReplicaSet) field.ErrorList {
			s := rs.Status
			return replicaCounts(field.NewPath("status"), map[string]int32{"replicas": s.Replicas, "fullyLabeledReplicas": s.FullyLabeledReplicas,
				"readyReplicas": s.ReadyReplicas, "availableReplicas": s.AvailableReplicas}, s.ObservedGeneration)
		}})
	register(typedRules[*appsv1.StatefulSet]{namespaced: true, name: subdomain, create: validateStatefulSet, update: validateStatefulSetUpdate,
		status: func(ss, _ *appsv1.StatefulSet) field.ErrorList {
			s := ss.Status
			return replicaCounts(field.NewPath("status"), map[string]int32{"replicas": s.Replicas, "readyReplicas": s.ReadyReplicas,
				"currentReplicas": s.CurrentReplicas, "updatedReplicas": s.UpdatedReplicas, "availableReplicas": s.AvailableReplicas}, s.ObservedGeneration)
		}})
	register(typedRules[*appsv1.DaemonSet]{namespaced: true, name: subdomain, create: validateDaemonSet,
		update: func(ds, old *appsv1.DaemonSet) field.ErrorList {
			return immutable(ds.Spec.Selector, old.Spec.Selector, field.NewPath("spec", "selector"))
		},
		status: func(ds, _ *appsv1.DaemonSet) field.ErrorList {
			s := ds.Status
			return replicaCounts(field.NewPath("status"), map[string]int32{"currentNumberScheduled": s.CurrentNumberScheduled,
				"numberMisscheduled": s.NumberMisscheduled, "desiredNumberScheduled": s.DesiredNumberScheduled, "numberReady": s.NumberReady,
				"updatedNumberScheduled": s.UpdatedNumberScheduled, "numberAvailable": s.NumberAvailable, "numberUnavailable": s.NumberUnavailable}, s.ObservedGeneration)
		}})
	register(typedRules[*appsv1.ControllerRevision]{namespaced: true, name: subdomain,
		create: func(cr *appsv1.ControllerRevision) field.ErrorList {
			return nonNegative(cr.Revision, field.NewPath("revision"))
		},
		update: func(cr, old *appsv1.ControllerRevision) field.ErrorList {
			return immutable(cr.Data, old.Data, field.NewPath("data"))
		}})
}

// validateSelectorAndTemplate holds the rules every workload shares: a
// required, non-empty selector that selects the template's labels, and a
// valid template whose pods restart Always. kind words the messages as
// upstream does for each workload; claimVolumes are passed to
// validatePodTemplateSpec.
func validateSelectorAndTemplate(kind string, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, claimVolumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	sp := p.Child("selector")
	switch {
	case sel == nil:
		errs = append(errs, field.Required(sp, ""))
	default:
		errs = append(errs, labelSelector(sel, sp)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(sp, sel, "empty selector is invalid for "+emptySelectorKind(kind)))
		}
	}
	tp := p.Child("template")
	if sel != nil {
		errs = append(errs, selectorMatchesLabels(sel, t.Labels, tp.Child("metadata", "labels"))...)
	}
	errs = append(errs, validatePodTemplateSpec(t, claimVolumes, tp)...)
	errs = append(errs, restartAlways(t.Spec.RestartPolicy, tp)...)
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+deadlineKind(kind)+" is not Supported"))
	}
	return errs
}

// emptySelectorKind and deadlineKind name the workload in two messages as
// upstream does: a ReplicaSet's empty selector is worded as a Deployment's,
// and a Deployment's template is checked as a ReplicaSet's.
func emptySelectorKind(kind string) string {
	if kind == "ReplicaSet" {
		return "deployment"
	}
	return strings.ToLower(kind)
}

func deadlineKind(kind string) string {
	if kind == "Deployment" {
		return "ReplicaSet"
	}
	return kind
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	p := field.NewPath("spec")
	errs := nonNegative32(d.Spec.Replicas, p.Child("replicas"))
	errs = append(errs, validateSelectorAndTemplate("Deployment", d.Spec.Selector, &d.Spec.Template, nil, p)...)
	errs = append(errs, nonNegative(int64(d.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(d.Spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)

	sp := p.Child("strategy")
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if d.Spec.Strategy.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(sp.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		rp := sp.Child("rollingUpdate")
		ru := d.Spec.Strategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(rp, "this should be defaulted and never be nil"))
			break
		}
		errs = append(errs, validateSurgeUnavailable(ru.MaxSurge, ru.MaxUnavailable, rp)...)
	default:
		errs = append(errs, enum(d.Spec.Strategy.Type, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType}, sp.Child("type"))...)
	}
	if d.Spec.ProgressDeadlineSeconds != nil {
		pd := *d.Spec.ProgressDeadlineSeconds
		errs = append(errs, nonNegative(int64(pd), p.Child("progressDeadlineSeconds"))...)
		if pd <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), pd, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// validateSurgeUnavailable checks a rolling update's budget: counts or
// percentages, unavailable at most 100%, and not both zero.
func validateSurgeUnavailable(surge, unavailable *intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if unavailable != nil {
		errs = append(errs, intOrPercent(*unavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, percentOver100(*unavailable, p.Child("maxUnavailable"))...)
	}
	if surge != nil {
		errs = append(errs, intOrPercent(*surge, p.Child("maxSurge"))...)
	}
	if surge != nil && unavailable != nil && isZeroIntOrPercent(*surge) && isZeroIntOrPercent(*unavailable) {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), *unavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := nonNegative32(rs.Spec.Replicas, p.Child("replicas"))
	errs = append(errs, nonNegative(int64(rs.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateSelectorAndTemplate("ReplicaSet", rs.Spec.Selector, &rs.Spec.Template, nil, p)...)
	return errs
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := nonNegative32(ss.Spec.Replicas, p.Child("replicas"))
	errs = append(errs, nonNegative(int64(ss.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(ss.Spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	errs = append(errs, validateSelectorAndTemplate("StatefulSet", ss.Spec.Selector, &ss.Spec.Template, claimTemplateNames(ss.Spec.VolumeClaimTemplates), p)...)
	errs = append(errs, enum(ss.Spec.PodManagementPolicy, []appsv1.PodManagementPolicyType{appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement}, p.Child("podManagementPolicy"))...)
	up := p.Child("updateStrategy")
	switch ss.Spec.UpdateStrategy.Type {
	case appsv1.OnDeleteStatefulSetStrategyType:
		if ss.Spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(up.Child("rollingUpdate"), ss.Spec.UpdateStrategy.RollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := ss.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			errs = append(errs, nonNegative32(ru.Partition, up.Child("rollingUpdate", "partition"))...)
		}
	default:
		errs = append(errs, enum(ss.Spec.UpdateStrategy.Type, []appsv1.StatefulSetUpdateStrategyType{appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType}, up.Child("type"))...)
	}
	if rp := ss.Spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		valid := []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, enum(rp.WhenDeleted, valid, pp.Child("whenDeleted"))...)
		errs = append(errs, enum(rp.WhenScaled, valid, pp.Child("whenScaled"))...)
	}
	for i := range ss.Spec.VolumeClaimTemplates {
		vp := p.Child("volumeClaimTemplates").Index(i)
		pvc := &ss.Spec.VolumeClaimTemplates[i]
		errs = append(errs, validatePVCSpec(&pvc.Spec, vp.Child("spec"))...)
		if pvc.Name == "" {
			errs = append(errs, field.Required(vp.Child("metadata", "name"), ""))
		}
	}
	return errs
}

// claimTemplateNames names the volumes a StatefulSet adds to each pod, one
// per volumeClaimTemplate: upstream lets the containers mount them.
func claimTemplateNames(claims []corev1.PersistentVolumeClaim) sets.Set[string] {
	names := sets.New[string]()
	for i := range claims {
		if claims[i].Name != "" {
			names.Insert(claims[i].Name)
		}
	}
	return names
}

// statefulSetMutable lists what a StatefulSet update may change.
const statefulSetForbiddenMsg = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	mutable := old.Spec.DeepCopy()
	mutable.Replicas = ss.Spec.Replicas
	mutable.Ordinals = ss.Spec.Ordinals
	mutable.Template = ss.Spec.Template
	mutable.UpdateStrategy = ss.Spec.UpdateStrategy
	mutable.RevisionHistoryLimit = ss.Spec.RevisionHistoryLimit
	mutable.PersistentVolumeClaimRetentionPolicy = ss.Spec.PersistentVolumeClaimRetentionPolicy
	mutable.MinReadySeconds = ss.Spec.MinReadySeconds
	if len(immutable(mutable, &ss.Spec, nil)) != 0 {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), statefulSetForbiddenMsg)}
	}
	return nil
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateSelectorAndTemplate("DaemonSet", ds.Spec.Selector, &ds.Spec.Template, nil, p)
	errs = append(errs, nonNegative(int64(ds.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(ds.Spec.RevisionHistoryLimit, p.Child("revisionHistoryLimit"))...)
	up := p.Child("updateStrategy")
	switch ds.Spec.UpdateStrategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := ds.Spec.UpdateStrategy.RollingUpdate
		if ru == nil {
			errs = append(errs, field.Required(up.Child("rollingUpdate"), ""))
			break
		}
		errs = append(errs, validateSurgeUnavailable(ru.MaxSurge, ru.MaxUnavailable, up.Child("rollingUpdate"))...)
	default:
		errs = append(errs, enum(ds.Spec.UpdateStrategy.Type, []appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType}, up.Child("type"))...)
	}
	return errs
}
