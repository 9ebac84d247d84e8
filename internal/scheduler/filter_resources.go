package scheduler

import (
	"context"
	"fmt"
	"math"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// nodeResourcesFit rejects nodes without room for the pod's requests (cpu,
// memory, ephemeral-storage, extended resources and hugepages, and one more
// pod), listing every resource that is short. As a scorer it applies the
// configured strategy (LeastAllocated by default).
type nodeResourcesFit struct {
	strategy ScoringStrategy
}

var (
	_ Filter = (*nodeResourcesFit)(nil)
	_ Scorer = (*nodeResourcesFit)(nil)
)

func (*nodeResourcesFit) Name() string { return "NodeResourcesFit" }

func (*nodeResourcesFit) Filter(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	reasons := insufficient(state.podInfo.Requests, n)
	if len(reasons) == 0 {
		return nil
	}
	return newStatus(Unschedulable, reasons...)
}

// insufficient lists the upstream reason for each resource req does not fit
// in on n.
func insufficient(req Resource, n *NodeInfo) []string {
	var out []string
	if n.Requested.Pods+1 > n.Allocatable.Pods {
		out = append(out, reasonTooManyPods)
	}
	if req.MilliCPU > 0 && req.MilliCPU > n.Allocatable.MilliCPU-n.Requested.MilliCPU {
		out = append(out, fmt.Sprintf(reasonInsufficientFm, corev1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > n.Allocatable.Memory-n.Requested.Memory {
		out = append(out, fmt.Sprintf(reasonInsufficientFm, corev1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > n.Allocatable.EphemeralStorage-n.Requested.EphemeralStorage {
		out = append(out, fmt.Sprintf(reasonInsufficientFm, corev1.ResourceEphemeralStorage))
	}
	if len(req.Scalar) > 0 {
		names := make([]string, 0, len(req.Scalar))
		for name, v := range req.Scalar {
			if v > 0 && v > n.Allocatable.Scalar[name]-n.Requested.Scalar[name] {
				names = append(names, string(name))
			}
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, fmt.Sprintf(reasonInsufficientFm, name))
		}
	}
	return out
}

func (f *nodeResourcesFit) Score(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) int64 {
	var sum, weights int64
	for _, rw := range f.strategy.Resources {
		alloc, req := amounts(rw.Name, state.podInfo, n)
		if alloc == 0 {
			continue
		}
		var s int64
		switch f.strategy.Type {
		case MostAllocated:
			s = mostAllocated(req, alloc)
		case RequestedToCapacityRatio:
			s = f.strategy.shape(req, alloc)
		default:
			s = leastAllocated(req, alloc)
		}
		sum += s * rw.Weight
		weights += rw.Weight
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// amounts returns a resource's allocatable on n and what n would have
// requested with the pod on it (scoring defaults for cpu and memory).
func amounts(name corev1.ResourceName, pi *PodInfo, n *NodeInfo) (alloc, req int64) {
	switch name {
	case corev1.ResourceCPU:
		return n.Allocatable.MilliCPU, n.NonZeroRequested.MilliCPU + pi.NonZero.MilliCPU
	case corev1.ResourceMemory:
		return n.Allocatable.Memory, n.NonZeroRequested.Memory + pi.NonZero.Memory
	case corev1.ResourceEphemeralStorage:
		return n.Allocatable.EphemeralStorage, n.Requested.EphemeralStorage + pi.Requests.EphemeralStorage
	}
	return n.Allocatable.Scalar[name], n.Requested.Scalar[name] + pi.Requests.Scalar[name]
}

func leastAllocated(req, alloc int64) int64 {
	if req > alloc {
		return 0
	}
	return (alloc - req) * MaxNodeScore / alloc
}

func mostAllocated(req, alloc int64) int64 {
	if req > alloc {
		req = alloc
	}
	return req * MaxNodeScore / alloc
}

// shape interpolates the RequestedToCapacityRatio function (utilization in
// percent to a score already scaled to 0..MaxNodeScore).
func (s ScoringStrategy) shape(req, alloc int64) int64 {
	pts := s.Shape
	if len(pts) == 0 {
		return 0
	}
	u := req * 100 / alloc
	if u > 100 {
		u = 100
	}
	if u <= pts[0].Utilization {
		return pts[0].Score
	}
	for i := 1; i < len(pts); i++ {
		if u <= pts[i].Utilization {
			a, b := pts[i-1], pts[i]
			return a.Score + (b.Score-a.Score)*(u-a.Utilization)/(b.Utilization-a.Utilization)
		}
	}
	return pts[len(pts)-1].Score
}

// balancedAllocation prefers nodes whose cpu and memory would be used in
// similar proportions with the pod on them: 100 × (1 − standard deviation
// of the used fractions).
type balancedAllocation struct{}

var _ Scorer = balancedAllocation{}

func (balancedAllocation) Name() string { return "NodeResourcesBalancedAllocation" }

func (balancedAllocation) Score(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) int64 {
	var fracs []float64
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		alloc, req := amounts(name, state.podInfo, n)
		if alloc == 0 {
			continue
		}
		f := float64(req) / float64(alloc)
		if f > 1 {
			f = 1
		}
		fracs = append(fracs, f)
	}
	if len(fracs) < 2 {
		return MaxNodeScore
	}
	var mean float64
	for _, f := range fracs {
		mean += f
	}
	mean /= float64(len(fracs))
	var v float64
	for _, f := range fracs {
		v += (f - mean) * (f - mean)
	}
	std := math.Sqrt(v / float64(len(fracs)))
	return int64((1 - std) * float64(MaxNodeScore))
}
