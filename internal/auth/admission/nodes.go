package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// TaintNodesByCondition taints every new Node not-ready:NoSchedule; the node
// lifecycle controller removes the taint once the node reports Ready.
type TaintNodesByCondition struct{}

var _ Mutator = (*TaintNodesByCondition)(nil)

func (*TaintNodesByCondition) Name() string { return "TaintNodesByCondition" }

func (*TaintNodesByCondition) Admit(_ context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "nodes", "") {
		return nil
	}
	node, ok := req.Object.(*corev1.Node)
	if !ok {
		return unexpectedType(req.Object)
	}
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady && t.Effect == corev1.TaintEffectNoSchedule {
			return nil
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	return nil
}

// DefaultTolerationSeconds lets new pods tolerate not-ready and unreachable
// nodes for Seconds before eviction, unless they already tolerate them.
type DefaultTolerationSeconds struct {
	Seconds int64
}

var _ Mutator = (*DefaultTolerationSeconds)(nil)

func (*DefaultTolerationSeconds) Name() string { return "DefaultTolerationSeconds" }

func (p *DefaultTolerationSeconds) Admit(_ context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "pods", "") {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if tolerates(pod.Spec.Tolerations, key) {
			continue
		}
		secs := p.Seconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: &secs,
		})
	}
	return nil
}

// tolerates reports whether some toleration covers key:NoExecute (an empty
// key or effect matches everything).
func tolerates(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}
