package apiserver

import (
	"fmt"
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-sh/skiff/internal/resources"
	"github.com/skiff-sh/skiff/internal/resources/defaults"
	"github.com/skiff-sh/skiff/internal/storage"
)

// resource is one served resource in one group version.
type resource struct {
	info resources.Info
	// store holds the objects, in the storage version.
	store storage.Resource
	// listGVK is the kind of the collection ("ConfigMapList").
	listGVK schema.GroupVersionKind
	// conv translates between the served and the storage version; nil when
	// they are the same.
	conv *conversion
	// hasSpec is true for kinds whose spec changes bump metadata.generation.
	hasSpec bool

	fmOnce sync.Once
	fmErr  error
	// fieldManagers by subresource ("" and "status"), built on first use
	// because the schema behind them is large.
	fieldManagers map[string]*managedfields.FieldManager
}

// conversion turns objects of the storage version into the served version
// and back.
type conversion struct {
	toServed  func(runtime.Object) (runtime.Object, error)
	toStorage func(runtime.Object) (runtime.Object, error)
}

func newResource(info resources.Info, store storage.Resource) (*resource, error) {
	obj, err := scheme.Scheme.New(info.GVK)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", info.GVR(), err)
	}
	r := &resource{
		info:    info,
		store:   store,
		listGVK: info.GVK.GroupVersion().WithKind(info.GVK.Kind + "List"),
		conv:    conversions[info.GVK],
	}
	if v := reflect.ValueOf(obj).Elem(); v.FieldByName("Spec").IsValid() {
		r.hasSpec = true
	}
	return r, nil
}

// gk is the resource's group and kind, as errors name it.
func (r *resource) gk() schema.GroupKind { return r.info.GVK.GroupKind() }

// gr is the resource's group and resource, as errors name it.
func (r *resource) gr() schema.GroupResource { return r.info.GroupResource() }

// newObject returns an empty object of the served kind with TypeMeta set.
func (r *resource) newObject() runtime.Object {
	obj, _ := scheme.Scheme.New(r.info.GVK)
	obj.GetObjectKind().SetGroupVersionKind(r.info.GVK)
	return obj
}

// served converts a stored object to the served version. The result may be
// the argument itself, which then stays read-only for the caller.
func (r *resource) served(obj runtime.Object) (runtime.Object, error) {
	if r.conv == nil || obj == nil {
		return obj, nil
	}
	return r.conv.toServed(obj)
}

// stored converts a served object to the storage version.
func (r *resource) stored(obj runtime.Object) (runtime.Object, error) {
	if r.conv == nil || obj == nil {
		return obj, nil
	}
	return r.conv.toStorage(obj)
}

var (
	typeConverterOnce sync.Once
	typeConverter     managedfields.TypeConverter
)

// fieldManager returns the field manager of a subresource ("" or "status").
func (r *resource) fieldManager(sub string) (*managedfields.FieldManager, error) {
	r.fmOnce.Do(func() {
		typeConverterOnce.Do(func() {
			typeConverter = applyconfigurations.NewTypeConverter(scheme.Scheme)
		})
		r.fieldManagers = map[string]*managedfields.FieldManager{}
		gvk := r.info.GVK
		apiVersion := fieldpath.APIVersion(gvk.GroupVersion().String())
		statusSet := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
		specSet := fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
		subs := map[string]map[fieldpath.APIVersion]fieldpath.Filter{"": nil}
		if r.info.Has("status") {
			// The main resource ignores status; the status subresource
			// ignores spec (upstream's reset fields).
			subs[""] = map[fieldpath.APIVersion]fieldpath.Filter{apiVersion: fieldpath.NewExcludeSetFilter(statusSet)}
			subs["status"] = map[fieldpath.APIVersion]fieldpath.Filter{apiVersion: fieldpath.NewExcludeSetFilter(specSet)}
		}
		for sub, reset := range subs {
			fm, err := managedfields.NewDefaultFieldManager(typeConverter, scheme.Scheme, defaulter{}, scheme.Scheme, gvk, gvk.GroupVersion(), sub, reset)
			if err != nil {
				r.fmErr = err
				return
			}
			r.fieldManagers[sub] = fm
		}
	})
	if r.fmErr != nil {
		return nil, r.fmErr
	}
	fm := r.fieldManagers[sub]
	if fm == nil {
		fm = r.fieldManagers[""]
	}
	return fm, nil
}

// defaulter applies upstream defaulting for the field manager, which
// defaults applied configurations before merging them.
type defaulter struct{}

func (defaulter) Default(obj runtime.Object) { defaults.Default(obj) }

var _ runtime.ObjectDefaulter = defaulter{}

// objectMeta returns the ObjectMeta of a built-in object.
func objectMeta(obj runtime.Object) *metav1.ObjectMeta {
	return obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
}
