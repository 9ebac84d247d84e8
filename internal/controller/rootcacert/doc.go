// Package rootcacert is the root CA publisher: it keeps a ConfigMap named
// "kube-root-ca.crt" in every active namespace whose "ca.crt" key holds the
// cluster CA bundle, so that pods can verify the API server (the projected
// service account volume mounts it).
//
// A namespace is looked at when it is added or updated and whenever its
// kube-root-ca.crt ConfigMap is updated or deleted: a missing ConfigMap is
// created, one whose data differs from the bundle (or that lost its
// description annotation) is put back. Other keys, labels and annotations
// are left as they are, except that the data map is replaced as a whole.
// Namespaces that are being deleted are skipped.
//
// Run registers the handlers, waits for the caches, runs the workers until
// its context ends, then shuts the queue down and waits for the workers.
package rootcacert
