// Package scheduler tests Skiff's scheduler against a real in-process API
// server (internal/testserver) holding Node objects only: no node agent runs,
// so pods are bound but never started, and victims of preemption are created
// with a zero grace period so their deletion completes at once.
package scheduler
