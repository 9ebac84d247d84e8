package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	resourcelisters "k8s.io/client-go/listers/resource/v1"
)

// pluginEnv is what plugins may read besides the pod and node.
type pluginEnv struct {
	nsLabels func(ns string) labels.Set
	// spreadSelector is what selects a pod, for default spread
	// constraints (nil: no defaults).
	spreadSelector func(pod *corev1.Pod) labels.Selector
	pvcs           corelisters.PersistentVolumeClaimLister
	pvs            corelisters.PersistentVolumeLister
	claims         resourcelisters.ResourceClaimLister
	deviceClasses  resourcelisters.DeviceClassLister
}

// weightedScorer is a scorer and its profile weight.
type weightedScorer struct {
	Scorer
	weight int64
}

// newFilter builds the filter plugin called name (nil if unknown).
func newFilter(name string, p *Profile, env pluginEnv) Filter {
	switch name {
	case "NodeUnschedulable":
		return nodeUnschedulable{}
	case "NodeName":
		return nodeName{}
	case "TaintToleration":
		return taintToleration{}
	case "NodeAffinity":
		return nodeAffinity{}
	case "NodePorts":
		return nodePorts{}
	case "NodeResourcesFit":
		return &nodeResourcesFit{strategy: p.Fit}
	case "VolumeBinding":
		return &volumeBinding{pvcs: env.pvcs, pvs: env.pvs}
	case "PodTopologySpread":
		return podTopologySpread{defaults: p.SpreadDefaults, systemDefaulted: p.SpreadSystemDefaulted, defaultSelector: env.spreadSelector}
	case "InterPodAffinity":
		return &interPodAffinity{nsLabels: env.nsLabels, hardW: p.HardPodAffinityWeight}
	case "DynamicResources":
		return &dynamicResources{claims: env.claims, classes: env.deviceClasses}
	}
	return nil
}

// newScorer builds the score plugin called name (nil if unknown).
func newScorer(name string, p *Profile, env pluginEnv) Scorer {
	switch name {
	case "NodeResourcesBalancedAllocation":
		return balancedAllocation{}
	case "ImageLocality":
		return imageLocality{}
	}
	if s, ok := newFilter(name, p, env).(Scorer); ok {
		return s
	}
	return nil
}

// scoreOrder is the order scores run and are listed in explanations.
var scoreOrder = []string{
	"TaintToleration", "NodeAffinity", "NodeResourcesFit", "NodeResourcesBalancedAllocation",
	"PodTopologySpread", "InterPodAffinity", "ImageLocality",
}

// chain is one profile's pipeline: filters in the order they run, then the
// weighted scorers.
type chain struct {
	profile Profile
	filters []Filter
	scorers []weightedScorer
}

// newChain assembles a profile's filters (in the profile's order, upstream's
// by default: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
// NodePorts, NodeResourcesFit, VolumeBinding, PodTopologySpread,
// InterPodAffinity, DynamicResources) and scorers (scoreOrder, with the profile's weights).
func newChain(p Profile, env pluginEnv) *chain {
	c := &chain{profile: p}
	for _, name := range p.Filters {
		if f := newFilter(name, &p, env); f != nil {
			c.filters = append(c.filters, f)
		}
	}
	for _, name := range scoreOrder {
		w, ok := p.Scores[name]
		if !ok || w == 0 {
			continue
		}
		if s := newScorer(name, &p, env); s != nil {
			c.scorers = append(c.scorers, weightedScorer{Scorer: s, weight: w})
		}
	}
	return c
}

// pluginEvents lists, per filter, the cluster events that can make a node it
// rejected acceptable; the queue moves a pod back only on those.
var pluginEvents = map[string]ClusterEvent{
	"NodeUnschedulable": EventNodeAdd | EventNodeUpdate,
	"NodeName":          EventNodeAdd,
	"TaintToleration":   EventNodeAdd | EventNodeUpdate,
	"NodeAffinity":      EventNodeAdd | EventNodeUpdate,
	"NodePorts":         EventNodeAdd | EventAssignedPodDelete,
	"NodeResourcesFit":  EventNodeAdd | EventNodeUpdate | EventAssignedPodDelete | EventAssignedPodUpdate,
	"VolumeBinding":     EventNodeAdd | EventNodeUpdate | EventPVCChange | EventPVChange,
	"PodTopologySpread": EventNodeAdd | EventNodeUpdate | EventAssignedPodAdd | EventAssignedPodUpdate | EventAssignedPodDelete,
	"InterPodAffinity":  EventNodeAdd | EventNodeUpdate | EventAssignedPodAdd | EventAssignedPodUpdate | EventAssignedPodDelete | EventNamespaceChange,
	"DynamicResources":  EventNodeAdd | EventNodeUpdate | EventDRAChange,
}

// relevant reports whether ev may help a pod rejected by plugins; a pod with
// no recorded plugin (an error, or no nodes at all) takes every event.
func relevant(plugins sets.Set[string], ev ClusterEvent) bool {
	if plugins.Len() == 0 {
		return true
	}
	for p := range plugins {
		if evs, ok := pluginEvents[p]; !ok || evs&ev != 0 {
			return true
		}
	}
	return false
}
