package validation

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nameFunc checks an object's name; it returns one message per problem.
type nameFunc = apivalidation.ValidateNameFunc

// kind holds the validation rules of one Go type. Only namespaced and name
// are required; a nil func means "nothing beyond metadata".
type kind struct {
	namespaced bool
	name       nameFunc
	// create validates everything but metadata; it also runs on updates.
	create func(obj runtime.Object) field.ErrorList
	// update validates what may change between old and obj.
	update func(obj, old runtime.Object) field.ErrorList
	// status validates a status write.
	status func(obj, old runtime.Object) field.ErrorList
}

// rules is the registry of kinds, keyed by Go type; filled by register in
// each kind's file.
var rules = map[reflect.Type]kind{}

// typedRules is kind with its funcs typed for one Go type.
type typedRules[T runtime.Object] struct {
	namespaced bool
	name       nameFunc
	create     func(obj T) field.ErrorList
	update     func(obj, old T) field.ErrorList
	status     func(obj, old T) field.ErrorList
}

// register adds the rules for T. It panics on a duplicate: registration
// happens at init time and a duplicate is a programming error.
func register[T runtime.Object](r typedRules[T]) {
	var zero T
	t := reflect.TypeOf(zero)
	if _, dup := rules[t]; dup {
		panic(fmt.Sprintf("validation: %v registered twice", t))
	}
	k := kind{namespaced: r.namespaced, name: r.name}
	if r.create != nil {
		k.create = func(obj runtime.Object) field.ErrorList { return r.create(obj.(T)) }
	}
	if r.update != nil {
		k.update = func(obj, old runtime.Object) field.ErrorList { return r.update(obj.(T), old.(T)) }
	}
	if r.status != nil {
		k.status = func(obj, old runtime.Object) field.ErrorList { return r.status(obj.(T), old.(T)) }
	}
	rules[t] = k
}

var metadataPath = field.NewPath("metadata")

// lookup returns the rules for obj's type, or metadata-only rules for an
// unknown type.
func lookup(obj runtime.Object) kind {
	if k, ok := rules[reflect.TypeOf(obj)]; ok {
		return k
	}
	k := kind{name: apivalidation.NameIsDNSSubdomain}
	if m, err := meta.Accessor(obj); err == nil {
		k.namespaced = m.GetNamespace() != ""
	}
	return k
}

// ValidateCreate validates a new object. Name generation must already have
// happened.
func ValidateCreate(obj runtime.Object) field.ErrorList {
	k := lookup(obj)
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	errs := validateObjectMeta(m, k)
	if k.create != nil {
		errs = append(errs, k.create(obj)...)
	}
	return errs
}

// ValidateUpdate validates obj as a replacement for old: every create check
// on obj, metadata immutability, and the kind's rules about what may change.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	if errs := sameType(obj, old); errs != nil {
		return errs
	}
	errs := ValidateCreate(obj)
	errs = append(errs, validateMetaImmutable(obj, old)...)
	if k := lookup(obj); k.update != nil {
		errs = append(errs, k.update(obj, old)...)
	}
	return errs
}

// ValidateStatusUpdate validates a write to the status subresource: the
// metadata update rules plus the kind's status rules.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	if errs := sameType(obj, old); errs != nil {
		return errs
	}
	errs := validateMetaUpdate(obj, old)
	if k := lookup(obj); k.status != nil {
		errs = append(errs, k.status(obj, old)...)
	}
	return errs
}

func sameType(obj, old runtime.Object) field.ErrorList {
	if reflect.TypeOf(obj) != reflect.TypeOf(old) {
		return field.ErrorList{field.InternalError(field.NewPath("kind"), fmt.Errorf("cannot update %T with %T", old, obj))}
	}
	return nil
}

func validateObjectMeta(m metav1.Object, k kind) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessor(m, k.namespaced, k.name, metadataPath)
	errs = append(errs, validateFinalizerNames(m.GetFinalizers(), metadataPath.Child("finalizers"))...)
	return errs
}

// validateMetaUpdate is the metadata check of a status write: what may
// not change, plus the validity of what may.
func validateMetaUpdate(obj, old runtime.Object) field.ErrorList {
	errs := validateMetaImmutable(obj, old)
	m, err := meta.Accessor(obj)
	if err != nil {
		return errs
	}
	errs = append(errs, metav1validation.ValidateLabels(m.GetLabels(), metadataPath.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), metadataPath.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(m.GetOwnerReferences(), metadataPath.Child("ownerReferences"))...)
	errs = append(errs, apivalidation.ValidateFinalizers(m.GetFinalizers(), metadataPath.Child("finalizers"))...)
	errs = append(errs, validateFinalizerNames(m.GetFinalizers(), metadataPath.Child("finalizers"))...)
	return errs
}

// validateMetaImmutable is the part of the metadata update rules that the
// create checks on the new object do not already cover. Unlike upstream's
// ValidateObjectMetaUpdate it does not require metadata.resourceVersion:
// preconditions are the storage layer's business, and an unconditional
// update legitimately arrives without one.
func validateMetaImmutable(obj, old runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	om, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	var errs field.ErrorList
	if om.GetDeletionTimestamp() != nil {
		errs = append(errs, apivalidation.ValidateNoNewFinalizers(m.GetFinalizers(), om.GetFinalizers(), metadataPath.Child("finalizers"))...)
	}
	if m.GetGeneration() < om.GetGeneration() {
		errs = append(errs, field.Invalid(metadataPath.Child("generation"), m.GetGeneration(), "must not be decremented"))
	}
	errs = append(errs, immutable(m.GetName(), om.GetName(), metadataPath.Child("name"))...)
	errs = append(errs, immutable(m.GetNamespace(), om.GetNamespace(), metadataPath.Child("namespace"))...)
	errs = append(errs, immutable(m.GetUID(), om.GetUID(), metadataPath.Child("uid"))...)
	errs = append(errs, immutable(m.GetCreationTimestamp(), om.GetCreationTimestamp(), metadataPath.Child("creationTimestamp"))...)
	errs = append(errs, immutable(m.GetDeletionTimestamp(), om.GetDeletionTimestamp(), metadataPath.Child("deletionTimestamp"))...)
	errs = append(errs, immutable(m.GetDeletionGracePeriodSeconds(), om.GetDeletionGracePeriodSeconds(), metadataPath.Child("deletionGracePeriodSeconds"))...)
	return errs
}

// standardFinalizers may be used without a domain prefix.
var standardFinalizers = map[string]bool{
	"kubernetes":                     true,
	metav1.FinalizerOrphanDependents: true,
	metav1.FinalizerDeleteDependents: true,
}

// validateFinalizerNames adds the core API's rule to apimachinery's: a
// finalizer that is not one of the standard ones must be domain-qualified.
func validateFinalizerNames(finalizers []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range finalizers {
		if len(apivalidation.ValidateFinalizerName(f, p)) != 0 {
			continue // already reported by the metadata checks
		}
		if !standardFinalizers[f] && !hasDomain(f) {
			errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

func hasDomain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return i > 0
		}
	}
	return false
}
