// Package clusterdns keeps the endpoints of the cluster DNS Service
// (kube-system/kube-dns). Skiff's DNS server is not a pod: every node
// agent serves DNS on its pods' gateway address (the first address of
// the node's spec.podCIDR). The Service has no selector, so no other
// controller gives it endpoints; this one writes EndpointSlices named
// kube-dns-skiff-N with one endpoint per node that has a pod CIDR:
// the gateway address, the node's name and zone, ready when the node is
// Ready. The service proxy then routes the cluster DNS IP to them like
// any other Service.
//
// Nothing is written while the Service is missing or has a selector (a
// user who replaced the cluster DNS with their own keeps it); slices of
// ours that are no longer wanted are deleted. The slices are owned by the
// Service, so the garbage collector removes them with it.
//
// Run registers the handlers, waits for the caches and runs one worker
// until its context ends, then shuts the queue down and waits for it.
package clusterdns
