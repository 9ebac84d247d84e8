// Package dns is Skiff's cluster DNS: the job CoreDNS's kubernetes plugin
// does in other clusters. It serves the Kubernetes DNS-Based Service
// Discovery specification, schema 1.1.0 (kubernetes/dns
// docs/specification.md), from client-go informers on Services and
// EndpointSlices, and forwards every other name to upstream resolvers.
//
// # What it owns
//
// One Server per node agent. It owns a UDP and a TCP socket on
// Config.ListenAddr (normally the node's pod gateway address, port 53,
// bound with IP_FREEBIND so it may start before the bridge has the
// address), a shared informer factory on Services and
// discovery.k8s.io/v1 EndpointSlices, and the in-memory index built from
// them. It writes nothing to the API server and nothing to the kernel
// besides its two sockets.
//
// # Records served in the cluster zone (default cluster.local.)
//
//	dns-version.<zone>            TXT "1.1.0"
//	<zone>                        SOA, NS ns.dns.<zone>
//	ns.dns.<zone>                 A/AAAA of kube-system/kube-dns' cluster IPs
//	<svc>.<ns>.svc.<zone>         A/AAAA: the cluster IPs; for a headless
//	                              Service the ready endpoints' addresses
//	                              (NXDOMAIN while it has none, as the spec
//	                              says); ExternalName: CNAME, chased
//	<host>.<svc>.<ns>.svc.<zone>  A/AAAA of the ready endpoints whose
//	                              hostname is <host>; an endpoint without a
//	                              hostname is named by its dashed address
//	                              (10-42-0-5, 2001-db8--5), as CoreDNS does
//	_<port>._<proto>.<svc>.<ns>.svc.<zone>
//	                              SRV: target the Service name (cluster IP)
//	                              or one per ready endpoint × port
//	                              (headless), with the targets' addresses
//	                              in the additional section
//	<a>-<b>-<c>-<d>.<ns>.pod.<zone>
//	                              A of the encoded address (CoreDNS "pods
//	                              insecure"; IPv6 with '-' for ':')
//	reverse names                 PTR for cluster IPs and for ready endpoint
//	                              addresses (hostname.svc.ns.svc.zone)
//
// Ready endpoints are those with conditions.ready unset or true, or every
// endpoint when the Service has spec.publishNotReadyAddresses (or the legacy
// service.alpha.kubernetes.io/tolerate-unready-endpoints annotation).
//
// Extensions CoreDNS also makes: endpoint names exist for Services with a
// cluster IP too; an SRV query on the Service name itself answers every
// port. Not served: wildcard names (`*` and `any` are ordinary labels, so
// they get NXDOMAIN, as in CoreDNS since 1.9), zone transfers (REFUSED),
// pod "verified" mode, multicluster and autopath.
//
// # Negative answers
//
// A name that exists without a record of the asked type is NODATA:
// NOERROR, empty answer, the zone's SOA in the authority section. That
// covers the zone apex, svc.<zone>, pod.<zone>, <ns>.svc.<zone> for a
// namespace holding at least one Service, <ns>.pod.<zone>, and
// _<proto>.<svc>... above existing SRV names. A name that does not exist is
// NXDOMAIN with the same SOA. Namespaces are not watched (nodes may not
// list them), so a namespace exists here when it holds a Service; pod
// names are answered for any namespace.
//
// # Reverse zones and forwarding
//
// A PTR query for an address the index knows is answered here. For an
// unknown address inside Config.ReverseCIDRs (the service and cluster
// CIDRs) the answer is NXDOMAIN with that reverse zone's SOA; any other
// reverse name, and every name outside the cluster zone, is forwarded to
// the upstream resolvers: UDP first, the same upstream again over TCP when
// the answer is truncated, the next upstream on error or timeout, starting
// round-robin. No upstreams means SERVFAIL for such names (logged once at
// start). Upstream answers (NOERROR and NXDOMAIN) are cached for their
// TTL, at most 30 seconds, in a bounded cache (Config.CacheSize).
//
// # Wire details
//
// Names compare case-insensitively; answers echo the question's case in
// their owner names. Over UDP an answer larger than the client's EDNS0
// buffer (512 bytes without EDNS0) is truncated with the TC bit set, so
// the client retries over TCP.
//
// # Concurrency
//
// Informer event handlers update the index in place, one Service at a time
// (a change to one Service or EndpointSlice rebuilds that Service's view
// only). The index's RWMutex guards its maps; the per-Service views it
// hands out are immutable once published, so a query reads them after
// unlocking. Queries are served concurrently by miekg/dns.
//
// # Starting and stopping
//
// New validates the Config and reads upstreams; it starts nothing. Run
// binds both sockets, starts the informers, waits for their caches, serves,
// closes Ready(), and blocks until its context ends; it then stops the
// servers and informers, closes the sockets, and returns.
package dns
