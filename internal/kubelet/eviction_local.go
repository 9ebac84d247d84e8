package kubelet

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Local ephemeral storage limits (upstream's LocalStorageCapacityIsolation,
// which is on by default there and always on here).
//
// Every eviction pass, before node pressure is looked at, each pod is held
// to its own local storage limits, whatever the node has left. The limits
// are checked in upstream's order and the first one exceeded evicts the
// pod:
//
//  1. a disk-backed emptyDir volume using more than its sizeLimit (a
//     memory-backed one is a tmpfs of that size, so the kernel enforces
//     it and it is not measured as disk);
//  2. the pod's ephemeral storage (its containers' writable layers and
//     logs and its disk-backed emptyDirs) using more than its
//     ephemeral-storage limit: upstream's pod limit, the containers'
//     limits summed (init containers counted as for requests), checked
//     as soon as any container sets one;
//  3. an app container's writable layer and logs using more than its
//     limits.ephemeral-storage (a zero limit is no limit). As upstream,
//     the writable layer counts only when the image filesystem is
//     RootDir's: on a dedicated one only the logs do.
//
// Usage equal to the limit is within it. Every pod over a limit is
// evicted in the same pass, and a pass that evicted any evicts nothing for
// node pressure. Static and critical pods, and pods already on their way
// out, are never evicted (evictable).

// storageLimit is one of a pod's local storage limits: it returns
// upstream's eviction message when the pod's usage in ps exceeds the
// limit, "" otherwise.
type storageLimit func(pod *corev1.Pod, ps PodStats) string

// evictLocalStorage evicts every evictable pod whose usage in s exceeds
// one of its local storage limits and returns their UIDs, in m.pods
// order. Pods without stats are left alone.
func (m *evictionManager) evictLocalStorage(ctx context.Context, s *Summary) []string {
	// Asked only when a container limit is checked, at most once a pass.
	dedicated := sync.OnceValue(func() bool { return m.imageFsDedicated(ctx) })
	limits := []storageLimit{
		emptyDirLimit,
		podEphemeralLimit,
		containerEphemeralLimit(dedicated),
	}
	byUID := make(map[string]PodStats, len(s.Pods))
	for _, ps := range s.Pods {
		byUID[ps.PodRef.UID] = ps
	}
	var evicted []string
	for _, p := range m.pods() {
		ps, ok := byUID[string(p.UID)]
		if !ok || !m.evictable(p) {
			continue
		}
		for _, limit := range limits {
			if msg := limit(p, ps); msg != "" {
				m.evict(ctx, p, msg)
				evicted = append(evicted, string(p.UID))
				break
			}
		}
	}
	return evicted
}

// emptyDirLimit holds each disk-backed emptyDir with a positive sizeLimit
// to it.
func emptyDirLimit(pod *corev1.Pod, ps PodStats) string {
	used := map[string]*uint64{}
	for _, v := range ps.VolumeStats {
		used[v.Name] = v.UsedBytes
	}
	for _, v := range pod.Spec.Volumes {
		ed := v.EmptyDir
		if ed == nil || ed.Medium != corev1.StorageMediumDefault || ed.SizeLimit == nil || ed.SizeLimit.Sign() <= 0 {
			continue
		}
		u := used[v.Name]
		if u == nil || bytesQuantity(*u).Cmp(*ed.SizeLimit) <= 0 {
			continue
		}
		return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, ed.SizeLimit.String())
	}
	return ""
}

// podEphemeralLimit holds the pod's ephemeral storage to its containers'
// ephemeral-storage limits, when any sets one.
func podEphemeralLimit(pod *corev1.Pod, ps PodStats) string {
	limit, ok := podLimit(pod, corev1.ResourceEphemeralStorage)
	if !ok {
		return ""
	}
	total := ps.EphemeralStorage
	if total == nil {
		total = ephemeral(ps.Containers, ps.VolumeStats, metav1.Time{})
	}
	var used uint64
	if total.UsedBytes != nil {
		used = *total.UsedBytes
	}
	if bytesQuantity(used).Cmp(limit) <= 0 {
		return ""
	}
	return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", limit.String())
}

// containerEphemeralLimit holds each app container with a non-zero
// limits.ephemeral-storage to it; dedicated reports whether the image
// filesystem (where writable layers are) is not RootDir's.
func containerEphemeralLimit(dedicated func() bool) storageLimit {
	return func(pod *corev1.Pod, ps PodStats) string {
		for _, cs := range ps.Containers {
			spec := findAppContainer(pod, cs.Name)
			if spec == nil {
				continue
			}
			limit, ok := spec.Resources.Limits[corev1.ResourceEphemeralStorage]
			if !ok || limit.IsZero() {
				continue
			}
			used := usedBytes(cs.Logs)
			if !dedicated() {
				used += usedBytes(cs.Rootfs)
			}
			if bytesQuantity(used).Cmp(limit) > 0 {
				return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", cs.Name, limit.String())
			}
		}
		return ""
	}
}

// findAppContainer returns the pod's app container named name, or nil
// (init containers and sidecars are not held to their own limits, as
// upstream).
func findAppContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// podLimit is the pod's limit of res as upstream computes pod limits: the
// app containers' and sidecars' limits summed, or any one init
// container's plus the sidecars started before it when that is larger,
// plus the pod overhead's. ok is false when no container sets a limit of
// res; containers without one add nothing.
func podLimit(pod *corev1.Pod, res corev1.ResourceName) (limit resource.Quantity, ok bool) {
	var sidecars, initMax resource.Quantity
	for _, c := range pod.Spec.Containers {
		if l, has := c.Resources.Limits[res]; has {
			limit.Add(l)
			ok = true
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		l, has := c.Resources.Limits[res]
		if !has {
			continue
		}
		ok = true
		if isSidecar(c) {
			limit.Add(l)
			sidecars.Add(l)
			continue
		}
		here := sidecars.DeepCopy()
		here.Add(l)
		if here.Cmp(initMax) > 0 {
			initMax = here
		}
	}
	if !ok {
		return resource.Quantity{}, false
	}
	if initMax.Cmp(limit) > 0 {
		limit = initMax
	}
	if o, has := pod.Spec.Overhead[res]; has {
		limit.Add(o)
	}
	return limit, true
}

func usedBytes(f *FsStats) uint64 {
	if f == nil || f.UsedBytes == nil {
		return 0
	}
	return *f.UsedBytes
}

func bytesQuantity(n uint64) *resource.Quantity {
	return resource.NewQuantity(int64(n), resource.BinarySI)
}
