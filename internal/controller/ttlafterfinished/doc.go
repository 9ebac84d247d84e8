// Package ttlafterfinished is the TTL-after-finished controller: it deletes
// a finished Job (Complete or Failed) once spec.ttlSecondsAfterFinished has
// passed since it finished, with background propagation so the garbage
// collector removes its pods.
//
// The expiry is measured on the injected clock from the finishing
// condition's lastTransitionTime; a Job not yet expired is requeued for its
// expiry. Before deleting, the controller re-reads the Job from the server
// (the TTL may have been changed) and deletes with a UID precondition.
//
// New builds a Controller and starts nothing; Run adds the informer
// handler, waits for the cache and runs the workers until its context
// ends, returning after every worker stopped.
package ttlafterfinished
