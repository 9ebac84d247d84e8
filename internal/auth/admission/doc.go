// Package admission is Skiff's built-in admission chain: the plugins that
// default, mutate and police objects between decoding and storage, in
// upstream's order:
//
//	NamespaceLifecycle, LimitRanger, ServiceAccount, NodeRestriction,
//	TaintNodesByCondition, PodSecurity, Priority, DefaultTolerationSeconds,
//	DefaultStorageClass, ResourceQuota.
//
// The API server builds one Chain with NewChain at start and, for every
// create, update, delete (and connect) request, calls
//
//	chain.Admit(ctx, req)    // mutating phase: after decode + defaulting, before validation
//	chain.Validate(ctx, req) // validating phase: after validation, before the write
//
// A plugin may implement Mutator, Validator or both; the chain runs every
// mutator in order in Admit and every validator in order in Validate, and
// stops at the first error. Errors are apierrors.StatusError values with
// upstream's reason, code and message, ready to be written to the client.
//
// Plugins read the cluster only through the small lookup interfaces in Deps,
// which the API server backs with its storage (tests back them with fakes).
// Returned objects are owned by the store: plugins never modify them.
//
// Side effects: only ResourceQuota writes (it charges status.used of the
// matching quotas in its Validate, before the object is stored; see
// quota.go). Nothing else starts goroutines or holds state between requests,
// so a Chain is safe for concurrent use and needs no stopping.
package admission
