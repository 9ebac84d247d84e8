// Package integration holds end-to-end tests of the Skiff control plane
// through client-go: informers across restarts, list/watch consistency under
// concurrent writers, durability of the real binary after kill -9, the CRUD
// suite on both the embedded and an external etcd, watch semantics (410 Gone,
// bookmarks, watch-list), Service IP and node port allocation, and the
// status and scale subresources.
//
// The external etcd tests need the etcd v3 server binary at /usr/bin/etcd
// (Debian package etcd-server); they fail, not skip, when it is missing.
package integration
