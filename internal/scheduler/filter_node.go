package scheduler

import (
	"context"
	"fmt"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
	corev1 "k8s.io/api/core/v1"
)

// Upstream's reasons, word for word: they appear in events and conditions.
const (
	reasonUnschedulable  = "node(s) were unschedulable"
	reasonNodeName       = "node(s) didn't match the requested node name"
	reasonNodeAffinity   = "node(s) didn't match Pod's node affinity/selector"
	reasonNodePorts      = "node(s) didn't have free ports for the requested pod ports"
	reasonTaintFormat    = "node(s) had untolerated taint {%s: %s}"
	reasonTooManyPods    = "Too many pods"
	reasonInsufficientFm = "Insufficient %s"
)

// nodeUnschedulable rejects nodes marked spec.unschedulable (cordoned),
// unless the pod tolerates the unschedulable taint.
type nodeUnschedulable struct{}

var _ Filter = nodeUnschedulable{}

func (nodeUnschedulable) Name() string { return "NodeUnschedulable" }

func (nodeUnschedulable) Filter(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	if !n.Node.Spec.Unschedulable {
		return nil
	}
	taint := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if nodematch.Tolerated(pod.Spec.Tolerations, &taint) {
		return nil
	}
	return newStatus(UnschedulableAndUnresolvable, reasonUnschedulable)
}

// nodeName rejects every node but the one a pod names in spec.nodeName
// (only reachable through explanations: the queue skips assigned pods).
type nodeName struct{}

var _ Filter = nodeName{}

func (nodeName) Name() string { return "NodeName" }

func (nodeName) Filter(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	if pod.Spec.NodeName == "" || pod.Spec.NodeName == n.Node.Name {
		return nil
	}
	return newStatus(UnschedulableAndUnresolvable, reasonNodeName)
}

// taintToleration rejects nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate (not-ready and unreachable nodes carry such taints), and
// scores nodes by how few PreferNoSchedule taints the pod does not tolerate.
type taintToleration struct{}

var (
	_ Filter     = taintToleration{}
	_ Scorer     = taintToleration{}
	_ Normalizer = taintToleration{}
)

func (taintToleration) Name() string { return "TaintToleration" }

func (taintToleration) Filter(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !nodematch.Tolerated(pod.Spec.Tolerations, t) {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf(reasonTaintFormat, t.Key, t.Value))
		}
	}
	return nil
}

func (taintToleration) Score(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) int64 {
	var prefer []corev1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			prefer = append(prefer, t)
		}
	}
	var count int64
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !nodematch.Tolerated(prefer, t) {
			count++
		}
	}
	return count
}

// Normalize: fewer untolerated taints is better.
func (taintToleration) Normalize(scores []int64) { normalize(scores, true) }

// nodeAffinity rejects nodes that do not satisfy the pod's nodeSelector and
// required node affinity, and scores the sum of the weights of the preferred
// terms a node matches.
type nodeAffinity struct{}

var (
	_ Filter     = nodeAffinity{}
	_ Scorer     = nodeAffinity{}
	_ Normalizer = nodeAffinity{}
)

func (nodeAffinity) Name() string { return "NodeAffinity" }

func (nodeAffinity) Filter(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) *Status {
	if nodematch.PodSpec(&pod.Spec, n.Node) {
		return nil
	}
	return newStatus(UnschedulableAndUnresolvable, reasonNodeAffinity)
}

func (nodeAffinity) Score(_ context.Context, _ *CycleState, pod *corev1.Pod, n *NodeInfo) int64 {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil {
		return 0
	}
	var sum int64
	for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		p := &a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
		if p.Weight != 0 && nodematch.Term(&p.Preference, n.Node) {
			sum += int64(p.Weight)
		}
	}
	return sum
}

func (nodeAffinity) Normalize(scores []int64) { normalize(scores, false) }

// nodePorts rejects nodes where a host port the pod wants is taken. Two
// claims conflict on the same protocol and port when either host IP is the
// wildcard or both are equal.
type nodePorts struct{}

var _ Filter = nodePorts{}

func (nodePorts) Name() string { return "NodePorts" }

func (nodePorts) Filter(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	want := state.podInfo.Ports
	for _, w := range want {
		for _, u := range n.UsedPorts {
			if w.Port == u.Port && w.Protocol == u.Protocol && (w.IP == u.IP || w.IP == "0.0.0.0" || u.IP == "0.0.0.0") {
				return newStatus(Unschedulable, reasonNodePorts)
			}
		}
	}
	return nil
}
