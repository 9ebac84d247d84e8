// Package allocator hands out Service ClusterIPs and NodePorts.
//
// Each allocator owns one etcd key (for example /registry/ranges/serviceips)
// holding the range it manages and a bitmap of the values in use. Every
// change is a compare-and-swap on the key's mod revision, so several API
// servers sharing one etcd never hand out the same value twice: a server
// whose copy is stale loses the swap, reloads the key from the same
// transaction and tries again. Negative answers (already allocated, range
// full, release of a free value) are confirmed against etcd the same way
// before they are returned, so they are never based on a stale copy.
//
// The in-memory copy is what Has and Free read; it is refreshed by every
// mutating call and by Refresh, and may lag behind other servers in between.
// Constructors do no I/O; the first call that talks to etcd loads the key.
//
// Repair rewrites the bitmap from the values actually used by stored
// Services. The API server calls it at start, after listing Services, so an
// allocation whose Service was never written (a crash in between) is not
// leaked. Repair trusts its input completely: a value allocated by another
// API server whose Service is not yet in the listing is freed. Run it before
// this server accepts writes, and with several servers prefer running it
// from one place (the leader); a two-pass leak check that tolerates
// in-flight allocations is future work.
//
// Errors: failures are wrapped *RangeError values whose Error text is the
// message upstream Kubernetes shows to users and which match the sentinels
// ErrAllocated, ErrNotInRange and ErrFull with errors.Is. The API server
// prefixes ErrFull from AllocateNext itself, as upstream does:
// "failed to allocate a serviceIP: range is full".
//
// Concurrency: all methods are safe for concurrent use. Calls on one
// allocator that change state are serialized (each holds one etcd round
// trip); separate allocators, in one process or many, coordinate only
// through etcd. Nothing here starts goroutines.
package allocator
