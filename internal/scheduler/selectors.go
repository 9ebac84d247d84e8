package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// selectors finds what selects a pod, for PodTopologySpread's default
// constraints: they spread a pod among the pods its Services,
// ReplicationControllers, ReplicaSets and StatefulSets select.
type selectors struct {
	services corelisters.ServiceLister
	rcs      corelisters.ReplicationControllerLister
	rss      appslisters.ReplicaSetLister
	sss      appslisters.StatefulSetLister
}

// forPod returns the conjunction of the selectors of every Service,
// ReplicationController, ReplicaSet and StatefulSet in pod's namespace that
// selects pod; empty (labels.Everything()) when nothing does. Objects
// with empty selectors select nothing here.
func (s *selectors) forPod(pod *corev1.Pod) labels.Selector {
	podLabels := labels.Set(pod.Labels)
	set := labels.Set{}
	if svcs, err := s.services.Services(pod.Namespace).List(labels.Everything()); err == nil {
		for _, svc := range svcs {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
				set = labels.Merge(set, svc.Spec.Selector)
			}
		}
	}
	if rcs, err := s.rcs.ReplicationControllers(pod.Namespace).List(labels.Everything()); err == nil {
		for _, rc := range rcs {
			if len(rc.Spec.Selector) > 0 && labels.SelectorFromSet(rc.Spec.Selector).Matches(podLabels) {
				set = labels.Merge(set, rc.Spec.Selector)
			}
		}
	}
	sel := labels.Everything()
	if len(set) > 0 {
		sel = labels.SelectorFromSet(set)
	}
	add := func(ls *metav1.LabelSelector) {
		other, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil || other.Empty() || !other.Matches(podLabels) {
			return
		}
		if reqs, ok := other.Requirements(); ok {
			sel = sel.Add(reqs...)
		}
	}
	if rss, err := s.rss.ReplicaSets(pod.Namespace).List(labels.Everything()); err == nil {
		for _, rs := range rss {
			add(rs.Spec.Selector)
		}
	}
	if sss, err := s.sss.StatefulSets(pod.Namespace).List(labels.Everything()); err == nil {
		for _, ss := range sss {
			add(ss.Spec.Selector)
		}
	}
	return sel
}
