package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"net/netip"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"
)

// Names in table ip skiff-proxy. The layout follows upstream kube-proxy's
// nftables mode so that people who know that can read ours.
const (
	tableName = "skiff-proxy"

	servicesChain         = "services"
	masqueradingChain     = "masquerading"
	markMasqChain         = "mark-for-masquerade"
	serviceEPCheckChain   = "service-endpoints-check"
	nodePortEPCheckChain  = "nodeport-endpoints-check"
	clusterIPsCheckChain  = "cluster-ips-check"
	rejectChain           = "reject-chain"
	serviceIPsMap         = "service-ips"
	serviceNodePortsMap   = "service-nodeports"
	noEndpointServicesMap = "no-endpoint-services"
	noEndpointNodePorts   = "no-endpoint-nodeports"
	clusterIPsSet         = "cluster-ips"
	nodePortIPsSet        = "nodeport-ips"
	hairpinSet            = "hairpin"

	// Prefixes of per-Service objects. Every per-Service chain name has a
	// "/" in it, which none of the fixed chains has.
	clusterChainPrefix  = "service-"
	localChainPrefix    = "local-"
	externalChainPrefix = "external-"
	endpointChainPrefix = "endpoint-"
	affinitySetPrefix   = "affinity-"
	endpointsMapPrefix  = "endpoints-"

	masqMark = "0x4000"
)

// baseChain is a chain hooked into netfilter, with the regular chains it
// jumps to for every packet (or new connection).
type baseChain struct {
	name     string
	typ      knftables.BaseChainType
	hook     knftables.BaseChainHook
	priority knftables.BaseChainPriority
	jumps    []string // rules, in order
}

// baseChains is every hook we attach to, in one visibly ordered place.
// Filter chains run just before DNAT (so they see the Service address)
// except filter-output-post-dnat, which sees what DNAT left undone.
var baseChains = []baseChain{
	{"filter-input", knftables.FilterType, knftables.InputHook, knftables.DNATPriority + "-10",
		[]string{"ct state new jump " + nodePortEPCheckChain, "ct state new jump " + serviceEPCheckChain}},
	{"filter-forward", knftables.FilterType, knftables.ForwardHook, knftables.DNATPriority + "-10",
		[]string{"ct state new jump " + serviceEPCheckChain, "ct state new jump " + clusterIPsCheckChain}},
	{"filter-output", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "-10",
		[]string{"ct state new jump " + serviceEPCheckChain}},
	{"filter-output-post-dnat", knftables.FilterType, knftables.OutputHook, knftables.DNATPriority + "+10",
		[]string{"ct state new jump " + clusterIPsCheckChain}},
	{"nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority,
		[]string{"jump " + servicesChain}},
	{"nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority,
		[]string{"jump " + servicesChain}},
	{"nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority,
		[]string{"jump " + masqueradingChain}},
}

// fixedChains returns the regular chains that do not depend on any
// Service, with their rules.
func fixedChains(serviceCIDR, clusterCIDR string) [][2]any {
	var services []string
	if clusterCIDR != "" {
		// Traffic to a ClusterIP from outside the cluster (the node
		// itself, or a router with a route to the service CIDR) is
		// masqueraded so replies come back through this node. Upstream
		// writes this rule into every Service chain; one rule here does
		// the same (traffic to a ClusterIP that is not DNATed is
		// rejected or dropped anyway) and keeps the kernel's per-commit
		// validation of the table shorter.
		services = append(services, "ip daddr @"+clusterIPsSet+" ip saddr != "+clusterCIDR+" jump "+markMasqChain)
	}
	services = append(services,
		"ip daddr . meta l4proto . th dport vmap @"+serviceIPsMap,
		"ip daddr @"+nodePortIPsSet+" meta l4proto . th dport vmap @"+serviceNodePortsMap)
	cipCheck := []string{"ip daddr @" + clusterIPsSet + " reject"}
	if serviceCIDR != "" {
		cipCheck = append(cipCheck, "ip daddr "+serviceCIDR+" drop")
	}
	return [][2]any{
		{servicesChain, services},
		{masqueradingChain, []string{
			"ct status dnat ip saddr . ip daddr @" + hairpinSet + " jump " + markMasqChain,
			"mark and " + masqMark + " == 0 return",
			"mark set mark xor " + masqMark,
			"masquerade fully-random",
		}},
		{markMasqChain, []string{"mark set mark or " + masqMark}},
		{serviceEPCheckChain, []string{"ip daddr . meta l4proto . th dport vmap @" + noEndpointServicesMap}},
		{nodePortEPCheckChain, []string{"ip daddr @" + nodePortIPsSet + " meta l4proto . th dport vmap @" + noEndpointNodePorts}},
		{clusterIPsCheckChain, cipCheck},
		{rejectChain, []string{"reject"}},
	}
}

// fixedSets are the sets and maps every sync keeps.
func fixedSets() []knftables.Object {
	return []knftables.Object{
		&knftables.Set{Name: clusterIPsSet, Type: "ipv4_addr"},
		&knftables.Set{Name: nodePortIPsSet, Type: "ipv4_addr"},
		&knftables.Set{Name: hairpinSet, Type: "ipv4_addr . ipv4_addr"},
		&knftables.Map{Name: serviceIPsMap, Type: "ipv4_addr . inet_proto . inet_service : verdict"},
		&knftables.Map{Name: serviceNodePortsMap, Type: "inet_proto . inet_service : verdict"},
		&knftables.Map{Name: noEndpointServicesMap, Type: "ipv4_addr . inet_proto . inet_service : verdict"},
		&knftables.Map{Name: noEndpointNodePorts, Type: "inet_proto . inet_service : verdict"},
	}
}

// endpointsMapType is an endpoints map's key and value: a number a
// Service chain's numgen picks, to the endpoint's address and port.
const endpointsMapType = "numgen random mod 1 : ip daddr . th dport"

// endpointsMap is an endpoints map, made when pickBlocks first hands out
// a block in it.
func endpointsMap(m uint32) *knftables.Map {
	return &knftables.Map{Name: endpointsMapPrefix + strconv.FormatUint(uint64(m), 10), TypeOf: endpointsMapType}
}

// isEndpointsMap reports whether a set or map name is an endpoints map.
func isEndpointsMap(name string) bool { return strings.HasPrefix(name, endpointsMapPrefix) }

// sharedSet reports whether a set's elements may be wanted by several
// Services at once (a ClusterIP of two ports, a pod backing two
// Services): such elements are reference-counted, not owned.
func sharedSet(container string) bool { return container == clusterIPsSet || container == hairpinSet }

// elemKey names one set or map element: the container and its key.
type elemKey struct {
	container string
	key       string // parts joined by " . "
}

// element is a wanted set or map element.
type element struct {
	isMap bool
	key   []string
	value string // "" for set elements
}

func (e element) object(container string) *knftables.Element {
	if !e.isMap {
		return &knftables.Element{Set: container, Key: e.key}
	}
	return &knftables.Element{Map: container, Key: e.key, Value: []string{e.value}}
}

// healthPort is what a Service's health check node port answers.
type healthPort struct {
	port           int
	namespace      string
	name           string
	localEndpoints int
}

// udpTarget is a UDP Service port with endpoints: where clients send
// (ip:port pairs and the node port) and which endpoints may answer.
type udpTarget struct {
	dests     []netip.AddrPort
	nodePort  int
	endpoints map[netip.AddrPort]bool
}

// svcRules is everything one Service contributes to the table. It is
// computed from scratch and compared with what was last programmed.
type svcRules struct {
	chains map[string][]string // chain name → rules
	elems  map[elemKey]element // set and map elements
	sets   map[string]int      // affinity set name → timeout seconds
	blocks map[string]block    // chain name → its keys in the endpoints map
	health *healthPort         // nil unless eTP Local with a health check port
	udp    []udpTarget         // for stale conntrack cleanup
	warn   []string            // problems found while building
}

func newSvcRules() *svcRules {
	return &svcRules{chains: map[string][]string{}, elems: map[elemKey]element{}, sets: map[string]int{}, blocks: map[string]block{}}
}

func (r *svcRules) addElem(container string, isMap bool, value string, key ...string) {
	r.elems[elemKey{container, strings.Join(key, " . ")}] = element{isMap: isMap, key: key, value: value}
}

func (r *svcRules) rule(chain string, parts ...string) {
	r.chains[chain] = append(r.chains[chain], strings.Join(parts, " "))
}

// chainName is prefix + an 8-character hash of name + "-" + name, cut to
// nftables' limit; the hash keeps cut names unique.
func chainName(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	s := prefix + base32.StdEncoding.EncodeToString(sum[:5]) + "-" + name // 8 characters
	if len(s) > 250 {
		s = s[:247] + "..."
	}
	return s
}

// ruleContext is what rule generation needs beyond the Service itself.
type ruleContext struct {
	nodeName    string
	zone        string
	clusterCIDR string
	picks       *pickBlocks
}

// addServicePort writes the rules of one Service port into r, as
// upstream's nftables proxier lays them out: the ClusterIP goes to the
// internal policy chain, node ports, external and load balancer IPs to
// the external chain, and both end in a random pick of an endpoint and a
// DNAT (endpointRules). Services without usable endpoints get no-endpoint verdicts
// (reject, or drop under a Local policy with no local endpoints).
func (r *svcRules) addServicePort(sp *servicePort, eps []*endpoint, rc ruleContext) {
	name := sp.name()
	proto := sp.protocol
	port := itoa(sp.port)
	c := categorize(sp, eps, rc.nodeName, rc.zone)

	clusterChain := chainName(clusterChainPrefix, name)
	localChain := chainName(localChainPrefix, name)
	externalChain := chainName(externalChainPrefix, name)
	usesCluster := len(c.cluster) > 0 && sp.usesClusterEndpoints()
	usesLocal := len(c.local) > 0 && sp.usesLocalEndpoints()

	internalChain, hasInternal := clusterChain, c.any
	if sp.internalLocal {
		internalChain, hasInternal = localChain, len(c.local) > 0
	}
	externalPolicyChain, hasExternal := clusterChain, c.any
	if sp.externalLocal {
		externalPolicyChain, hasExternal = localChain, len(c.local) > 0
	}
	usesExternal := c.any && sp.externallyAccessible()

	var internalVerdict, externalVerdict string
	switch {
	case !c.any:
		internalVerdict, externalVerdict = "goto "+rejectChain, "goto "+rejectChain
	default:
		if !hasInternal {
			internalVerdict = "drop"
		}
		if !hasExternal {
			externalVerdict = "drop"
		}
	}

	cip := sp.clusterIP.String()
	r.addElem(clusterIPsSet, false, "", cip)
	if hasInternal {
		r.addElem(serviceIPsMap, true, "goto "+internalChain, cip, proto, port)
	} else {
		r.addElem(noEndpointServicesMap, true, internalVerdict, cip, proto, port)
	}
	for _, ips := range [][]netip.Addr{sp.externalIPs, sp.lbIPs} {
		for _, ip := range ips {
			if usesExternal {
				r.addElem(serviceIPsMap, true, "goto "+externalChain, ip.String(), proto, port)
			}
			if !hasExternal {
				r.addElem(noEndpointServicesMap, true, externalVerdict, ip.String(), proto, port)
			}
		}
	}
	if sp.nodePort != 0 {
		np := itoa(sp.nodePort)
		if usesExternal {
			r.addElem(serviceNodePortsMap, true, "goto "+externalChain, proto, np)
		}
		if !hasExternal {
			r.addElem(noEndpointNodePorts, true, externalVerdict, proto, np)
		}
	}

	if usesExternal {
		if !sp.externalLocal {
			// Any endpoint may be on another node: masquerade.
			r.rule(externalChain, "jump", markMasqChain)
		} else {
			// Pods and the node itself reach external addresses as if
			// through a load balancer: cluster policy, and the node's
			// own traffic masqueraded (its source is a local address).
			if rc.clusterCIDR != "" && usesCluster {
				r.rule(externalChain, "ip saddr", rc.clusterCIDR, "goto", clusterChain)
			}
			r.rule(externalChain, "fib saddr type local jump", markMasqChain)
			if usesCluster {
				r.rule(externalChain, "fib saddr type local goto", clusterChain)
			}
		}
		if hasExternal {
			r.rule(externalChain, "goto", externalPolicyChain)
		}
	}

	if sp.affinityTimeout > 0 {
		for _, ep := range c.reachable {
			r.sets[chainName(affinitySetPrefix, name+"__"+epName(ep))] = sp.affinityTimeout
		}
	}
	if usesCluster {
		r.endpointRules(sp, clusterChain, c.cluster, rc.picks)
	}
	if usesLocal {
		r.endpointRules(sp, localChain, c.local, rc.picks)
	}
	for _, ep := range c.reachable {
		// A pod reaching itself through its Service (hairpin) must see
		// the node as source, or it would answer itself directly; the
		// masquerading chain checks source == destination after DNAT
		// against this set. Pods on other nodes never hairpin here.
		if !ep.otherNode {
			r.addElem(hairpinSet, false, "", ep.ip.String(), ep.ip.String())
		}
		if sp.affinityTimeout > 0 {
			epChain := chainName(endpointChainPrefix, name+"__"+epName(ep))
			r.rule(epChain, "update @"+chainName(affinitySetPrefix, name+"__"+epName(ep)), "{ ip saddr }")
			r.rule(epChain, "meta l4proto", proto, "dnat to", ep.String())
		}
	}

	if proto == "udp" && c.any {
		t := udpTarget{nodePort: sp.nodePort, endpoints: map[netip.AddrPort]bool{}}
		t.dests = append(t.dests, netip.AddrPortFrom(sp.clusterIP, uint16(sp.port)))
		for _, ips := range [][]netip.Addr{sp.externalIPs, sp.lbIPs} {
			for _, ip := range ips {
				t.dests = append(t.dests, netip.AddrPortFrom(ip, uint16(sp.port)))
			}
		}
		for _, ep := range c.reachable {
			t.endpoints[netip.AddrPortFrom(ep.ip, uint16(ep.port))] = true
		}
		r.udp = append(r.udp, t)
	}
}

// endpointRules fills a policy chain: affinity lookups first, then a
// uniform random pick among the endpoints.
//
// Without affinity the pick is one rule, `dnat ip to numgen random mod N
// offset K map @endpoints-M`, over the chain's block of keys K … K+N-1
// in endpoints map M (see pickBlocks). Upstream picks with a `numgen
// vmap` to a chain per endpoint; at 10,000 Services that costs seconds
// per sync (each vmap is an anonymous set the kernel binds by walking the
// transaction, and every rule reachable from a base chain is walked again
// whenever the kernel re-validates the table, which it does on every
// commit that adds a rule with a jump, goto or DNAT, or a jump or goto
// element). With the map an endpoint replaced is element changes and no
// rule, so the kernel does not re-validate; a changed endpoint count
// rewrites one short rule.
//
// With affinity, a cascade of rules (1/n, then 1/(n-1), ... then the last)
// goes to per-endpoint chains that record the client and DNAT.
func (r *svcRules) endpointRules(sp *servicePort, chain string, eps []*endpoint, picks *pickBlocks) {
	name := sp.name()
	if sp.affinityTimeout == 0 {
		k := picks.pick(chain, len(eps))
		r.blocks[chain] = k
		m := endpointsMap(k.m).Name
		r.rule(chain, "meta l4proto", sp.protocol, "dnat ip to numgen random mod", itoa(len(eps)), "offset", itoa(int(k.start)), "map @"+m)
		for i, ep := range eps {
			r.addElem(m, true, ep.ip.String()+" . "+itoa(ep.port), strconv.FormatUint(uint64(k.start)+uint64(i), 10))
		}
		return
	}
	for _, ep := range eps {
		n := name + "__" + epName(ep)
		r.rule(chain, "ip saddr @"+chainName(affinitySetPrefix, n), "goto", chainName(endpointChainPrefix, n))
	}
	for i, ep := range eps {
		target := "goto " + chainName(endpointChainPrefix, name+"__"+epName(ep))
		if left := len(eps) - i; left > 1 {
			r.rule(chain, "numgen random mod", itoa(left), "==", "0", target)
		} else {
			r.rule(chain, target)
		}
	}
}

func epName(ep *endpoint) string { return ep.ip.String() + "/" + itoa(ep.port) }

// isServiceChain reports whether a chain name is per-Service.
func isServiceChain(name string) bool { return strings.Contains(name, "/") }

// isAffinitySet reports whether a set name is a per-endpoint affinity set.
func isAffinitySet(name string) bool { return strings.HasPrefix(name, affinitySetPrefix) }
