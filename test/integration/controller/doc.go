// Package controller tests Skiff's controller manager against a real
// in-process API server (internal/testserver): the garbage collector's
// background, foreground and orphan deletion, and the namespace
// controller's emptying and finalizing of deleted namespaces.
package controller
