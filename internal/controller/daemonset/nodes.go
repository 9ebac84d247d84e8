package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
)

// daemonTolerations are added to every daemon pod (unless it already
// tolerates the same key and effect): daemons keep running on nodes
// that are unhealthy, under pressure or cordoned.
func daemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	tols := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if spec.HostNetwork {
		tols = append(tols, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return tols
}

// withDaemonTolerations returns spec's tolerations plus the daemon ones
// it lacks (same key and effect).
func withDaemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	out := append([]corev1.Toleration(nil), spec.Tolerations...)
	for _, d := range daemonTolerations(spec) {
		have := false
		for _, t := range spec.Tolerations {
			if t.Key == d.Key && t.Effect == d.Effect {
				have = true
				break
			}
		}
		if !have {
			out = append(out, d)
		}
	}
	return out
}

// placement says whether ds's pod should be started on node, and whether
// one already there may stay: a NoSchedule taint only stops new pods, a
// NoExecute taint or a selector mismatch removes existing ones.
func placement(ds *appsv1.DaemonSet, node *corev1.Node) (shouldRun, mayContinue bool) {
	spec := &ds.Spec.Template.Spec
	if !nodematch.PodSpec(spec, node) {
		return false, false
	}
	tols := withDaemonTolerations(spec)
	shouldRun, mayContinue = true, true
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule || nodematch.Tolerated(tols, taint) {
			continue
		}
		shouldRun = false
		if taint.Effect == corev1.TaintEffectNoExecute {
			mayContinue = false
		}
	}
	return shouldRun, mayContinue
}

// nodeOf is the node a daemon pod is on or meant for: spec.nodeName once
// bound, else the node its metadata.name affinity names.
func nodeOf(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// pinToNode sets the required node affinity that places pod on node,
// replacing any other required terms (node was already checked against
// them); preferred terms are kept.
func pinToNode(pod *corev1.Pod, node string) {
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
		}}}},
	}
}
