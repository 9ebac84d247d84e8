package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// servicePort is one port of one Service, reduced to what the rules need.
// It is built from API objects by servicePorts and never shares memory
// with them.
type servicePort struct {
	namespace, service, portName string
	protocol                     string // "tcp", "udp" or "sctp"
	clusterIP                    netip.Addr
	port                         int
	nodePort                     int
	externalIPs                  []netip.Addr // spec.externalIPs
	lbIPs                        []netip.Addr // status.loadBalancer.ingress[].ip (VIP mode)
	affinityTimeout              int          // seconds; 0 means no ClientIP affinity
	externalLocal                bool         // externalTrafficPolicy Local (and externally reachable)
	internalLocal                bool         // internalTrafficPolicy Local
	healthCheckNodePort          int
}

// name is "ns/svc/proto/port", the readable part of chain names.
func (sp *servicePort) name() string {
	return sp.namespace + "/" + sp.service + "/" + sp.protocol + "/" + sp.portName
}

func (sp *servicePort) externallyAccessible() bool {
	return sp.nodePort != 0 || len(sp.externalIPs) > 0 || len(sp.lbIPs) > 0
}

// usesClusterEndpoints is true when some traffic may go to any endpoint:
// internal policy Cluster, or any external access at all (short-circuited
// pod and host traffic to external addresses uses the cluster set even
// under externalTrafficPolicy Local).
func (sp *servicePort) usesClusterEndpoints() bool {
	return !sp.internalLocal || sp.externallyAccessible()
}

func (sp *servicePort) usesLocalEndpoints() bool {
	return sp.internalLocal || (sp.externalLocal && sp.externallyAccessible())
}

// endpoint is one address:port of a Service port, merged over its slices.
type endpoint struct {
	ip          netip.Addr
	port        int
	ready       bool
	serving     bool
	terminating bool
	local       bool
	otherNode   bool     // nodeName is set and is not this node
	zoneHints   []string // nil when the endpoint has no zone hints
	nodeHints   []string
}

func (ep *endpoint) String() string {
	return netip.AddrPortFrom(ep.ip, uint16(ep.port)).String()
}

// problem is a reason a Service, port or endpoint was skipped; the sync
// logs each one.
type problem struct {
	object string // "ns/name" of the Service or EndpointSlice
	msg    string
}

func protoName(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// servicePorts turns a Service into its ports. Services without rules
// (headless, ExternalName, no IPv4 ClusterIP) give none. Addresses that do
// not parse are reported and left out.
func servicePorts(svc *corev1.Service) ([]*servicePort, []problem) {
	key := svc.Namespace + "/" + svc.Name
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		return nil, nil
	}
	var probs []problem
	cip, ok := clusterIPv4(svc)
	if !ok {
		return nil, []problem{{key, fmt.Sprintf("no IPv4 clusterIP in %q", svc.Spec.ClusterIPs)}}
	}
	var ext, lb []netip.Addr
	for _, s := range svc.Spec.ExternalIPs {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			probs = append(probs, problem{key, fmt.Sprintf("externalIP %q is not an IPv4 address; ignored", s)})
			continue
		}
		ext = append(ext, a)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP == "" || (ing.IPMode != nil && *ing.IPMode == corev1.LoadBalancerIPModeProxy) {
				continue
			}
			a, err := netip.ParseAddr(ing.IP)
			if err != nil || !a.Is4() {
				probs = append(probs, problem{key, fmt.Sprintf("load balancer ingress %q is not an IPv4 address; ignored", ing.IP)})
				continue
			}
			lb = append(lb, a)
		}
	}
	affinity := 0
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		affinity = int(corev1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
			affinity = int(*c.ClientIP.TimeoutSeconds)
		}
	}
	nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	var out []*servicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		proto := protoName(p.Protocol)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			probs = append(probs, problem{key, fmt.Sprintf("port %q: protocol %q not supported; skipped", p.Name, p.Protocol)})
			continue
		}
		if p.Port <= 0 || p.Port > 65535 {
			probs = append(probs, problem{key, fmt.Sprintf("port %q: number %d out of range; skipped", p.Name, p.Port)})
			continue
		}
		sp := &servicePort{
			namespace: svc.Namespace, service: svc.Name, portName: p.Name, protocol: proto,
			clusterIP: cip, port: int(p.Port), externalIPs: ext, lbIPs: lb,
			affinityTimeout: affinity,
			internalLocal:   svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		}
		if nodePorts && p.NodePort > 0 && p.NodePort <= 65535 {
			sp.nodePort = int(p.NodePort)
		}
		sp.externalLocal = svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && sp.externallyAccessible()
		if sp.externalLocal && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			sp.healthCheckNodePort = int(svc.Spec.HealthCheckNodePort)
		}
		out = append(out, sp)
	}
	return out, probs
}

func clusterIPv4(svc *corev1.Service) (netip.Addr, bool) {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// portEndpoints merges a Service's IPv4 slices into endpoints per service
// port name ("" for an unnamed port), keeping the first copy of an address
// seen in more than one slice. Bad addresses and ports are reported.
func portEndpoints(slices []*discoveryv1.EndpointSlice, nodeName string) (map[string][]*endpoint, []problem) {
	out := map[string][]*endpoint{}
	seen := map[string]bool{}
	var probs []problem
	sorted := append([]*discoveryv1.EndpointSlice(nil), slices...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, s := range sorted {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := s.Namespace + "/" + s.Name
		for _, p := range s.Ports {
			if p.Port == nil || *p.Port <= 0 || *p.Port > 65535 {
				probs = append(probs, problem{key, "endpoint port without a valid number; skipped"})
				continue
			}
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			proto := "tcp"
			if p.Protocol != nil {
				proto = protoName(*p.Protocol)
			}
			for i := range s.Endpoints {
				e := &s.Endpoints[i]
				if len(e.Addresses) == 0 {
					continue
				}
				ip, err := netip.ParseAddr(e.Addresses[0])
				if err != nil || !ip.Is4() {
					probs = append(probs, problem{key, fmt.Sprintf("endpoint address %q is not an IPv4 address; skipped", e.Addresses[0])})
					continue
				}
				ep := &endpoint{ip: ip, port: int(*p.Port)}
				id := name + "|" + proto + "|" + ep.String()
				if seen[id] {
					continue
				}
				seen[id] = true
				c := e.Conditions
				ep.ready = c.Ready == nil || *c.Ready
				ep.serving = c.Serving == nil && ep.ready || c.Serving != nil && *c.Serving
				ep.terminating = c.Terminating != nil && *c.Terminating
				ep.local = e.NodeName != nil && *e.NodeName == nodeName
				ep.otherNode = e.NodeName != nil && *e.NodeName != "" && !ep.local
				if e.Hints != nil {
					for _, z := range e.Hints.ForZones {
						ep.zoneHints = append(ep.zoneHints, z.Name)
					}
					for _, n := range e.Hints.ForNodes {
						ep.nodeHints = append(ep.nodeHints, n.Name)
					}
				}
				out[name+"|"+proto] = append(out[name+"|"+proto], ep)
			}
		}
	}
	for _, eps := range out {
		sort.Slice(eps, func(i, j int) bool {
			if c := eps[i].ip.Compare(eps[j].ip); c != 0 {
				return c < 0
			}
			return eps[i].port < eps[j].port
		})
	}
	return out, probs
}

// categorized is which endpoints each traffic policy uses.
type categorized struct {
	cluster   []*endpoint // for Cluster policy (topology applied)
	local     []*endpoint // for Local policy
	reachable []*endpoint // union: every endpoint that gets a chain
	any       bool        // the Service has usable endpoints anywhere
}

// categorize picks endpoints as upstream's proxies do: ready endpoints,
// narrowed by topology hints when every ready endpoint has hints and some
// are for this node (or zone); when none are ready, serving terminating
// ones.
func categorize(sp *servicePort, eps []*endpoint, nodeName, zone string) categorized {
	var c categorized
	if sp.usesClusterEndpoints() {
		mode := topologyMode(eps, nodeName, zone)
		for _, ep := range eps {
			if ep.ready && forTopology(ep, mode, nodeName, zone) {
				c.cluster = append(c.cluster, ep)
			}
		}
		if len(c.cluster) == 0 {
			for _, ep := range eps {
				if ep.serving && ep.terminating {
					c.cluster = append(c.cluster, ep)
				}
			}
		}
		c.any = len(c.cluster) > 0
	}
	if !sp.usesLocalEndpoints() {
		c.reachable = c.cluster
		return c
	}
	localReady, localTerm := false, false
	for _, ep := range eps {
		switch {
		case ep.ready:
			c.any = true
			localReady = localReady || ep.local
		case ep.serving && ep.terminating:
			c.any = true
			localTerm = localTerm || ep.local
		}
	}
	for _, ep := range eps {
		if ep.local && (localReady && ep.ready || !localReady && localTerm && ep.serving && ep.terminating) {
			c.local = append(c.local, ep)
		}
	}
	if !sp.usesClusterEndpoints() {
		c.reachable = c.local
		return c
	}
	seen := map[*endpoint]bool{}
	for _, l := range [][]*endpoint{c.cluster, c.local} {
		for _, ep := range l {
			if !seen[ep] {
				seen[ep] = true
				c.reachable = append(c.reachable, ep)
			}
		}
	}
	sort.Slice(c.reachable, func(i, j int) bool { return c.reachable[i].String() < c.reachable[j].String() })
	return c
}

const (
	topoNone = iota
	topoZone
	topoNode
)

func topologyMode(eps []*endpoint, nodeName, zone string) int {
	allNode, allZone, forNode, forZone := true, true, false, false
	for _, ep := range eps {
		if !ep.ready {
			continue
		}
		if len(ep.nodeHints) == 0 {
			allNode = false
		} else if contains(ep.nodeHints, nodeName) {
			forNode = true
		}
		if len(ep.zoneHints) == 0 {
			allZone = false
		} else if zone != "" && contains(ep.zoneHints, zone) {
			forZone = true
		}
	}
	switch {
	case allNode && forNode:
		return topoNode
	case allZone && forZone:
		return topoZone
	}
	return topoNone
}

func forTopology(ep *endpoint, mode int, nodeName, zone string) bool {
	switch mode {
	case topoNode:
		return contains(ep.nodeHints, nodeName)
	case topoZone:
		return contains(ep.zoneHints, zone)
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }
