// Package storage keeps API objects in etcd and serves reads and watches
// from a watch cache.
//
// # What it owns
//
// A Store owns, for every registered resource (ResourceConfig), the etcd
// keys <prefix><group or "core">/<resource>/[<namespace>/]<name>. Values are
// the protobuf encoding of the k8s.io/api type without resourceVersion; on
// read, resourceVersion is the key's etcd mod revision and TypeMeta is the
// resource's GVK. A resource's Transformer (encryption at rest), when set,
// wraps the encoded value on every write and read, including the watch
// cache's; a value it reports stale is rewritten even by an unchanged
// Update. Writes go straight to etcd: Create is a "does not exist"
// transaction, Update and Delete compare-and-swap on the mod revision and
// retry on a fresh read when another writer won.
//
// The watch cache is one etcd watch over the whole prefix, started right
// after a single list at revision R (so nothing is missed), with progress
// notifications. Events are decoded once and applied to per-resource
// caches: the current objects (sorted by key, with their labels and
// selectable fields) and a bounded ring of recent events. Lists and watches
// are served from it; a consistent read (resourceVersion "") first asks
// etcd for its current revision and waits until the cache has caught up,
// requesting a progress notification if the cache is idle. Paginated lists
// and lists at an exact older revision read etcd at one revision, so every
// page of a list is the same snapshot.
//
// # Concurrency
//
// Every method of Resource is safe for concurrent use once Start returned.
// Objects returned by Get, List and Watch are shared with the cache and must
// not be modified; objects returned by Create, Update and Delete belong to
// the caller. Each watcher has its own goroutine that reads the shared
// event history from its own position, so a slow watcher never blocks the
// cache or other watchers; one that falls behind the history is ended and
// its client re-watches.
//
// # What it starts and how it stops
//
// Start runs: the watch loop (applies etcd events), the progress requester,
// the bookmark ticker (every BookmarkInterval on the injected clock) and,
// unless disabled, the compactor (every CompactInterval, compacting to the
// revision seen one interval earlier; servers sharing an etcd agree through
// a compare-and-swap on the key <prefix>compact_rev_key). Each Watch adds
// one goroutine that ends when its context is canceled, Stop is called on
// it, or the Store stops. Store.Stop cancels all of them and waits; it is
// safe to call twice and does not close the etcd client.
package storage
