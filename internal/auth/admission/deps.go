package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// The lookup interfaces below are what the plugins need from storage.
// Contracts shared by all of them:
//   - a missing object is reported as an apierrors NotFound error;
//   - returned objects and slices belong to the store and are never
//     modified by the caller (plugins DeepCopy before changing anything);
//   - reads may come from a cache, except where a method says otherwise.

// NamespaceGetter gets a Namespace by name.
type NamespaceGetter interface {
	GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error)
}

// LimitRangeLister lists the LimitRanges of a namespace.
type LimitRangeLister interface {
	ListLimitRanges(ctx context.Context, namespace string) ([]corev1.LimitRange, error)
}

// ServiceAccountGetter gets a ServiceAccount.
type ServiceAccountGetter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// NodeGetter gets a Node by name.
type NodeGetter interface {
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
}

// PodGetter gets a Pod.
type PodGetter interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

// PriorityClassLister gets and lists PriorityClasses.
type PriorityClassLister interface {
	GetPriorityClass(ctx context.Context, name string) (*schedulingv1.PriorityClass, error)
	ListPriorityClasses(ctx context.Context) ([]schedulingv1.PriorityClass, error)
}

// StorageClassLister lists StorageClasses.
type StorageClassLister interface {
	ListStorageClasses(ctx context.Context) ([]storagev1.StorageClass, error)
}

// QuotaStore reads ResourceQuotas and writes their status.
type QuotaStore interface {
	// ListResourceQuotas lists the quotas of a namespace. After a Conflict
	// from UpdateQuotaStatus the plugin lists again and needs fresh data:
	// the list must then reflect at least the state that caused the
	// conflict (a read from etcd, or a cache that waited for that revision).
	ListResourceQuotas(ctx context.Context, namespace string) ([]corev1.ResourceQuota, error)
	// UpdateQuotaStatus writes q.Status (only the status) if q's
	// resourceVersion is still current, and returns an apierrors Conflict
	// error otherwise. q is owned by the caller.
	UpdateQuotaStatus(ctx context.Context, q *corev1.ResourceQuota) error
}

// Deps is everything the built-in plugins read. A nil lookup disables the
// checks that need it (documented on each plugin), so a partially wired
// chain still runs.
type Deps struct {
	Namespaces      NamespaceGetter
	LimitRanges     LimitRangeLister
	ServiceAccounts ServiceAccountGetter
	Nodes           NodeGetter // NodeRestriction: mirror pod owner UID check
	Pods            PodGetter  // NodeRestriction: pods/eviction by nodes
	PriorityClasses PriorityClassLister
	StorageClasses  StorageClassLister
	Quotas          QuotaStore
	// Authorizer answers the certificates plugins' approve and sign
	// checks; nil allows them.
	Authorizer auth.Authorizer

	// PodSecurity configures defaults and exemptions; zero value is
	// upstream's default (privileged:latest for all modes, no exemptions).
	PodSecurity PodSecurityConfig

	// RandSuffix returns n random name characters (the suffix of
	// kube-api-access-XXXXX). Nil uses math/rand; tests inject a fixed one.
	RandSuffix func(n int) string
}

func (d Deps) withDefaults() Deps {
	if d.RandSuffix == nil {
		d.RandSuffix = randSuffix
	}
	return d
}
