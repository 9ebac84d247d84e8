package rbac

import (
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AggregateRules returns the rules cr should hold: for a ClusterRole with
// an aggregationRule, the rules of every other ClusterRole in all whose
// labels match any of its clusterRoleSelectors, visited in name order,
// without duplicates; for any other ClusterRole, its own rules. Selectors
// that do not parse select nothing. The result is a fresh copy; cr and all
// are not modified.
//
// This is what the clusterrole-aggregation controller writes into
// cr.Rules whenever a ClusterRole changes.
func AggregateRules(cr *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) []rbacv1.PolicyRule {
	if cr.AggregationRule == nil {
		out := make([]rbacv1.PolicyRule, 0, len(cr.Rules))
		for _, r := range cr.Rules {
			out = append(out, *r.DeepCopy())
		}
		return out
	}
	var selectors []labels.Selector
	for i := range cr.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&cr.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			continue
		}
		selectors = append(selectors, s)
	}
	sorted := append([]*rbacv1.ClusterRole(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })

	out := []rbacv1.PolicyRule{}
	for _, s := range selectors {
		for _, other := range sorted {
			if other.Name == cr.Name || !s.Matches(labels.Set(other.Labels)) {
				continue
			}
			for _, r := range other.Rules {
				if !containsRule(out, r) {
					out = append(out, *r.DeepCopy())
				}
			}
		}
	}
	return out
}

func containsRule(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, x := range rules {
		if equality.Semantic.DeepEqual(x, r) {
			return true
		}
	}
	return false
}
