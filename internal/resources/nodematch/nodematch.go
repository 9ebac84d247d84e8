// Package nodematch answers the questions every component that places pods
// asks of a Node, with upstream's semantics: does it satisfy a
// NodeSelector (required node affinity), a pod's nodeSelector, and does a
// toleration tolerate its taint. The scheduler, the DaemonSet controller
// and the node lifecycle controller share it.
package nodematch

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Selector reports whether node satisfies sel: any one term matching is
// enough.
func Selector(sel *corev1.NodeSelector, node *corev1.Node) bool {
	for i := range sel.NodeSelectorTerms {
		if Term(&sel.NodeSelectorTerms[i], node) {
			return true
		}
	}
	return false
}

// Term reports whether node satisfies all of a term's expressions and
// fields; a term with neither matches nothing.
func Term(t *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for i := range t.MatchExpressions {
		r := &t.MatchExpressions[i]
		v, has := node.Labels[r.Key]
		if !requirement(r, v, has) {
			return false
		}
	}
	for i := range t.MatchFields {
		r := &t.MatchFields[i]
		if r.Key != "metadata.name" || !requirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

func requirement(r *corev1.NodeSelectorRequirement, v string, has bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !has || !slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		nv, err1 := strconv.ParseInt(v, 10, 64)
		rv, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return nv > rv
		}
		return nv < rv
	}
	return false
}

// PodSpec reports whether node satisfies a pod's spec.nodeSelector and its
// required node affinity.
func PodSpec(spec *corev1.PodSpec, node *corev1.Node) bool {
	for k, v := range spec.NodeSelector {
		if nv, ok := node.Labels[k]; !ok || nv != v {
			return false
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		if req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			return Selector(req, node)
		}
	}
	return true
}

// Toleration reports whether tol tolerates taint: same effect (or any),
// same key (or any, with Exists), and for Equal the same value.
func Toleration(tol *corev1.Toleration, taint *corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return tol.Key != "" && tol.Value == taint.Value
	}
	return false
}

// Tolerated reports whether any of tols tolerates taint.
func Tolerated(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if Toleration(&tols[i], taint) {
			return true
		}
	}
	return false
}
