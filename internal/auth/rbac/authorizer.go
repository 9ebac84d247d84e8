package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// RuleSource is where the authorizer reads policy. Implementations must be
// safe for concurrent use.
//
// Get methods return an error satisfying apierrors.IsNotFound for a missing
// object. Returned objects belong to the source: callers never modify them.
// List methods return every object in scope, in any order; an error means
// the list could not be read at all.
type RuleSource interface {
	GetRole(namespace, name string) (*rbacv1.Role, error)
	GetClusterRole(name string) (*rbacv1.ClusterRole, error)
	ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error)
	ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error)
}

// Authorizer is the RBAC authorizer. Create it with New.
type Authorizer struct {
	source RuleSource
}

var _ auth.Authorizer = (*Authorizer)(nil)

// New returns an authorizer reading policy from source.
func New(source RuleSource) *Authorizer {
	return &Authorizer{source: source}
}

// Authorize allows a when a rule bound to a.User grants it, with a reason
// naming the binding, role and subject:
//
//	RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"
//	RBAC: allowed by RoleBinding "x/ns" of Role "y" to ServiceAccount "sa/ns"
//
// Otherwise it returns auth.NoOpinion; the reason is empty unless some
// policy could not be read, in which case it lists those errors
// ("RBAC: clusterrole.rbac.authorization.k8s.io \"y\" not found"). err is
// always nil: unreadable policy narrows what is allowed, it never fails
// the request by itself.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.User == nil {
		return auth.NoOpinion, "", nil
	}
	var allowedBy string
	errs := z.visit(a.User, a.Namespace, func(src source, rule *rbacv1.PolicyRule) bool {
		if RuleAllows(a, rule) {
			allowedBy = src.String()
			return false
		}
		return true
	})
	if allowedBy != "" {
		return auth.Allow, "RBAC: allowed by " + allowedBy, nil
	}
	if len(errs) > 0 {
		return auth.NoOpinion, "RBAC: " + joinErrors(errs), nil
	}
	return auth.NoOpinion, "", nil
}

// RulesFor returns every rule granted to u in namespace: those of the
// ClusterRoleBindings naming u and, when namespace is not empty, those of
// the RoleBindings in namespace naming u. incomplete is true when some
// policy could not be read; err then describes it and rules holds what
// could be read. The rules are copies.
func (z *Authorizer) RulesFor(u *auth.User, namespace string) (rules []rbacv1.PolicyRule, incomplete bool, err error) {
	if u == nil {
		return nil, false, nil
	}
	errs := z.visit(u, namespace, func(_ source, rule *rbacv1.PolicyRule) bool {
		rules = append(rules, *rule.DeepCopy())
		return true
	})
	if len(errs) > 0 {
		return rules, true, errors.New(joinErrors(errs))
	}
	return rules, false, nil
}

// SubjectRules splits rules into the shapes of a SelfSubjectRulesReview
// status: rules with resources become ResourceRules, rules with
// nonResourceURLs become NonResourceRules.
func SubjectRules(rules []rbacv1.PolicyRule) ([]authorizationv1.ResourceRule, []authorizationv1.NonResourceRule) {
	var res []authorizationv1.ResourceRule
	var nonRes []authorizationv1.NonResourceRule
	for _, r := range rules {
		if len(r.Resources) > 0 {
			res = append(res, authorizationv1.ResourceRule{
				Verbs:         append([]string(nil), r.Verbs...),
				APIGroups:     append([]string(nil), r.APIGroups...),
				Resources:     append([]string(nil), r.Resources...),
				ResourceNames: append([]string(nil), r.ResourceNames...),
			})
		}
		if len(r.NonResourceURLs) > 0 {
			nonRes = append(nonRes, authorizationv1.NonResourceRule{
				Verbs:           append([]string(nil), r.Verbs...),
				NonResourceURLs: append([]string(nil), r.NonResourceURLs...),
			})
		}
	}
	return res, nonRes
}

// RoleRefRules returns the rules of the role ref points at, as a binding
// in namespace sees them ("" for a ClusterRoleBinding). The rules belong to
// the source; do not modify them.
func (z *Authorizer) RoleRefRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		if namespace == "" {
			return nil, fmt.Errorf("rbac: Role %q referenced outside a namespace", ref.Name)
		}
		r, err := z.source.GetRole(namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "ClusterRole":
		r, err := z.source.GetClusterRole(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("rbac: unsupported role reference kind %q", ref.Kind)
}

// visit calls fn for every rule reachable from u in namespace, cluster-wide
// bindings first, until fn returns false. It returns the errors met on the
// way; they do not stop the walk.
func (z *Authorizer) visit(u *auth.User, namespace string, fn func(source, *rbacv1.PolicyRule) bool) []error {
	var errs []error
	crbs, err := z.source.ListClusterRoleBindings()
	if err != nil {
		errs = append(errs, err)
	}
	for _, b := range crbs {
		i := appliesTo(u, b.Subjects, "")
		if i < 0 {
			continue
		}
		rules, err := z.RoleRefRules(b.RoleRef, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src := source{kind: "ClusterRoleBinding", name: b.Name, ref: b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !fn(src, &rules[j]) {
				return errs
			}
		}
	}
	if namespace == "" {
		return errs
	}
	rbs, err := z.source.ListRoleBindings(namespace)
	if err != nil {
		errs = append(errs, err)
	}
	for _, b := range rbs {
		i := appliesTo(u, b.Subjects, namespace)
		if i < 0 {
			continue
		}
		rules, err := z.RoleRefRules(b.RoleRef, namespace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src := source{kind: "RoleBinding", name: b.Name, namespace: namespace, ref: b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !fn(src, &rules[j]) {
				return errs
			}
		}
	}
	return errs
}

// source describes the binding a rule came from, for reasons.
type source struct {
	kind      string // ClusterRoleBinding or RoleBinding
	name      string
	namespace string // of a RoleBinding
	ref       rbacv1.RoleRef
	subject   *rbacv1.Subject
}

func (s source) String() string {
	name := s.name
	if s.namespace != "" {
		name += "/" + s.namespace
	}
	subj := s.subject.Name
	if s.subject.Kind == rbacv1.ServiceAccountKind {
		ns := s.subject.Namespace
		if ns == "" {
			ns = s.namespace
		}
		subj += "/" + ns
	}
	return fmt.Sprintf("%s %q of %s %q to %s %q", s.kind, name, s.ref.Kind, s.ref.Name, s.subject.Kind, subj)
}

// joinErrors formats errors as upstream's aggregate does: one error alone,
// several in brackets separated by ", ".
func joinErrors(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}
