// Package namespace is the namespace controller: it empties namespaces that
// are being deleted and then finalizes them.
//
// When a Namespace has a deletionTimestamp and still carries the
// "kubernetes" spec finalizer, the controller finds every namespaced kind the
// server serves that can be listed and deleted (through discovery, on every
// sync, so kinds added later are covered), deletes their objects in the
// namespace (deletecollection where served, otherwise one by one), and lists
// again to see what remains. It reports progress in the namespace's status
// conditions with the same types, reasons and messages as Kubernetes
// (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
// NamespaceDeletionContentFailure, NamespaceContentRemaining,
// NamespaceFinalizersRemaining). While anything remains — objects held by
// finalizers, pods in their grace period — the namespace is re-checked with
// backoff. Once it is empty the controller removes "kubernetes" from
// spec.finalizers through the finalize subresource, and the API server
// deletes the namespace.
//
// Run starts the workers and blocks until its context ends; it then shuts
// the queue down and waits for the workers.
package namespace
