package admission

import (
	corev1 "k8s.io/api/core/v1"
)

// QuotaEvaluator measures the objects of one resource the way the
// ResourceQuota plugin charges them. The quota controller uses it to
// recompute status.used from the objects that exist, so that admission
// and recalculation always agree on what an object costs.
//
// The zero value is not usable; get one from QuotaEvaluatorFor. It holds no
// state and is safe for concurrent use.
type QuotaEvaluator struct{ ev quotaEvaluator }

// QuotaEvaluatorFor returns the evaluator for objects of group/resource
// (core group ""): pods, services and persistentvolumeclaims are measured
// in full; every other resource is counted as count/<resource>[.<group>]
// (plus the legacy core names such as "configmaps").
func QuotaEvaluatorFor(group, resource string) QuotaEvaluator {
	if group == "" {
		switch resource {
		case "pods":
			return QuotaEvaluator{podEvaluator{}}
		case "services":
			return QuotaEvaluator{serviceEvaluator{}}
		case "persistentvolumeclaims":
			return QuotaEvaluator{pvcEvaluator{}}
		}
	}
	return QuotaEvaluator{countEvaluator{names: objectCountNames(group, resource)}}
}

// Tracks reports whether the quota resource name measures this resource.
func (e QuotaEvaluator) Tracks(name corev1.ResourceName) bool { return e.ev.tracks(name) }

// Usage is what obj consumes; terminal pods (Succeeded, Failed) consume
// nothing. The returned list is the caller's.
func (e QuotaEvaluator) Usage(obj any) (corev1.ResourceList, error) { return e.ev.usage(obj) }

// MatchesScopes reports whether every scope of q (spec.scopes and
// spec.scopeSelector) selects obj. It does not look at q's limits.
func (e QuotaEvaluator) MatchesScopes(q *corev1.ResourceQuota, obj any) (bool, error) {
	for _, sel := range quotaScopes(q) {
		ok, err := e.ev.matchesScope(sel, obj)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}
