// Package garbagecollector is the garbage collector: it deletes objects
// whose owners are gone and carries out foreground and orphan deletion.
//
// # What it watches
//
// Every kind the server serves with the list, watch and delete verbs (events
// excepted) is watched through a metadata-only informer. The set of kinds
// comes from discovery and is refreshed periodically, so kinds added later
// (custom resources, new built-ins) are collected without a restart.
//
// # The graph
//
// Informer events are queued and applied, one at a time by a single
// goroutine, to a graph of ownership: each observed object with its
// ownerReferences, and for every owner UID the set of observed dependents.
// Applying an event decides what to look at next and puts UIDs on two work
// queues; the graph itself is never the sole basis for a deletion.
//
// # Decisions (attemptToDelete)
//
// For a dependent, the collector re-reads it live and classifies each owner
// reference: solid (the owner exists), dangling (the owner is absent — always
// confirmed by a live GET that finds no object of that name, or one with a
// different UID, before anything is deleted), or waiting (the owner is being
// deleted in the foreground). With a solid owner, dangling and waiting
// references are removed from the dependent; with only dangling or waiting
// owners the dependent is deleted (in the foreground when an owner waits and
// the dependent has dependents of its own, otherwise in the background), with
// UID and resourceVersion preconditions so a stale read never deletes an
// object that changed. A namespaced dependent's namespaced owner is looked up
// in the dependent's namespace; cluster-scoped owners are looked up without a
// namespace; a cluster-scoped dependent cannot have a namespaced owner (such
// a reference counts as dangling).
//
// For an owner with deletionTimestamp and the foregroundDeletion finalizer,
// its dependents are deleted and the finalizer is removed once no dependent
// with blockOwnerDeletion=true remains. For an owner with the orphan
// finalizer (attemptToOrphan), the reference to it is removed from every
// dependent and then the finalizer is removed.
//
// # Lifecycle
//
// New builds a Collector; Run starts the informers, the graph goroutine, the
// workers and the re-discovery loop, and blocks until its context ends; it
// then stops them all and waits for them.
package garbagecollector
