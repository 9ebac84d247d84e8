// Package serviceaccount is the service account controller: it makes sure
// every active namespace holds the "default" ServiceAccount that pods run as
// when they name none.
//
// A namespace is looked at when it is added or updated, and again whenever
// one of the managed ServiceAccounts is deleted, so a deleted "default"
// account comes back. Namespaces that are being deleted are left alone: the
// namespace controller is emptying them. Sync is level-based and only ever
// creates; it never changes an existing account.
//
// Run registers the handlers, waits for the caches, runs the workers until
// its context ends, then shuts the queue down and waits for the workers.
package serviceaccount
