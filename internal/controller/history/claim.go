package history

import (
	"context"
	"encoding/json"
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// patchFunc applies a strategic-merge patch to the named object.
type patchFunc func(ctx context.Context, name string, patch []byte) error

// claim sorts objs into those owner controls: objects it controls and
// whose labels match sel are kept; objects it controls that no longer
// match are released; orphans that match and pass extra are adopted
// (unless owner or the orphan is being deleted). Objects controlled by
// someone else are ignored. Errors on single objects are joined; a
// vanished object is skipped.
func claim[T metav1.Object](ctx context.Context, owner Owner, sel labels.Selector, objs []T, extra func(T) bool, patch patchFunc) ([]T, error) {
	var out []T
	var errs []error
	for _, o := range objs {
		ref := metav1.GetControllerOf(o)
		matches := sel.Matches(labels.Set(o.GetLabels())) && (extra == nil || extra(o))
		switch {
		case ref != nil && ref.UID != owner.Meta.GetUID():
			continue
		case ref != nil && matches:
			out = append(out, o)
		case ref != nil:
			if o.GetDeletionTimestamp() != nil {
				continue
			}
			err := patch(ctx, o.GetName(), releasePatch(owner.Meta.GetUID(), o.GetUID()))
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		case matches && owner.Meta.GetDeletionTimestamp() == nil && o.GetDeletionTimestamp() == nil:
			err := patch(ctx, o.GetName(), adoptPatch(owner, o.GetUID()))
			switch {
			case err == nil:
				out = append(out, o)
			case apierrors.IsNotFound(err):
			default:
				errs = append(errs, err)
			}
		}
	}
	return out, errors.Join(errs...)
}

// adoptPatch adds owner's controller reference, guarded by the object's
// UID so a recreated object of the same name is left alone.
func adoptPatch(owner Owner, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{owner.Ref()},
		"uid":             uid,
	}})
	return b
}

func releasePatch(ownerUID, uid types.UID) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": ownerUID}},
		"uid":             uid,
	}})
	return b
}

// ClaimPods returns the pods owner controls, adopting and releasing as
// described on claim. extra, if set, further restricts adoption.
func ClaimPods(ctx context.Context, c kubernetes.Interface, owner Owner, sel labels.Selector, pods []*corev1.Pod, extra func(*corev1.Pod) bool) ([]*corev1.Pod, error) {
	ns := owner.Meta.GetNamespace()
	return claim(ctx, owner, sel, pods, extra, func(ctx context.Context, name string, p []byte) error {
		_, err := c.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, p, metav1.PatchOptions{})
		return err
	})
}

// ClaimRevisions is ClaimPods for ControllerRevisions; the result is
// sorted oldest first.
func ClaimRevisions(ctx context.Context, c kubernetes.Interface, owner Owner, sel labels.Selector, revs []*appsv1.ControllerRevision) ([]*appsv1.ControllerRevision, error) {
	ns := owner.Meta.GetNamespace()
	out, err := claim(ctx, owner, sel, revs, nil, func(ctx context.Context, name string, p []byte) error {
		_, err := c.AppsV1().ControllerRevisions(ns).Patch(ctx, name, types.StrategicMergePatchType, p, metav1.PatchOptions{})
		return err
	})
	Sort(out)
	return out, err
}
