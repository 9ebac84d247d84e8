// Package servicelb is Skiff's built-in service load balancer, the
// counterpart of k3s's ServiceLB: it gives every Service of type
// LoadBalancer without a spec.loadBalancerClass the addresses of the
// cluster's nodes as status.loadBalancer.ingress. The service proxy in
// every agent answers a LoadBalancer Service's ports on its ingress
// addresses, so a client that reaches any listed node reaches the Service.
//
// Which nodes: every Ready node, or, when some node carries the label
// svccontroller.k3s.cattle.io/enablelb=true, only the nodes labelled so
// (k3s's convention); nodes labelled
// node.kubernetes.io/exclude-from-external-load-balancers are left out as
// upstream's service controller does. A node contributes its ExternalIP
// addresses, or its InternalIP ones when it has none.
//
// Two LoadBalancer Services cannot answer the same port and protocol on
// the same addresses: the older Service (by creation time, then
// namespace/name) keeps the port, the newer one gets no ingress and a
// Warning event (reason PortConflict) until the conflict goes away, as a
// k3s Service whose svclb pods cannot be scheduled stays pending.
//
// A Service that stops being of type LoadBalancer has its ingress cleared.
//
// Run registers the handlers, waits for the caches and runs one worker
// until its context ends, then shuts the queue down and waits for it.
package servicelb
