// Package rbac is Skiff's role-based access control: the authorizer that
// evaluates Roles, ClusterRoles and their bindings with upstream Kubernetes
// semantics, the rule resolution behind SelfSubjectRulesReview, the
// escalation checks the API server runs when RBAC objects are written,
// ClusterRole aggregation, and the default bootstrap policy as data.
//
// # Reading policy
//
// The package reads policy only through RuleSource, which the API server
// backs with its watch cache and tests back with MemorySource. Nothing is
// cached here: every decision reads the source afresh, so a binding written
// a moment ago counts as soon as the source sees it.
//
// # Evaluation
//
// A request is allowed when any rule reachable from the user is allowed:
// first the rules of every ClusterRoleBinding whose subjects include the
// user, then, for namespaced requests, the rules of every RoleBinding in the
// request's namespace (a RoleBinding to a ClusterRole grants that role's
// rules in the binding's namespace only). RBAC never denies: when no rule
// matches, Authorize returns auth.NoOpinion so a later authorizer may decide.
//
// # Concurrency
//
// Authorizer and MemorySource are safe for concurrent use. Functions
// returning rules return copies the caller may keep and modify.
package rbac
