// Package defaults applies the API server's defaulting to objects of every
// kind Skiff serves, matching the values upstream Kubernetes fills in for
// the v1 (and autoscaling/v2) versions of each group.
//
// Default mutates the object it is given; callers pass a private copy, never
// an object taken from a cache. Defaulting is idempotent: applying it twice
// gives the same object as applying it once, so it is safe to run on every
// decode, as upstream does, as well as on create and update.
//
// A few fields upstream fills in at create time rather than in defaulting
// (a namespace's finalizers and phase, a Job's generated selector) are set
// by the separate helpers DefaultNamespaceOnCreate and GenerateJobSelector,
// which the API server calls from its create path.
//
// The package holds no state and starts nothing.
package defaults
