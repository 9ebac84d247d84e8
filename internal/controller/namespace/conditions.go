package namespace

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// report is what one pass over a namespace's content found. Its
// conditions use Kubernetes' types, reasons and messages, which clients
// (kubectl describe, tests, operators) match on.
type report struct {
	discoveryErr         error
	gvErrs               []error
	contentErrs          []error
	remainingByResource  map[schema.GroupVersionResource]int
	remainingByFinalizer map[string]int
}

// remaining reports whether any object is left in the namespace.
func (r *report) remaining() bool { return len(r.remainingByResource) > 0 }

// err is non-nil when the pass could not see or delete everything; the
// namespace must then not be finalized.
func (r *report) err() error {
	errs := append([]error{r.discoveryErr}, r.gvErrs...)
	return errors.Join(append(errs, r.contentErrs...)...)
}

// conditionOrder lists the condition types the controller owns, in the
// order they appear in the status.
var conditionOrder = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okConditions are the reason and message of each type when all is well.
var okConditions = map[corev1.NamespaceConditionType][2]string{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// conditions returns one condition per owned type (without transition
// times), true where the pass found a problem.
func (r *report) conditions() []corev1.NamespaceCondition {
	bad := map[corev1.NamespaceConditionType][2]string{}
	if err := r.discoveryErr; err != nil {
		msg := err.Error()
		var derr *discovery.ErrGroupDiscoveryFailed
		if errors.As(err, &derr) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(derr.Groups), err)
		}
		bad[corev1.NamespaceDeletionDiscoveryFailure] = [2]string{"DiscoveryFailed", msg}
	}
	if len(r.gvErrs) > 0 {
		bad[corev1.NamespaceDeletionGVParsingFailure] = [2]string{"GroupVersionParsingFailed", joinSorted(r.gvErrs)}
	}
	if len(r.contentErrs) > 0 {
		bad[corev1.NamespaceDeletionContentFailure] = [2]string{"ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(r.contentErrs), joinSorted(r.contentErrs))}
	}
	if len(r.remainingByResource) > 0 {
		var parts []string
		for gvr, n := range r.remainingByResource {
			parts = append(parts, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
		sort.Strings(parts)
		bad[corev1.NamespaceContentRemaining] = [2]string{"SomeResourcesRemain",
			"Some resources are remaining: " + strings.Join(parts, ", ")}
	}
	if len(r.remainingByFinalizer) > 0 {
		var parts []string
		for f, n := range r.remainingByFinalizer {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(parts)
		bad[corev1.NamespaceFinalizersRemaining] = [2]string{"SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: " + strings.Join(parts, ", ")}
	}
	out := make([]corev1.NamespaceCondition, 0, len(conditionOrder))
	for _, t := range conditionOrder {
		c := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okConditions[t][0], Message: okConditions[t][1]}
		if b, ok := bad[t]; ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, b[0], b[1]
		}
		out = append(out, c)
	}
	return out
}

func joinSorted(errs []error) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	sort.Strings(msgs)
	return strings.Join(msgs, ", ")
}

// setConditions merges want into status: a condition whose status, reason
// or message differs is replaced and stamped with now. It reports whether
// anything changed.
func setConditions(status *corev1.NamespaceStatus, want []corev1.NamespaceCondition, now time.Time) bool {
	changed := false
	for _, w := range want {
		w.LastTransitionTime = metav1.NewTime(now)
		i := indexOf(status.Conditions, w.Type)
		switch {
		case i < 0:
			status.Conditions = append(status.Conditions, w)
			changed = true
		case status.Conditions[i].Status != w.Status || status.Conditions[i].Reason != w.Reason || status.Conditions[i].Message != w.Message:
			status.Conditions[i] = w
			changed = true
		}
	}
	return changed
}

func indexOf(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}
