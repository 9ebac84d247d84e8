// Package manager runs Skiff's controllers as one controller manager.
//
// Run builds the API clients (typed, metadata, dynamic, discovery) and the
// shared informer factories from a *rest.Config, builds every controller in
// the ordered list in controllers.go, starts the informers and runs the
// controllers until its context ends. With Options.LeaderElect it first
// acquires a coordination.k8s.io Lease in kube-system, so that of several
// servers exactly one runs the controllers; losing the lease stops them all
// and campaigns again (package leader), as a restarted upstream process would.
//
// Adding a controller is one line in the list in controllers.go: a name
// and a constructor taking the shared *Context.
//
// Run returns only after every controller and informer it started has
// stopped.
package manager
