package validation

import (
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pathSegment is the name rule of RBAC kinds and HPAs: anything that can
// be a URL path segment.
func pathSegment(name string, prefix bool) []string {
	if prefix {
		return path.IsValidPathSegmentPrefix(name)
	}
	return path.IsValidPathSegmentName(name)
}

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*autoscalingv1.HorizontalPodAutoscaler]{namespaced: true, name: pathSegment, create: validateHPAv1})
	register(typedRules[*autoscalingv2.HorizontalPodAutoscaler]{namespaced: true, name: pathSegment, create: validateHPAv2})
	register(typedRules[*discoveryv1.EndpointSlice]{namespaced: true, name: subdomain, create: validateEndpointSlice,
		update: func(es, old *discoveryv1.EndpointSlice) field.ErrorList {
			return immutable(es.AddressType, old.AddressType, field.NewPath("addressType"))
		}})
	register(typedRules[*coordinationv1.Lease]{namespaced: true, name: subdomain, create: validateLease})
	register(typedRules[*policyv1.PodDisruptionBudget]{namespaced: true, name: subdomain, create: validatePDB,
		status: func(pdb, _ *policyv1.PodDisruptionBudget) field.ErrorList {
			s := pdb.Status
			return replicaCounts(field.NewPath("status"), map[string]int32{"disruptionsAllowed": s.DisruptionsAllowed,
				"currentHealthy": s.CurrentHealthy, "desiredHealthy": s.DesiredHealthy, "expectedPods": s.ExpectedPods}, s.ObservedGeneration)
		}})
	register(typedRules[*rbacv1.Role]{namespaced: true, name: pathSegment, create: func(r *rbacv1.Role) field.ErrorList {
		return validatePolicyRules(r.Rules, true)
	}})
	register(typedRules[*rbacv1.ClusterRole]{name: pathSegment, create: func(r *rbacv1.ClusterRole) field.ErrorList {
		errs := validatePolicyRules(r.Rules, false)
		if r.AggregationRule != nil {
			ap := field.NewPath("aggregationRule", "clusterRoleSelectors")
			if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
				errs = append(errs, field.Required(ap, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
			}
			for i := range r.AggregationRule.ClusterRoleSelectors {
				errs = append(errs, labelSelector(&r.AggregationRule.ClusterRoleSelectors[i], ap.Index(i))...)
			}
		}
		return errs
	}})
	register(typedRules[*rbacv1.RoleBinding]{namespaced: true, name: pathSegment,
		create: func(b *rbacv1.RoleBinding) field.ErrorList {
			return validateBinding(b.RoleRef, b.Subjects, []string{"Role", "ClusterRole"}, true)
		},
		update: func(b, old *rbacv1.RoleBinding) field.ErrorList {
			return roleRefImmutable(b.RoleRef, old.RoleRef)
		}})
	register(typedRules[*rbacv1.ClusterRoleBinding]{name: pathSegment,
		create: func(b *rbacv1.ClusterRoleBinding) field.ErrorList {
			return validateBinding(b.RoleRef, b.Subjects, []string{"ClusterRole"}, false)
		},
		update: func(b, old *rbacv1.ClusterRoleBinding) field.ErrorList {
			return roleRefImmutable(b.RoleRef, old.RoleRef)
		}})
	register(typedRules[*schedulingv1.PriorityClass]{name: subdomain, create: validatePriorityClass,
		update: func(pc, old *schedulingv1.PriorityClass) field.ErrorList {
			errs := immutable(pc.Value, old.Value, field.NewPath("value"))
			return append(errs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
		}})
	register(typedRules[*storagev1.StorageClass]{name: subdomain, create: validateStorageClass, update: validateStorageClassUpdate})
	register(typedRules[*eventsv1.Event]{namespaced: true, name: subdomain, create: validateEventsV1})
}

func validateScaleTarget(kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else {
		errs = append(errs, messages(p.Child("kind"), kind, path.IsValidPathSegmentName(kind))...)
	}
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, messages(p.Child("name"), name, path.IsValidPathSegmentName(name))...)
	}
	return errs
}

func validateReplicaBounds(min *int32, max int32, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	// Zero minReplicas needs the HPAScaleToZero feature gate, which Skiff
	// leaves off as upstream does by default.
	if min != nil && *min < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *min, "must be greater than or equal to 1"))
	}
	if max < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), max, "must be greater than 0"))
	}
	if min != nil && max < *min {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), max, "must be greater than or equal to `minReplicas`"))
	}
	return errs
}

func validateHPAv1(h *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateScaleTarget(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, p.Child("scaleTargetRef"))
	errs = append(errs, validateReplicaBounds(h.Spec.MinReplicas, h.Spec.MaxReplicas, p)...)
	if c := h.Spec.TargetCPUUtilizationPercentage; c != nil && *c < 1 {
		errs = append(errs, field.Invalid(p.Child("targetCPUUtilizationPercentage"), *c, "must be greater than 0"))
	}
	return errs
}

var supportedMetricSources = []autoscalingv2.MetricSourceType{
	autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType,
	autoscalingv2.ExternalMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType,
}

func validateHPAv2(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateScaleTarget(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, p.Child("scaleTargetRef"))
	errs = append(errs, validateReplicaBounds(h.Spec.MinReplicas, h.Spec.MaxReplicas, p)...)
	for i, m := range h.Spec.Metrics {
		mp := p.Child("metrics").Index(i)
		errs = append(errs, enum(m.Type, supportedMetricSources, mp.Child("type"))...)
		set := 0
		for _, present := range []bool{m.Object != nil, m.Pods != nil, m.Resource != nil, m.External != nil, m.ContainerResource != nil} {
			if present {
				set++
			}
		}
		if set != 1 {
			errs = append(errs, field.Forbidden(mp, "must populate information for the given metric source (only one of object, pods, resource, external, containerResource)"))
		}
		if m.Resource != nil {
			errs = append(errs, validateMetricTarget(m.Resource.Target, mp.Child("resource", "target"))...)
		}
		if m.ContainerResource != nil {
			if m.ContainerResource.Container == "" {
				errs = append(errs, field.Required(mp.Child("containerResource", "container"), ""))
			}
			errs = append(errs, validateMetricTarget(m.ContainerResource.Target, mp.Child("containerResource", "target"))...)
		}
	}
	if b := h.Spec.Behavior; b != nil {
		bp := p.Child("behavior")
		errs = append(errs, validateScalingRules(b.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	errs := enum(t.Type, []autoscalingv2.MetricTargetType{autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType}, p.Child("type"))
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	if t.Value == nil && t.AverageValue == nil && t.AverageUtilization == nil {
		errs = append(errs, field.Required(p, "must set either a target raw value, a target average value, or a target percentage"))
	}
	return errs
}

const maxStabilizationWindowSeconds = 3600

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > maxStabilizationWindowSeconds) {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, validation.InclusiveRangeError(0, maxStabilizationWindowSeconds)))
	}
	if s := r.SelectPolicy; s != nil {
		errs = append(errs, enum(*s, []autoscalingv2.ScalingPolicySelect{autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect}, p.Child("selectPolicy"))...)
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		errs = append(errs, enum(pol.Type, []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PodsScalingPolicy, autoscalingv2.PercentScalingPolicy}, pp.Child("type"))...)
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 || pol.PeriodSeconds > 1800 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, validation.InclusiveRangeError(1, 1800)))
		}
	}
	return errs
}

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}

const (
	maxEndpointsPerSlice = 1000
	maxPortsPerSlice     = 100
	maxAddressesPerEP    = 100
)

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := enum(es.AddressType, supportedAddressTypes, field.NewPath("addressType"))
	ep := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointsPerSlice {
		errs = append(errs, field.TooMany(ep, len(es.Endpoints), maxEndpointsPerSlice))
	}
	for i, e := range es.Endpoints {
		ip := ep.Index(i)
		ap := ip.Child("addresses")
		switch {
		case len(e.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(e.Addresses) > maxAddressesPerEP:
			errs = append(errs, field.TooMany(ap, len(e.Addresses), maxAddressesPerEP))
		}
		for j, a := range e.Addresses {
			errs = append(errs, validateSliceAddress(es.AddressType, a, ap.Index(j))...)
		}
		if e.Hostname != nil {
			errs = append(errs, dnsLabel(*e.Hostname, ip.Child("hostname"))...)
		}
		if e.NodeName != nil {
			errs = append(errs, dnsSubdomain(*e.NodeName, ip.Child("nodeName"))...)
		}
	}
	pp := field.NewPath("ports")
	if len(es.Ports) > maxPortsPerSlice {
		errs = append(errs, field.TooMany(pp, len(es.Ports), maxPortsPerSlice))
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		ip := pp.Index(i)
		if port.Name != nil {
			if *port.Name != "" {
				errs = append(errs, dnsLabel(*port.Name, ip.Child("name"))...)
			}
			if names.Has(*port.Name) {
				errs = append(errs, field.Duplicate(ip.Child("name"), *port.Name))
			}
			names.Insert(*port.Name)
		}
		if port.Protocol == nil {
			errs = append(errs, field.Required(ip.Child("protocol"), ""))
		} else {
			errs = append(errs, enum(*port.Protocol, supportedProtocols, ip.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, portNum(*port.Port, ip.Child("port"))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, ip.Child("appProtocol"))...)
		}
	}
	return errs
}

func validateSliceAddress(t discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		errs := validation.IsValidIP(p, a)
		if len(errs) == 0 && (strings.Contains(a, ":") != (t == discoveryv1.AddressTypeIPv6)) {
			errs = append(errs, field.Invalid(p, a, fmt.Sprintf("must be an %s address", t)))
		}
		return errs
	case discoveryv1.AddressTypeFQDN:
		return dnsSubdomain(a, p)
	}
	return nil
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(p.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	errs = append(errs, nonNegative32(l.Spec.LeaseTransitions, p.Child("leaseTransitions"))...)
	if s := l.Spec.Strategy; s != nil {
		errs = append(errs, enum(*s, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}, p.Child("strategy"))...)
	}
	return errs
}

func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(p, pdb.Spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := pdb.Spec.MinAvailable; v != nil {
		errs = append(errs, intOrPercent(*v, p.Child("minAvailable"))...)
		errs = append(errs, percentOver100(*v, p.Child("minAvailable"))...)
	}
	if v := pdb.Spec.MaxUnavailable; v != nil {
		errs = append(errs, intOrPercent(*v, p.Child("maxUnavailable"))...)
		errs = append(errs, percentOver100(*v, p.Child("maxUnavailable"))...)
	}
	if pdb.Spec.Selector != nil {
		errs = append(errs, labelSelector(pdb.Spec.Selector, p.Child("selector"))...)
	}
	if pol := pdb.Spec.UnhealthyPodEvictionPolicy; pol != nil {
		errs = append(errs, enum(*pol, []policyv1.UnhealthyPodEvictionPolicyType{policyv1.IfHealthyBudget, policyv1.AlwaysAllow}, p.Child("unhealthyPodEvictionPolicy"))...)
	}
	return errs
}

// validatePolicyRules checks RBAC rules: verbs are required, and a rule
// names either resources (with API groups) or, in cluster roles only,
// non-resource URLs.
func validatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

var supportedSubjectKinds = []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}

// validateBinding checks a (Cluster)RoleBinding; namespaced is true for a
// RoleBinding, whose ServiceAccount subjects default to its own namespace.
func validateBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, kinds []string, namespaced bool) field.ErrorList {
	rp := field.NewPath("roleRef")
	var errs field.ErrorList
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	errs = append(errs, enum(ref.Kind, kinds, rp.Child("kind"))...)
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		errs = append(errs, messages(rp.Child("name"), ref.Name, path.IsValidPathSegmentName(ref.Name))...)
	}
	for i, s := range subjects {
		sp := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				errs = append(errs, messages(sp.Child("name"), s.Name, apivalidation.ValidateServiceAccountName(s.Name, false))...)
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if s.Namespace == "" && !namespaced {
				errs = append(errs, field.Required(sp.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(sp.Child("kind"), s.Kind, supportedSubjectKinds))
		}
	}
	return errs
}

func roleRefImmutable(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// Priority bounds: user classes may not exceed HighestUserDefinablePriority;
// the system-* classes are reserved.
const (
	highestUserDefinablePriority = 1000000000
	systemPriorityClassPrefix    = "system-"
)

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		if pc.Name != "system-cluster-critical" && pc.Name != "system-node-critical" {
			errs = append(errs, field.Forbidden(metadataPath.Child("name"), "priority class names with 'system-' prefix are reserved for system use only"))
		}
	} else if pc.Value > highestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, enum(*pc.PreemptionPolicy, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

const maxProvisionerParameterLen = 512

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	pp := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pp, ""))
	} else {
		errs = append(errs, qualifiedName(strings.ToLower(sc.Provisioner), pp)...)
	}
	size := 0
	for k, v := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > maxProvisionerParameterLen {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", maxProvisionerParameterLen))
	}
	if sc.ReclaimPolicy != nil {
		errs = append(errs, enum(*sc.ReclaimPolicy, []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}, field.NewPath("reclaimPolicy"))...)
	}
	if m := sc.VolumeBindingMode; m != nil {
		errs = append(errs, enum(*m, []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}, field.NewPath("volumeBindingMode"))...)
	}
	return errs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if !equalStringMaps(sc.Parameters, old.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	errs = append(errs, immutable(sc.ReclaimPolicy, old.ReclaimPolicy, field.NewPath("reclaimPolicy"))...)
	errs = append(errs, immutable(sc.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
	return errs
}

func equalStringMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// validateEventsV1 applies the stricter rules of events.k8s.io/v1.
func validateEventsV1(ev *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	if ns := ev.Regarding.Namespace; ns != "" && ns != ev.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("regarding", "namespace"), ns, "does not match event.namespace"))
	}
	if ev.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	errs = append(errs, enum(ev.Type, supportedEventTypes, field.NewPath("type"))...)
	if ev.ReportingController == "" {
		errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
	} else {
		errs = append(errs, qualifiedName(ev.ReportingController, field.NewPath("reportingController"))...)
	}
	for _, f := range []struct {
		name, value string
	}{{"reportingInstance", ev.ReportingInstance}, {"action", ev.Action}, {"reason", ev.Reason}} {
		fp := field.NewPath(f.name)
		if f.value == "" {
			errs = append(errs, field.Required(fp, ""))
		} else if len(f.value) > 128 {
			errs = append(errs, field.TooLong(fp, "", 128))
		}
	}
	if len(ev.Note) > 1024 {
		errs = append(errs, field.TooLong(field.NewPath("note"), "", 1024))
	}
	return errs
}
