// Package controller is the root of Skiff's controllers. Each controller is
// its own package below this one (namespace, garbagecollector, ...), built
// on client-go informers and work queues and run by package manager.
//
// Every controller follows the same shape: informers are passed in, event
// handlers only enqueue keys, and a level-based sync(ctx, key) reads caches,
// never mutates cached objects, and classifies its errors (done, retry with
// backoff, or wait and re-check). Tests drive sync directly against fake
// clientsets.
package controller
