package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// RuleAllows reports whether rule grants the request a.
//
// Resource requests match on verb, API group, resource and resource name.
// The resource is compared as "resource" or, for subresources,
// "resource/subresource"; a rule resource "*" matches everything and
// "*/sub" matches subresource sub of any resource. A rule with
// resourceNames matches only requests naming one of them, so it never
// matches list, watch, create or deletecollection of the whole collection.
//
// Non-resource requests match on verb and path; a rule URL ending in "*"
// matches every path with the part before the "*" as prefix.
func RuleAllows(a auth.Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return nonResourceURLMatches(rule, a.Path)
	}
	combined := a.Resource
	if a.Subresource != "" {
		combined = a.Resource + "/" + a.Subresource
	}
	return apiGroupMatches(rule, a.APIGroup) &&
		resourceMatches(rule, combined, a.Subresource) &&
		resourceNameMatches(rule, a.Name)
}

// RulesAllow reports whether any of rules grants the request a.
func RulesAllow(a auth.Attributes, rules ...rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(a, &rules[i]) {
			return true
		}
	}
	return false
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	for _, v := range rule.Verbs {
		if v == rbacv1.VerbAll || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	for _, g := range rule.APIGroups {
		if g == rbacv1.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == rbacv1.ResourceAll, r == combined:
			return true
		case subresource != "" && r == "*/"+subresource:
			return true
		}
	}
	return false
}

func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == name {
			return true
		}
	}
	return false
}

func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if urlCovers(u, path) {
			return true
		}
	}
	return false
}

// urlCovers reports whether the rule URL pattern covers path: equal, "*",
// or a prefix pattern ending in "*".
func urlCovers(pattern, path string) bool {
	if pattern == rbacv1.NonResourceAll || pattern == path {
		return true
	}
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasPrefix(path, prefix)
}

// ServiceAccountUsername is the user name a service account authenticates
// as: "system:serviceaccount:NAMESPACE:NAME".
func ServiceAccountUsername(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// appliesTo returns the index of the first subject that names u, or -1.
// namespace is the binding's namespace ("" for ClusterRoleBindings); it is
// the default namespace of ServiceAccount subjects that leave theirs empty.
//
// ServiceAccount subjects match on the service account's user name only;
// the groups system:serviceaccounts and system:serviceaccounts:NS are
// ordinary Group subjects that the authenticator puts on the user.
func appliesTo(u *auth.User, subjects []rbacv1.Subject, namespace string) int {
	for i := range subjects {
		if subjectMatches(u, &subjects[i], namespace) {
			return i
		}
	}
	return -1
}

func subjectMatches(u *auth.User, s *rbacv1.Subject, namespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.Name == s.Name
	case rbacv1.GroupKind:
		for _, g := range u.Groups {
			if g == s.Name {
				return true
			}
		}
		return false
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		if ns == "" {
			return false
		}
		return u.Name == ServiceAccountUsername(ns, s.Name)
	}
	return false
}
