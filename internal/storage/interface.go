package storage

import (
	"context"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// ResourceConfig describes one resource kept by the Storage.
type ResourceConfig struct {
	// GroupResource names the resource in errors ("configmaps", "deployments.apps").
	GroupResource schema.GroupResource
	// GVK is set as TypeMeta on every object the storage returns.
	GVK schema.GroupVersionKind
	// Namespaced resources are keyed prefix/ns/name, others prefix/name.
	Namespaced bool
	// New returns an empty object of the stored type.
	New func() runtime.Object
	// Attrs returns the labels and the selectable fields of an object; the
	// fields always include metadata.name and, when namespaced, metadata.namespace.
	Attrs func(obj runtime.Object) (labels.Set, fields.Set, error)
	// Codec overrides the Store's codec for this resource (for example for
	// custom resources, which have no protobuf encoding). Optional.
	Codec runtime.Codec
	// Transformer, when set, transforms encoded values on their way to and
	// from etcd (encryption at rest). Optional; nil stores the codec's
	// bytes as they are.
	Transformer Transformer
}

// Transformer turns the codec's bytes into the bytes kept in etcd and back.
// key is the full etcd key of the value; implementations may bind the
// stored value to it (authenticated data), so a value copied to another key
// does not decode. Both methods must be safe for concurrent use. The
// returned slices belong to the caller; data is not retained.
type Transformer interface {
	// TransformToStorage returns the value to write for data.
	TransformToStorage(data []byte, key string) ([]byte, error)
	// TransformFromStorage returns the codec's bytes for a stored value.
	// stale reports that the value was not written the way
	// TransformToStorage would write it now (for example with an older
	// key); Update then writes it again even when the object is unchanged.
	TransformFromStorage(data []byte, key string) (out []byte, stale bool, err error)
}

// GetOptions selects which version of an object Get returns.
type GetOptions struct {
	// ResourceVersion "" reads the latest committed object from etcd; "0"
	// reads whatever the cache holds; any other value waits until the cache
	// has seen at least that revision.
	ResourceVersion string
}

// ListOptions follow metav1.ListOptions semantics.
type ListOptions struct {
	ResourceVersion      string
	ResourceVersionMatch string // "", "NotOlderThan" or "Exact"
	Limit                int64
	Continue             string
	Label                labels.Selector // nil = everything
	Field                fields.Selector // nil = everything
}

// ListResult is one page of a list. Items are shared with the cache and must
// not be mutated.
type ListResult struct {
	Items              []runtime.Object
	ResourceVersion    uint64
	Continue           string
	RemainingItemCount *int64
}

// WatchOptions follow metav1.ListOptions semantics for watch=true.
type WatchOptions struct {
	ResourceVersion      string
	ResourceVersionMatch string
	Label                labels.Selector
	Field                fields.Selector
	AllowBookmarks       bool
	SendInitialEvents    *bool
}

// UpdateFunc computes the new object from the current one. cur is a private
// deep copy the function may modify and return; cur is nil when the object
// does not exist (the function then returns a NotFound error or an object to
// create). Returning an object equal to cur makes Update a no-op that returns
// cur unchanged. Update calls it again with a fresh cur when a concurrent
// write wins the race.
type UpdateFunc func(cur runtime.Object) (runtime.Object, error)

// Resource is the storage of one resource. Errors are apierrors Status
// errors qualified with the resource: NotFound, AlreadyExists, Conflict,
// Expired (410) for compacted revisions and continue tokens, Timeout when a
// requested revision is not reached in time. Objects returned by Get, List
// and Watch are shared with the cache and read-only; objects returned by
// Create, Update and Delete belong to the caller.
type Resource interface {
	Create(ctx context.Context, namespace, name string, obj runtime.Object) (runtime.Object, error)
	Get(ctx context.Context, namespace, name string, opts GetOptions) (runtime.Object, error)
	Update(ctx context.Context, namespace, name string, fn UpdateFunc) (runtime.Object, error)
	// Delete removes the object if precondition (may be nil) accepts the
	// current object; it returns the deleted object.
	Delete(ctx context.Context, namespace, name string, precondition func(cur runtime.Object) error) (runtime.Object, error)
	// List with namespace "" lists every namespace.
	List(ctx context.Context, namespace string, opts ListOptions) (*ListResult, error)
	Watch(ctx context.Context, namespace string, opts WatchOptions) (watch.Interface, error)
}
