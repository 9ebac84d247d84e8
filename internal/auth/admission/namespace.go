package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceLifecycle refuses content in namespaces that do not exist or are
// terminating, and refuses deleting the system namespaces.
//
// Without Namespaces it only guards the system namespaces.
type NamespaceLifecycle struct {
	Namespaces NamespaceGetter
}

var _ Mutator = (*NamespaceLifecycle)(nil)

// immortalNamespaces may never be deleted.
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true,
	metav1.NamespaceSystem:  true,
	metav1.NamespacePublic:  true,
}

// accessReviews never reveal whether their namespace exists.
var accessReviews = map[string]bool{
	"localsubjectaccessreviews": true,
}

func (*NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

func (p *NamespaceLifecycle) Admit(ctx context.Context, req *Request) error {
	a := req.Attributes
	isNamespace := req.is("", "namespaces", "")
	if isNamespace {
		if req.Operation == Delete && immortalNamespaces[a.Name] {
			return apierrors.NewForbidden(req.GroupResource(), a.Name, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil
	}
	if a.Namespace == "" || req.Operation == Delete || accessReviews[a.Resource] || p.Namespaces == nil {
		return nil
	}
	ns, err := p.Namespaces.GetNamespace(ctx, a.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), a.Namespace)
	}
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if req.Operation != Create || ns.Status.Phase != corev1.NamespaceTerminating {
		return nil
	}
	err = forbidden(req, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	if se, ok := err.(*apierrors.StatusError); ok && se.ErrStatus.Details != nil {
		se.ErrStatus.Details.Causes = append(se.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", a.Namespace),
			Field:   "metadata.namespace",
		})
	}
	return err
}
