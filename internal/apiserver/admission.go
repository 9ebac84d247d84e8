package apiserver

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
)

// admissionFor describes a write for the admission chain. old is nil on
// create; obj is nil on delete.
func admissionFor(ctx context.Context, res *resource, sub, namespace, name, op string, obj, old runtime.Object, dryRun bool) *admission.Request {
	return &admission.Request{
		Attributes: auth.Attributes{
			User: auth.UserFrom(ctx), Verb: map[string]string{admission.Create: "create", admission.Update: "update", admission.Delete: "delete"}[op],
			ResourceRequest: true, Namespace: namespace, Name: name,
			APIGroup: res.info.GVK.Group, APIVersion: res.info.GVK.Version, Resource: res.info.Resource, Subresource: sub,
		},
		Operation: op, Object: obj, OldObject: old, DryRun: dryRun,
	}
}

// mutate runs the mutating admission phase (after defaulting, before
// validation).
func (s *APIServer) mutate(ctx context.Context, req *admission.Request) error {
	if s.cfg.Admission == nil {
		return nil
	}
	return s.cfg.Admission.Admit(ctx, req)
}

// validateAdmission runs the validating admission phase and the RBAC
// escalation checks (after validation, before storage); it collects the
// request's warnings into opts.
func (s *APIServer) validateAdmission(ctx context.Context, req *admission.Request, opts writeOptions) error {
	if s.cfg.Admission != nil {
		if err := s.cfg.Admission.Validate(ctx, req); err != nil {
			return err
		}
		if opts.warnings != nil {
			*opts.warnings = append(*opts.warnings, req.Warnings...)
		}
	}
	return checkEscalation(ctx, s.cfg.RBACGuard, req)
}

// checkEscalation refuses role and binding writes that would grant more
// than the writer holds, as upstream's RBAC storage does.
func checkEscalation(ctx context.Context, g *rbac.Guard, req *admission.Request) error {
	if g == nil || req.Object == nil || req.Attributes.Subresource != "" {
		return nil
	}
	u := req.Attributes.User
	if u == nil {
		return nil
	}
	switch o := req.Object.(type) {
	case *rbacv1.Role:
		old, _ := req.OldObject.(*rbacv1.Role)
		return g.CheckRole(ctx, u, o, old)
	case *rbacv1.ClusterRole:
		old, _ := req.OldObject.(*rbacv1.ClusterRole)
		return g.CheckClusterRole(ctx, u, o, old)
	case *rbacv1.RoleBinding:
		old, _ := req.OldObject.(*rbacv1.RoleBinding)
		return g.CheckRoleBinding(ctx, u, o, old)
	case *rbacv1.ClusterRoleBinding:
		old, _ := req.OldObject.(*rbacv1.ClusterRoleBinding)
		return g.CheckClusterRoleBinding(ctx, u, o, old)
	}
	return nil
}
