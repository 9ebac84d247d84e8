// Package bench measures a Skiff (or any Kubernetes) API server the way
// clients see it: create, get, list and watch latency and throughput through
// client-go, and the server process's start-up time and resident memory.
//
// Run drives the load phases against a *rest.Config; it owns every goroutine
// it starts and returns only after they have stopped. StartServer launches a
// `skiff server` child process on a temporary data directory and a loopback
// port and measures the time from process start to /readyz answering 200;
// Process.Stop ends it and removes the directory (safe twice).
//
// Figures are wall-clock and include client-side work (encoding, TLS, watch
// decoding) on the same machine, so they are only comparable between runs
// on the same machine under similar load; Result records the load average.
package bench
