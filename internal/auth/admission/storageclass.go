package admission

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Annotations that mark the default StorageClass, and the legacy PVC class
// annotation.
const (
	IsDefaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	BetaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
	BetaStorageClassAnnotation          = "volume.beta.kubernetes.io/storage-class"
)

// DefaultStorageClass gives new PersistentVolumeClaims without a class the
// default StorageClass (the newest, then first by name, if several are
// marked). Without StorageClasses it does nothing.
type DefaultStorageClass struct {
	StorageClasses StorageClassLister
}

var _ Mutator = (*DefaultStorageClass)(nil)

func (*DefaultStorageClass) Name() string { return "DefaultStorageClass" }

func (p *DefaultStorageClass) Admit(ctx context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "persistentvolumeclaims", "") || p.StorageClasses == nil {
		return nil
	}
	pvc, ok := req.Object.(*corev1.PersistentVolumeClaim)
	if !ok {
		return unexpectedType(req.Object)
	}
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[BetaStorageClassAnnotation]; ok {
		return nil
	}
	classes, err := p.StorageClasses.ListStorageClasses(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if def := DefaultClass(classes); def != nil {
		name := def.Name
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

// DefaultClass picks the default among classes, nil if none is marked.
func DefaultClass(classes []storagev1.StorageClass) *storagev1.StorageClass {
	var defs []*storagev1.StorageClass
	for i := range classes {
		c := &classes[i]
		if c.Annotations[IsDefaultStorageClassAnnotation] == "true" || c.Annotations[BetaIsDefaultStorageClassAnnotation] == "true" {
			defs = append(defs, c)
		}
	}
	if len(defs) == 0 {
		return nil
	}
	sort.Slice(defs, func(i, j int) bool {
		ti, tj := defs[i].CreationTimestamp.UnixNano(), defs[j].CreationTimestamp.UnixNano()
		if ti != tj {
			return ti > tj
		}
		return defs[i].Name < defs[j].Name
	})
	return defs[0]
}
