// Package server wires Skiff's control plane into one process: the
// datastore (embedded or external etcd), the storage layer and its watch
// cache, certificates, the API server on HTTPS, and the objects every
// cluster starts with.
//
// Run starts everything and blocks until its context is cancelled; it then
// stops serving (failing /readyz first), ends watches, closes the storage
// and the datastore, in that order. Ready is closed once the API answers.
package server
