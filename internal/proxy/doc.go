// Package proxy is Skiff's service proxy: kube-proxy's job in its
// nftables mode. Every agent runs one Proxier, which turns Services and
// EndpointSlices (discovery.k8s.io/v1) into rules in one nftables table,
// `ip skiff-proxy`, and owns nothing else in the kernel.
//
// What it does, as upstream kube-proxy does it:
//   - ClusterIPs, NodePorts (on the node port addresses), externalIPs and
//     LoadBalancer ingress IPs are matched in verdict maps (service-ips,
//     service-nodeports) that go to per-Service-port chains; those pick
//     an endpoint with one rule, `dnat ip to numgen random mod N offset K
//     map @endpoints-M`, over the chain's block of keys in a shared map
//     of endpoint address and port (picks.go). Upstream uses a numgen
//     vmap and a chain per endpoint; at 10,000 Services that costs
//     seconds per sync, and every rule with a DNAT or jump is walked
//     again by the kernel's validation of the table on each commit that
//     adds such a rule. Here an endpoint replaced is two map elements and
//     no rule (see docs/benchmarks.md). Endpoint chains exist only for
//     ClientIP affinity.
//   - externalTrafficPolicy Local keeps the client's address and uses only
//     this node's endpoints (pods and the node itself still reach every
//     endpoint, as through a load balancer); its healthCheckNodePort is
//     answered by an HTTP server here. internalTrafficPolicy Local uses
//     only this node's endpoints for ClusterIP traffic.
//   - sessionAffinity ClientIP uses per-endpoint dynamic sets with
//     timeouts; trafficDistribution is honoured through EndpointSlice
//     hints (forZones, forNodes); serving terminating endpoints are used
//     only when no ready ones remain.
//   - Traffic is marked for masquerade (then masqueraded in postrouting)
//     when it comes from outside ClusterCIDR to a ClusterIP, to external
//     addresses of eTP Cluster Services, and when a pod reaches itself
//     (source == destination after DNAT, checked against the hairpin set
//     of this node's endpoint addresses).
//   - Services with no endpoints are rejected (ICMP port unreachable);
//     under a Local policy with no local endpoints, dropped. Traffic to
//     unused ports of ClusterIPs is rejected and to unallocated addresses
//     in ServiceCIDR dropped.
//   - Stale UDP conntrack entries are deleted when endpoints go away or a
//     UDP Service gains its first endpoint.
//
// Syncs: informer handlers only mark a Service dirty (a slice marks its
// Service). One goroutine syncs, at most once per MinSyncPeriod, writing
// one atomic nftables transaction as an nfnetlink batch on a socket it
// keeps open (netlink.go; the nft binary is used only to delete the
// table). A sync rewrites only the dirty
// Services' chains and map elements (partial sync); the first sync, every
// SyncPeriod, after a failure and when the node's zone changes, the whole
// table is rewritten (full sync). A bad Service or slice (an address that
// is not IPv4, two Services on one NodePort) is logged and left out; the
// others keep working.
//
// Lifecycle: New checks the Config and changes nothing. Run sets
// net.ipv4.ip_forward=1, net.bridge.bridge-nf-call-iptables=1 (if
// br_netfilter is loaded) and, for localhost NodePorts,
// net.ipv4.conf.all.route_localnet=1; starts the informers; syncs until
// its context ends; then closes the health check ports and deletes the
// table, and returns. Cleanup(ctx) deletes a table left by a proxy that
// was killed. Only IPv4 is handled. A panic inside a sync is turned into a
// failed sync (full resync with back-off), never a crash.
package proxy
