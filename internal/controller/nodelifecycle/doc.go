// Package nodelifecycle watches node health and acts on it.
//
// Node health comes from two heartbeats: the node's Lease in
// kube-node-lease and the Ready condition's lastHeartbeatTime. The
// controller notes, on its own clock, when it last saw either change; a
// node silent for longer than the grace period (40s by default) gets its
// Ready condition (and the pressure conditions) set to Unknown, and the
// pods on it are marked NotReady.
//
// From the Ready condition the controller keeps the node's taints:
// node.kubernetes.io/not-ready (Ready=False, or no Ready condition yet) and
// node.kubernetes.io/unreachable (Ready=Unknown), each with NoSchedule and
// NoExecute, and node.kubernetes.io/unschedulable:NoSchedule for cordoned
// nodes. A node whose Ready condition is True carries none of them; in
// particular the not-ready:NoSchedule taint that admission puts on every
// new node is removed once the node reports Ready. While the node reports
// MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable True it
// also carries node.kubernetes.io/memory-pressure, disk-pressure,
// pid-pressure or network-unavailable with NoSchedule.
//
// Taint-based eviction runs on a second queue keyed by pod: a pod bound to
// a node with NoExecute taints is deleted at once if it does not tolerate
// one of them, else when the smallest tolerationSeconds of the matching
// tolerations has passed since the taint was added.
//
// Run registers the handlers, waits for the caches, runs both worker pools
// until its context ends, then shuts the queues down and waits for them.
package nodelifecycle
