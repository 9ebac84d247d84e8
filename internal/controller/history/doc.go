// Package history holds what the StatefulSet and DaemonSet controllers
// share: ControllerRevisions (naming, hashing, finding or creating the
// revision for a pod template, trimming old ones) and controller-ref
// claiming (adopting orphans that match a selector, releasing owned
// objects that no longer match).
//
// A revision's Data is a strategic-merge patch that replaces
// spec.template, the format kubectl's rollout history and undo read.
//
// Nothing here starts goroutines or caches; every function works on the
// slices it is given and never modifies the objects in them (they come
// from informer caches), only copies.
package history
