package server

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/auth/node"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
	"github.com/skiff-sh/skiff/internal/storage"
)

// lookup reads objects for authentication, authorization and admission
// straight from the server's own storage (the watch cache), the way
// upstream's plugins read informers. Returned objects are shared with the
// cache: callers must not modify them.
type lookup struct {
	stores map[schema.GroupVersionKind]storage.Resource
}

var (
	_ admission.NamespaceGetter      = lookup{}
	_ admission.LimitRangeLister     = lookup{}
	_ admission.ServiceAccountGetter = lookup{}
	_ admission.NodeGetter           = lookup{}
	_ admission.PodGetter            = lookup{}
	_ admission.PriorityClassLister  = lookup{}
	_ admission.StorageClassLister   = lookup{}
	_ admission.QuotaStore           = lookup{}
	_ rbac.RuleSource                = lookup{}
	_ node.Graph                     = lookup{}
)

func core(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Version: "v1", Kind: kind}
}

var (
	rbacGV       = rbacv1.SchemeGroupVersion
	schedulingGV = schedulingv1.SchemeGroupVersion
	storageGV    = storagev1.SchemeGroupVersion
)

// get reads an object from the cache, falling back to etcd when the cache
// has not seen it yet (it may trail a write that just returned).
func get[T runtime.Object](ctx context.Context, l lookup, gvk schema.GroupVersionKind, namespace, name string) (T, error) {
	var zero T
	store := l.stores[gvk]
	if store == nil {
		return zero, apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, name)
	}
	obj, err := store.Get(ctx, namespace, name, storage.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		obj, err = store.Get(ctx, namespace, name, storage.GetOptions{})
	}
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, errors.New("lookup: unexpected type")
	}
	return t, nil
}

// list reads a namespace's (or every) object of a kind. resourceVersion ""
// is a consistent read; "0" whatever the cache holds.
func list[T runtime.Object](ctx context.Context, l lookup, gvk schema.GroupVersionKind, namespace, rv string, field fields.Selector) ([]T, error) {
	store := l.stores[gvk]
	if store == nil {
		return nil, nil
	}
	res, err := store.List(ctx, namespace, storage.ListOptions{ResourceVersion: rv, Field: field})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(res.Items))
	for _, obj := range res.Items {
		if t, ok := obj.(T); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// values copies listed objects into a slice of values (shallow copies).
func values[T any](items []*T) []T {
	out := make([]T, len(items))
	for i, p := range items {
		out[i] = *p
	}
	return out
}

func (l lookup) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	return get[*corev1.Namespace](ctx, l, core("Namespace"), "", name)
}

func (l lookup) ListLimitRanges(ctx context.Context, namespace string) ([]corev1.LimitRange, error) {
	items, err := list[*corev1.LimitRange](ctx, l, core("LimitRange"), namespace, "0", nil)
	return values(items), err
}

func (l lookup) GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := get[*corev1.ServiceAccount](ctx, l, core("ServiceAccount"), namespace, name)
	if apierrors.IsNotFound(err) {
		// Upstream's admission message names the singular resource.
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
	}
	return sa, err
}

func (l lookup) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return get[*corev1.Node](ctx, l, core("Node"), "", name)
}

func (l lookup) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return get[*corev1.Pod](ctx, l, core("Pod"), namespace, name)
}

func (l lookup) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return get[*corev1.Secret](ctx, l, core("Secret"), namespace, name)
}

func (l lookup) GetPriorityClass(ctx context.Context, name string) (*schedulingv1.PriorityClass, error) {
	return get[*schedulingv1.PriorityClass](ctx, l, schedulingGV.WithKind("PriorityClass"), "", name)
}

func (l lookup) ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error) {
	items, err := list[*schedulingv1.PriorityClass](ctx, l, schedulingGV.WithKind("PriorityClass"), "", "0", nil)
	return values(items), err
}

func (l lookup) ListStorageClasses(ctx context.Context) ([]storagev1.StorageClass, error) {
	items, err := list[*storagev1.StorageClass](ctx, l, storageGV.WithKind("StorageClass"), "", "0", nil)
	return values(items), err
}

// ListResourceQuotas reads consistently when the namespace has quotas:
// after a conflict the quota plugin needs at least the state that caused
// it. Most namespaces have none, which the cache answers without a round
// trip to etcd on every write.
func (l lookup) ListResourceQuotas(ctx context.Context, namespace string) ([]corev1.ResourceQuota, error) {
	items, err := list[*corev1.ResourceQuota](ctx, l, core("ResourceQuota"), namespace, "0", nil)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	items, err = list[*corev1.ResourceQuota](ctx, l, core("ResourceQuota"), namespace, "", nil)
	return values(items), err
}

// UpdateQuotaStatus writes q's status if q is still the current version.
func (l lookup) UpdateQuotaStatus(ctx context.Context, q *corev1.ResourceQuota) error {
	gr := schema.GroupResource{Resource: "resourcequotas"}
	_, err := l.stores[core("ResourceQuota")].Update(ctx, q.Namespace, q.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(gr, q.Name)
		}
		c := cur.(*corev1.ResourceQuota)
		if c.ResourceVersion != q.ResourceVersion {
			return nil, apierrors.NewConflict(gr, q.Name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		c.Status = *q.Status.DeepCopy()
		return c, nil
	})
	return err
}

func (l lookup) GetRole(namespace, name string) (*rbacv1.Role, error) {
	return get[*rbacv1.Role](context.Background(), l, rbacGV.WithKind("Role"), namespace, name)
}

func (l lookup) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	return get[*rbacv1.ClusterRole](context.Background(), l, rbacGV.WithKind("ClusterRole"), "", name)
}

func (l lookup) ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	return list[*rbacv1.RoleBinding](context.Background(), l, rbacGV.WithKind("RoleBinding"), namespace, "0", nil)
}

func (l lookup) ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	return list[*rbacv1.ClusterRoleBinding](context.Background(), l, rbacGV.WithKind("ClusterRoleBinding"), "", "0", nil)
}

func (l lookup) PodsOnNode(nodeName string) ([]*corev1.Pod, error) {
	return list[*corev1.Pod](context.Background(), l, core("Pod"), "", "0", fields.OneTermEqualSelector("spec.nodeName", nodeName))
}

func (l lookup) PersistentVolumeClaim(namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	return get[*corev1.PersistentVolumeClaim](context.Background(), l, core("PersistentVolumeClaim"), namespace, name)
}

func (l lookup) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	return get[*corev1.PersistentVolume](context.Background(), l, core("PersistentVolume"), "", name)
}

// VolumeAttachment: the kind is not served yet, so none exist.
func (l lookup) VolumeAttachment(name string) (*storagev1.VolumeAttachment, error) {
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "storage.k8s.io", Resource: "volumeattachments"}, name)
}
