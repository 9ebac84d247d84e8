package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// maxQuotaConflicts bounds the optimistic-concurrency retries of one
// request. Every conflict means another request charged the quota, so
// reaching it takes that many concurrent writers in one namespace.
const maxQuotaConflicts = 64

// ResourceQuota enforces the namespace's ResourceQuotas: it measures what
// the request adds (a new object's usage, or the growth of an updated one),
// refuses it if any matching quota's status.hard would be exceeded, and
// otherwise charges status.used of every matching quota before the object
// is written.
//
// Charging is compare-and-swap on the quota's resourceVersion: on a
// Conflict the quotas are read again and the request re-checked, so
// concurrent creates can never push used past hard. As upstream, a charge
// is not given back if the write of the object later fails (or if a later
// quota of the same request refuses it): the quota controller's periodic
// recalculation of status.used from the real objects releases it. Dry-run
// requests are checked but charge nothing.
//
// Like upstream, hard limits are read from status.hard, which the quota
// controller copies from spec.hard; a quota whose status.used lacks a
// requested resource refuses the request ("status unknown for quota")
// until the controller has computed it.
//
// Scopes Terminating, NotTerminating, BestEffort, NotBestEffort,
// PriorityClass and CrossNamespacePodAffinity (spec.scopes and
// spec.scopeSelector) select which pods a quota counts.
type ResourceQuota struct {
	Quotas QuotaStore
}

var _ Validator = (*ResourceQuota)(nil)

func (*ResourceQuota) Name() string { return "ResourceQuota" }

func (p *ResourceQuota) Validate(ctx context.Context, req *Request) error {
	if p.Quotas == nil || req.Attributes.Namespace == "" || req.Object == nil {
		return nil
	}
	ev := evaluatorFor(req)
	if ev == nil {
		return nil
	}
	quotas, err := p.Quotas.ListResourceQuotas(ctx, req.Attributes.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	matched, err := matchingQuotas(ev, quotas, req)
	if err != nil || len(matched) == 0 {
		return err
	}
	delta, err := usageDelta(ev, req)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if len(delta) == 0 {
		return nil
	}
	// Check every quota before charging any.
	pending := map[string]bool{}
	for i := range matched {
		changed, _, err := charge(req, &matched[i], delta)
		if err != nil {
			return err
		}
		if changed {
			pending[matched[i].Name] = true
		}
	}
	if req.DryRun {
		return nil
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > maxQuotaConflicts {
			return apierrors.NewTooManyRequests("too many concurrent updates to resource quotas, please retry", 1)
		}
		if attempt > 0 {
			if quotas, err = p.Quotas.ListResourceQuotas(ctx, req.Attributes.Namespace); err != nil {
				return apierrors.NewInternalError(err)
			}
		}
		if err := p.chargeAll(ctx, req, ev, quotas, delta, pending); err != nil {
			return err
		}
	}
	return nil
}

// chargeAll tries to charge each pending quota once, removing it from
// pending when charged (or when it no longer applies). Conflicted quotas
// stay pending.
func (p *ResourceQuota) chargeAll(ctx context.Context, req *Request, ev quotaEvaluator, quotas []corev1.ResourceQuota, delta corev1.ResourceList, pending map[string]bool) error {
	seen := map[string]bool{}
	for i := range quotas {
		q := &quotas[i]
		if !pending[q.Name] {
			continue
		}
		seen[q.Name] = true
		ok, err := quotaMatches(ev, q, req.Object)
		if err != nil {
			return err
		}
		if !ok {
			delete(pending, q.Name)
			continue
		}
		changed, updated, err := charge(req, q, delta)
		if err != nil {
			return err
		}
		if !changed {
			delete(pending, q.Name)
			continue
		}
		err = p.Quotas.UpdateQuotaStatus(ctx, updated)
		switch {
		case err == nil:
			delete(pending, q.Name)
		case apierrors.IsConflict(err):
			// Re-read and re-check on the next round.
		case apierrors.IsNotFound(err):
			delete(pending, q.Name)
		default:
			return apierrors.NewInternalError(err)
		}
	}
	for name := range pending {
		if !seen[name] { // deleted meanwhile
			delete(pending, name)
		}
	}
	return nil
}

// charge computes q with delta added to status.used. changed is false when
// q tracks none of delta's resources. The error is upstream's Forbidden
// when the status is not computed yet or a hard limit would be exceeded.
func charge(req *Request, q *corev1.ResourceQuota, delta corev1.ResourceList) (changed bool, updated *corev1.ResourceQuota, err error) {
	requested := mask(delta, q.Status.Hard)
	if len(requested) == 0 {
		return false, nil, nil
	}
	var unknown []string
	for k := range requested {
		if _, ok := q.Status.Used[k]; !ok {
			unknown = append(unknown, string(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return false, nil, forbidden(req, fmt.Errorf("status unknown for quota: %s, resource: %s", q.Name, strings.Join(unknown, ",")))
	}
	used := addLists(q.Status.Used, requested)
	var exceeded corev1.ResourceList
	for k := range requested {
		if u := used[k]; u.Cmp(q.Status.Hard[k]) > 0 {
			if exceeded == nil {
				exceeded = corev1.ResourceList{}
			}
			exceeded[k] = q.Status.Hard[k]
		}
	}
	if exceeded != nil {
		return false, nil, forbidden(req, fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
			q.Name, prettyList(mask(requested, exceeded)), prettyList(mask(q.Status.Used, exceeded)), prettyList(exceeded)))
	}
	updated = q.DeepCopy()
	updated.Status.Used = used
	return true, updated, nil
}

// matchingQuotas returns the quotas that track something the evaluator
// measures and whose scopes select the object, after checking the
// evaluator's constraints against each.
func matchingQuotas(ev quotaEvaluator, quotas []corev1.ResourceQuota, req *Request) ([]corev1.ResourceQuota, error) {
	var matched []corev1.ResourceQuota
	for i := range quotas {
		q := &quotas[i]
		ok, err := quotaMatches(ev, q, req.Object)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := ev.constraints(trackedNames(ev, q), req.Object); err != nil {
			return nil, forbidden(req, fmt.Errorf("failed quota: %s: %v", q.Name, err))
		}
		matched = append(matched, *q)
	}
	return matched, nil
}

func quotaMatches(ev quotaEvaluator, q *corev1.ResourceQuota, obj interface{}) (bool, error) {
	if len(trackedNames(ev, q)) == 0 {
		return false, nil
	}
	for _, sel := range quotaScopes(q) {
		ok, err := ev.matchesScope(sel, obj)
		if err != nil {
			return false, apierrors.NewInternalError(err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func trackedNames(ev quotaEvaluator, q *corev1.ResourceQuota) []corev1.ResourceName {
	var names []corev1.ResourceName
	for k := range q.Status.Hard {
		if ev.tracks(k) {
			names = append(names, k)
		}
	}
	return names
}

// quotaScopes merges spec.scopes and spec.scopeSelector.
func quotaScopes(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var sel []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		sel = append(sel, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		sel = append(sel, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return sel
}

// usageDelta is what the request adds: the object's usage on create; on
// update the growth over the stored object (never negative, zeros
// dropped). An update without a stored version (create-on-update) is
// charged in full.
func usageDelta(ev quotaEvaluator, req *Request) (corev1.ResourceList, error) {
	usage, err := ev.usage(req.Object)
	if err != nil {
		return nil, err
	}
	if req.Operation == Update && req.OldObject != nil {
		if m, err := meta.Accessor(req.OldObject); err == nil && m.GetResourceVersion() != "" {
			old, err := ev.usage(req.OldObject)
			if err != nil {
				return nil, err
			}
			usage = subtractNonNegative(usage, old)
		}
	}
	for k, v := range usage {
		if v.IsZero() {
			delete(usage, k)
		}
	}
	return usage, nil
}

// mask returns the entries of l whose names are in keys.
func mask(l, keys corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range l {
		if _, ok := keys[k]; ok {
			out[k] = v.DeepCopy()
		}
	}
	return out
}

func addLists(a, b corev1.ResourceList) corev1.ResourceList {
	out := a.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	for k, v := range b {
		q := out[k]
		q.Add(v)
		out[k] = q
	}
	return out
}

func subtractNonNegative(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range a {
		q := v.DeepCopy()
		if bv, ok := b[k]; ok {
			q.Sub(bv)
		}
		if q.Sign() > 0 {
			out[k] = q
		}
	}
	return out
}

// prettyList formats a list as upstream: sorted name=value pairs.
func prettyList(l corev1.ResourceList) string {
	parts := make([]string, 0, len(l))
	for _, k := range sortedNames(l) {
		v := l[k]
		parts = append(parts, fmt.Sprintf("%s=%s", k, v.String()))
	}
	return strings.Join(parts, ",")
}
