package kubelet

import (
	"context"
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/internal/resources/nodematch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// persistentVolumeClaim volumes. The claim must be Bound; its
// PersistentVolume must be a hostPath or a local volume, and a local
// volume's required node affinity must match this node. The container
// then mounts the volume's path directly (read-only when the pod's volume
// or the PV asks it).

// resolveClaim returns the host path behind the pod's claim volume.
func (w *podWorker) resolveClaim(ctx context.Context, pod *corev1.Pod, src *corev1.PersistentVolumeClaimVolumeSource) (string, error) {
	core := w.k.client.CoreV1()
	pvc, err := core.PersistentVolumeClaims(pod.Namespace).Get(ctx, src.ClaimName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolumeclaim %q: %w", src.ClaimName, err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound", src.ClaimName)
	}
	pv, err := core.PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolume %q: %w", pvc.Spec.VolumeName, err)
	}
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID != "" && ref.UID != pvc.UID {
		return "", fmt.Errorf("persistentvolume %q is bound to another claim", pv.Name)
	}
	node, err := core.Nodes().Get(ctx, w.k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading the node: %w", err)
	}
	return volumeHostPath(pv, node)
}

// volumeHostPath returns the path of a hostPath or local PV on node.
func volumeHostPath(pv *corev1.PersistentVolume, node *corev1.Node) (string, error) {
	if a := pv.Spec.NodeAffinity; a != nil && a.Required != nil && !nodematch.Selector(a.Required, node) {
		return "", fmt.Errorf("persistentvolume %q: node affinity does not match node %q", pv.Name, node.Name)
	}
	switch {
	case pv.Spec.HostPath != nil:
		if err := checkHostPath(pv.Spec.HostPath); err != nil {
			return "", fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
		}
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
			return "", fmt.Errorf("persistentvolume %q: a local volume needs a required node affinity", pv.Name)
		}
		if _, err := os.Stat(pv.Spec.Local.Path); err != nil {
			return "", fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
		}
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q: only hostPath and local volumes are supported by this node", pv.Name)
}
