// Package leader runs a component only while it holds a
// coordination.k8s.io Lease, and keeps campaigning for the Lease for as
// long as the component should run.
//
// Upstream's scheduler and controller manager exit the process when they
// lose their Lease and let a supervisor restart them. In Skiff they are
// goroutines of one binary, so Run does the restart: when the Lease is lost
// it cancels the term's context, waits for the work to return (so two terms
// never overlap, in this process or with the next holder beyond what the
// Lease allows), then campaigns again.
//
// Renewals must not fail because the component is busy: NewClient builds
// the Lease client on a connection and rate limit of its own, so the
// component's own requests can neither queue ahead of a renewal in the
// client's rate limiter nor take every HTTP/2 stream of its connection.
//
// Run starts the client-go elector goroutine of each term and returns only
// after it and the term's work have stopped. It starts nothing else.
package leader
