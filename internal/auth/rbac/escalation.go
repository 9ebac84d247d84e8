package rbac

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// fullAuthority is what a user must hold to set a ClusterRole's
// aggregationRule, which can gather any permission in the cluster.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// EscalationAllowed reports whether u may write any RBAC object without
// checks: members of system:masters may.
func EscalationAllowed(u *auth.User) bool {
	if u == nil {
		return false
	}
	for _, g := range u.Groups {
		if g == auth.SystemPrivileged {
			return true
		}
	}
	return false
}

// ConfirmNoEscalation returns nil when u already holds every rule in rules
// within namespace ("" for cluster-wide grants), or when u is in
// system:masters. Otherwise it returns an error listing the missing
// permissions in upstream's words:
//
//	user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//	{APIGroups:["apps"], Resources:["deployments"], Verbs:["create" "delete"]}
//
// Policy that could not be read is appended as "; resolution errors: ...".
// Callers wrap the error in a Forbidden status (see Guard).
func (z *Authorizer) ConfirmNoEscalation(u *auth.User, namespace string, rules []rbacv1.PolicyRule) error {
	if EscalationAllowed(u) {
		return nil
	}
	if u == nil {
		return errors.New("no user on request")
	}
	owned, _, resErr := z.RulesFor(u, namespace)
	ok, missing := Covers(owned, rules)
	if ok {
		return nil
	}
	descs := map[string]bool{}
	for _, r := range compactRules(missing) {
		descs[CompactString(r)] = true
	}
	lines := make([]string, 0, len(descs))
	for d := range descs {
		lines = append(lines, d)
	}
	sort.Strings(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, strings.Join(lines, "\n"))
	if resErr != nil {
		msg += fmt.Sprintf("; resolution errors: [%v]", resErr)
	}
	return errors.New(msg)
}

// Covers reports whether owner rules grant everything the servant rules
// grant; when not, missing lists the uncovered permissions broken down to
// one verb, group, resource and name (or URL) each.
func Covers(owner, servant []rbacv1.PolicyRule) (ok bool, missing []rbacv1.PolicyRule) {
	for _, s := range servant {
		for _, atom := range breakdown(s) {
			covered := false
			for i := range owner {
				if ruleCovers(&owner[i], &atom) {
					covered = true
					break
				}
			}
			if !covered {
				missing = append(missing, atom)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdown splits a rule into rules of one verb and one group, resource
// and resource name, or one verb and one non-resource URL.
func breakdown(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if len(r.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}})
					continue
				}
				for _, n := range r.ResourceNames {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, ResourceNames: []string{n}, Verbs: []string{v}})
				}
			}
		}
	}
	for _, u := range r.NonResourceURLs {
		for _, v := range r.Verbs {
			out = append(out, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{v}})
		}
	}
	return out
}

// ruleCovers reports whether owner grants everything sub grants.
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	verbs := has(owner.Verbs, rbacv1.VerbAll) || hasAll(owner.Verbs, sub.Verbs)
	groups := has(owner.APIGroups, rbacv1.APIGroupAll) || hasAll(owner.APIGroups, sub.APIGroups)
	names := len(owner.ResourceNames) == 0 || (len(sub.ResourceNames) > 0 && hasAll(owner.ResourceNames, sub.ResourceNames))
	return verbs && groups && names &&
		resourcesCover(owner.Resources, sub.Resources) &&
		urlsCover(owner.NonResourceURLs, sub.NonResourceURLs)
}

// resourcesCover reports whether set covers every resource in want: "*",
// an exact entry, or "*/sub" for a subresource.
func resourcesCover(set, want []string) bool {
	if has(set, rbacv1.ResourceAll) {
		return true
	}
	for _, w := range want {
		if has(set, w) {
			continue
		}
		_, sub, ok := strings.Cut(w, "/")
		if !ok || !has(set, "*/"+sub) {
			return false
		}
	}
	return true
}

func urlsCover(set, want []string) bool {
	for _, w := range want {
		covered := false
		for _, s := range set {
			if urlCovers(s, w) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

func has(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func hasAll(set, want []string) bool {
	for _, w := range want {
		if !has(set, w) {
			return false
		}
	}
	return true
}

// compactRules merges rules that differ only in verb: rules with one
// group, one resource and no names or URLs are combined per
// (group, resource), keeping first-seen order. Other rules pass through.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource string }
	idx := map[key]int{}
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		simple := len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) == 0 && len(r.NonResourceURLs) == 0
		if !simple {
			out = append(out, *r.DeepCopy())
			continue
		}
		k := key{r.APIGroups[0], r.Resources[0]}
		if i, ok := idx[k]; ok {
			for _, v := range r.Verbs {
				if !has(out[i].Verbs, v) {
					out[i].Verbs = append(out[i].Verbs, v)
				}
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// CompactString renders a rule as upstream does in escalation messages:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}, leaving
// out empty fields.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

// Guard runs the checks the API server makes before it stores a Role,
// ClusterRole, RoleBinding or ClusterRoleBinding written by a user
// (create, update and patch; delete is not checked). Each Check method
// returns nil when the write may proceed, or an apierrors Forbidden status
// (403) to return to the client as is; a binding to a role that does not
// exist yields that role's NotFound error, as upstream.
//
// Call the check after decoding, admission mutation and defaulting and
// before validation-then-storage, passing the object about to be stored
// and, for updates and patches, the stored object it replaces (nil on
// create). The user is the authenticated requester (not an impersonated
// one's real user: the impersonated identity, as for every other check).
type Guard struct {
	// Authz is the server's whole authorizer chain (node, RBAC, ...); it
	// answers the "escalate" and "bind" verb checks.
	Authz auth.Authorizer
	// RBAC resolves the rules the user holds and the rules a binding
	// references.
	RBAC *Authorizer
}

var (
	rolesResource               = schema.GroupResource{Group: rbacv1.GroupName, Resource: "roles"}
	clusterRolesResource        = schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterroles"}
	roleBindingsResource        = schema.GroupResource{Group: rbacv1.GroupName, Resource: "rolebindings"}
	clusterRoleBindingsResource = schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrolebindings"}
)

// CheckRole checks a Role write: allowed for system:masters, for a user
// with verb "escalate" on roles (the role's name, in its namespace), when
// only ownerReferences or finalizers change, or when the user already
// holds every rule of the role in its namespace.
func (g *Guard) CheckRole(ctx context.Context, u *auth.User, role, old *rbacv1.Role) error {
	if old != nil && onlyGCFieldsChanged(role, old) {
		return nil
	}
	if EscalationAllowed(u) || g.allowed(ctx, u, "escalate", "roles", role.Namespace, role.Name) {
		return nil
	}
	if err := g.RBAC.ConfirmNoEscalation(u, role.Namespace, role.Rules); err != nil {
		return apierrors.NewForbidden(rolesResource, role.Name, err)
	}
	return nil
}

// CheckClusterRole checks a ClusterRole write like CheckRole, cluster-wide
// and with "escalate" on clusterroles. In addition, a user without
// "escalate" who sets an aggregationRule must hold every permission
// (cluster-admin), since aggregation can gather anything.
func (g *Guard) CheckClusterRole(ctx context.Context, u *auth.User, role, old *rbacv1.ClusterRole) error {
	if old != nil && onlyGCFieldsChanged(role, old) {
		return nil
	}
	if EscalationAllowed(u) || g.allowed(ctx, u, "escalate", "clusterroles", "", role.Name) {
		return nil
	}
	if err := g.RBAC.ConfirmNoEscalation(u, "", role.Rules); err != nil {
		return apierrors.NewForbidden(clusterRolesResource, role.Name, err)
	}
	if role.AggregationRule != nil && len(role.AggregationRule.ClusterRoleSelectors) > 0 {
		if err := g.RBAC.ConfirmNoEscalation(u, "", fullAuthority); err != nil {
			return apierrors.NewForbidden(clusterRolesResource, role.Name,
				errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

// CheckRoleBinding checks a RoleBinding write: allowed for system:masters,
// when only ownerReferences or finalizers change, for a user with verb
// "bind" on the referenced role (resource roles or clusterroles, named
// roleRef.name, in the binding's namespace), or when the user already
// holds every rule of the referenced role in the binding's namespace.
func (g *Guard) CheckRoleBinding(ctx context.Context, u *auth.User, b, old *rbacv1.RoleBinding) error {
	if old != nil && onlyGCFieldsChanged(b, old) {
		return nil
	}
	return g.checkBinding(ctx, u, roleBindingsResource, b.Name, b.Namespace, b.RoleRef)
}

// CheckClusterRoleBinding checks a ClusterRoleBinding write like
// CheckRoleBinding, cluster-wide.
func (g *Guard) CheckClusterRoleBinding(ctx context.Context, u *auth.User, b, old *rbacv1.ClusterRoleBinding) error {
	if old != nil && onlyGCFieldsChanged(b, old) {
		return nil
	}
	return g.checkBinding(ctx, u, clusterRoleBindingsResource, b.Name, "", b.RoleRef)
}

func (g *Guard) checkBinding(ctx context.Context, u *auth.User, gr schema.GroupResource, name, namespace string, ref rbacv1.RoleRef) error {
	if EscalationAllowed(u) {
		return nil
	}
	resource := "clusterroles"
	if ref.Kind == "Role" {
		resource = "roles"
	}
	if g.allowed(ctx, u, "bind", resource, namespace, ref.Name) {
		return nil
	}
	rules, err := g.RBAC.RoleRefRules(ref, namespace)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		return apierrors.NewForbidden(gr, name, err)
	}
	if err := g.RBAC.ConfirmNoEscalation(u, namespace, rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	return nil
}

// allowed asks the authorizer chain whether u may perform verb on the named
// RBAC resource.
func (g *Guard) allowed(ctx context.Context, u *auth.User, verb, resource, namespace, name string) bool {
	if g.Authz == nil || u == nil {
		return false
	}
	d, _, err := g.Authz.Authorize(ctx, auth.Attributes{
		User:            u,
		Verb:            verb,
		ResourceRequest: true,
		APIGroup:        rbacv1.GroupName,
		APIVersion:      "v1",
		Resource:        resource,
		Namespace:       namespace,
		Name:            name,
	})
	return err == nil && d == auth.Allow
}

// onlyGCFieldsChanged reports whether obj and old differ at most in the
// fields the garbage collector and field management write
// (ownerReferences, finalizers, managedFields), which need no escalation
// check.
func onlyGCFieldsChanged[T interface {
	DeepCopy() T
	metav1.Object
}](obj, old T) bool {
	c := obj.DeepCopy()
	c.SetOwnerReferences(old.GetOwnerReferences())
	c.SetFinalizers(old.GetFinalizers())
	c.SetManagedFields(old.GetManagedFields())
	return equality.Semantic.DeepEqual(c, old)
}
