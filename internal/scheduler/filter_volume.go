package scheduler

import (
	"context"
	"fmt"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
)

const reasonVolumeNodeAffinity = "node(s) had volume node affinity conflict"

// volumeBinding checks, for each PersistentVolumeClaim the pod mounts that is
// bound, that the volume's node affinity admits the node. Unbound claims are
// left to volume provisioning (not implemented: they pass).
type volumeBinding struct {
	pvcs corelisters.PersistentVolumeClaimLister
	pvs  corelisters.PersistentVolumeLister
}

var (
	_ Filter    = (*volumeBinding)(nil)
	_ PreFilter = (*volumeBinding)(nil)
)

func (*volumeBinding) Name() string { return "VolumeBinding" }

// volumeState is the node selectors of the pod's bound volumes.
type volumeState []*corev1.NodeSelector

func (s volumeState) clone() stateData { return s }

func (v *volumeBinding) PreFilter(_ context.Context, state *CycleState, pod *corev1.Pod) *Status {
	var sels volumeState
	for _, vol := range pod.Spec.Volumes {
		if vol.PersistentVolumeClaim == nil || v.pvcs == nil {
			continue
		}
		name := vol.PersistentVolumeClaim.ClaimName
		pvc, err := v.pvcs.PersistentVolumeClaims(pod.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if err != nil {
			return newStatus(Error, err.Error())
		}
		if pvc.DeletionTimestamp != nil {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if pvc.Spec.VolumeName == "" {
			continue
		}
		pv, err := v.pvs.Get(pvc.Spec.VolumeName)
		if err != nil {
			return newStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName))
		}
		if pv.Spec.NodeAffinity != nil && pv.Spec.NodeAffinity.Required != nil {
			sels = append(sels, pv.Spec.NodeAffinity.Required)
		}
	}
	if len(sels) == 0 {
		state.skip[v.Name()] = true
		return nil
	}
	state.data[v.Name()] = sels
	return nil
}

func (v *volumeBinding) Filter(_ context.Context, state *CycleState, _ *corev1.Pod, n *NodeInfo) *Status {
	if state.skip[v.Name()] {
		return nil
	}
	for _, sel := range state.data[v.Name()].(volumeState) {
		if !nodematch.Selector(sel, n.Node) {
			return newStatus(UnschedulableAndUnresolvable, reasonVolumeNodeAffinity)
		}
	}
	return nil
}

// imageLocality prefers nodes that already hold the pod's images, weighted by
// how widely each image is spread (so one node holding an image does not
// attract every pod).
type imageLocality struct{}

var (
	_ Scorer    = imageLocality{}
	_ PreScorer = imageLocality{}
)

func (imageLocality) Name() string { return "ImageLocality" }

const (
	mb                    int64 = 1024 * 1024
	minImageThreshold           = 23 * mb
	maxContainerThreshold       = 1000 * mb
)

// imageSpread is the fraction of nodes holding each of the pod's images.
type imageSpread map[string]float64

func (s imageSpread) clone() stateData { return s }

func (i imageLocality) PreScore(_ context.Context, state *CycleState, pod *corev1.Pod, _ []*NodeInfo) {
	spread := imageSpread{}
	total := len(state.nodes)
	if total == 0 {
		return
	}
	for _, c := range pod.Spec.Containers {
		name := normalizeImage(c.Image)
		have := 0
		for _, n := range state.nodes {
			if _, ok := n.ImageSizes[name]; ok {
				have++
			}
		}
		spread[name] = float64(have) / float64(total)
	}
	state.data[i.Name()] = spread
}

func (i imageLocality) Score(_ context.Context, state *CycleState, pod *corev1.Pod, n *NodeInfo) int64 {
	v, ok := state.data[i.Name()]
	if !ok {
		return 0
	}
	spread := v.(imageSpread)
	var sum int64
	for _, c := range pod.Spec.Containers {
		name := normalizeImage(c.Image)
		if size, ok := n.ImageSizes[name]; ok {
			sum += int64(float64(size) * spread[name])
		}
	}
	maxT := maxContainerThreshold * int64(len(pod.Spec.Containers))
	if sum < minImageThreshold {
		return 0
	}
	if sum > maxT {
		sum = maxT
	}
	return MaxNodeScore * (sum - minImageThreshold) / (maxT - minImageThreshold)
}

// normalizeImage adds the ":latest" tag to untagged, undigested names, the
// form nodes report.
func normalizeImage(image string) string {
	for i := len(image) - 1; i >= 0; i-- {
		switch image[i] {
		case ':', '@':
			return image
		case '/':
			return image + ":latest"
		}
	}
	return image + ":latest"
}
