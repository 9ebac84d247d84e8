package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/clock"
)

// tolerateUnreadyAnnotation is the legacy form of
// spec.publishNotReadyAddresses, still named by the DNS specification.
const tolerateUnreadyAnnotation = "service.alpha.kubernetes.io/tolerate-unready-endpoints"

type serviceKind uint8

const (
	kindClusterIP serviceKind = iota
	kindHeadless
	kindExternalName
)

// objKey names a namespaced object (a Service or an EndpointSlice).
type objKey struct{ namespace, name string }

// serviceInfo is what the index keeps of a Service.
type serviceInfo struct {
	kind            serviceKind
	clusterIPs      []netip.Addr
	ports           []portInfo
	externalName    string // lower-case FQDN; "" if unusable
	publishNotReady bool
}

// portInfo is a Service or EndpointSlice port; name and proto are lower
// case (proto "tcp", "udp" or "sctp").
type portInfo struct {
	name, proto string
	port        uint16
}

// sliceInfo is what the index keeps of an EndpointSlice.
type sliceInfo struct {
	name      string
	ports     []portInfo
	endpoints []endpointInfo
}

type endpointInfo struct {
	addrs    []netip.Addr
	hostname string // spec hostname, lower case; "" if unset
	ready    bool
}

// serviceView is the records one Service contributes, derived from its
// serviceInfo and EndpointSlices. Immutable once published in the index:
// readers use it without a lock.
type serviceView struct {
	kind serviceKind
	fqdn string // <svc>.<ns>.svc.<zone>.
	// addrs answer A/AAAA at the Service name: the cluster IPs, or the
	// ready endpoints' addresses for a headless Service.
	addrs        []netip.Addr
	externalName string
	// hosts are the ready endpoints by hostname (spec or dashed address).
	hosts map[string][]netip.Addr
	// srv are the SRV records by "_port._proto"; all is every port,
	// named or not, for an SRV query on the Service name itself.
	srv map[string][]srvRecord
	all []srvRecord
	// protos are the "_proto" labels that have SRV names below them.
	protos map[string]bool
	ptrs   []ptrEntry
}

// exists reports whether the Service name exists in DNS.
func (v *serviceView) exists() bool {
	switch v.kind {
	case kindHeadless:
		return len(v.addrs) > 0 // the spec: no ready endpoints is NXDOMAIN
	case kindExternalName:
		return v.externalName != ""
	}
	return true
}

type srvRecord struct {
	port   uint16
	target string       // FQDN
	addrs  []netip.Addr // the target's addresses, for the additional section
}

type ptrEntry struct {
	addr      netip.Addr
	owner     objKey // the Service
	target    string // FQDN
	clusterIP bool
}

// index holds the cluster's DNS records, updated one Service at a time
// from informer events and read by every query.
type index struct {
	zone  string // lower-case FQDN, e.g. "cluster.local."
	clock clock.PassiveClock

	// mu guards every field below. Writers are the informer handlers;
	// readers are queries. Values handed out (views, ptr slices) are never
	// modified after being stored, so readers use them after unlocking.
	mu         sync.RWMutex
	services   map[objKey]*serviceState
	sliceOwner map[objKey]objKey         // EndpointSlice → its Service
	namespaces map[string]int            // Services with a view, per namespace
	reverse    map[netip.Addr][]ptrEntry // copy on write
	serial     uint32                    // SOA serial: time of the last change
}

// serviceState is one Service's inputs and derived view.
type serviceState struct {
	info   *serviceInfo // nil until the Service is seen
	slices map[string]*sliceInfo
	view   *serviceView // nil when info is nil
}

func newIndex(zone string, clk clock.PassiveClock) *index {
	return &index{
		zone:       zone,
		clock:      clk,
		services:   map[objKey]*serviceState{},
		sliceOwner: map[objKey]objKey{},
		namespaces: map[string]int{},
		reverse:    map[netip.Addr][]ptrEntry{},
		serial:     uint32(clk.Now().Unix()),
	}
}

// setService records svc (added or updated). svc is not retained.
func (ix *index) setService(svc *corev1.Service) {
	info := parseService(svc)
	key := objKey{svc.Namespace, svc.Name}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.state(key)
	st.info = info
	ix.rebuild(key, st)
}

// deleteService forgets a Service; its EndpointSlices stay known.
func (ix *index) deleteService(namespace, name string) {
	key := objKey{namespace, name}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.services[key]
	if st == nil {
		return
	}
	st.info = nil
	ix.rebuild(key, st)
}

// setSlice records es (added or updated) under the Service its
// kubernetes.io/service-name label names. es is not retained.
func (ix *index) setSlice(es *discoveryv1.EndpointSlice) {
	skey := objKey{es.Namespace, es.Name}
	owner := es.Labels[discoveryv1.LabelServiceName]
	info := parseSlice(es)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.sliceOwner[skey]; ok && old.name != owner {
		ix.removeSlice(skey, old)
	}
	if owner == "" {
		return
	}
	key := objKey{es.Namespace, owner}
	ix.sliceOwner[skey] = key
	st := ix.state(key)
	st.slices[es.Name] = info
	ix.rebuild(key, st)
}

// deleteSlice forgets an EndpointSlice.
func (ix *index) deleteSlice(namespace, name string) {
	skey := objKey{namespace, name}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if owner, ok := ix.sliceOwner[skey]; ok {
		ix.removeSlice(skey, owner)
	}
}

// removeSlice drops slice skey from owner's state. mu must be held.
func (ix *index) removeSlice(skey, owner objKey) {
	delete(ix.sliceOwner, skey)
	st := ix.services[owner]
	if st == nil {
		return
	}
	delete(st.slices, skey.name)
	ix.rebuild(owner, st)
}

// state returns key's state, creating it. mu must be held.
func (ix *index) state(key objKey) *serviceState {
	st := ix.services[key]
	if st == nil {
		st = &serviceState{slices: map[string]*sliceInfo{}}
		ix.services[key] = st
	}
	return st
}

// rebuild replaces key's view after a change to its inputs and updates
// the namespace counts and reverse records it contributes. mu must be held.
func (ix *index) rebuild(key objKey, st *serviceState) {
	old := st.view
	var nv *serviceView
	if st.info != nil {
		nv = buildView(key, st.info, st.slices, ix.zone)
	}
	st.view = nv
	switch {
	case old == nil && nv != nil:
		ix.namespaces[key.namespace]++
	case old != nil && nv == nil:
		if ix.namespaces[key.namespace]--; ix.namespaces[key.namespace] <= 0 {
			delete(ix.namespaces, key.namespace)
		}
	}
	if old != nil {
		ix.removePTRs(key, old.ptrs)
	}
	if nv != nil {
		for _, p := range nv.ptrs {
			cur := ix.reverse[p.addr]
			next := make([]ptrEntry, 0, len(cur)+1)
			next = append(next, cur...)
			ix.reverse[p.addr] = append(next, p)
		}
	}
	if st.info == nil && len(st.slices) == 0 {
		delete(ix.services, key)
	}
	ix.serial = uint32(ix.clock.Now().Unix())
}

// removePTRs drops owner's entries at the addresses of ptrs. mu must be held.
func (ix *index) removePTRs(owner objKey, ptrs []ptrEntry) {
	for _, p := range ptrs {
		cur, ok := ix.reverse[p.addr]
		if !ok {
			continue // an earlier iteration removed this address's entries
		}
		var next []ptrEntry
		for _, e := range cur {
			if e.owner != owner {
				next = append(next, e)
			}
		}
		if len(next) == 0 {
			delete(ix.reverse, p.addr)
		} else {
			ix.reverse[p.addr] = next
		}
	}
}

// lookupService returns the view of namespace/name, nil if none.
func (ix *index) lookupService(namespace, name string) *serviceView {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if st := ix.services[objKey{namespace, name}]; st != nil {
		return st.view
	}
	return nil
}

// hasNamespace reports whether namespace holds any Service.
func (ix *index) hasNamespace(namespace string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.namespaces[namespace] > 0
}

// ptr returns the reverse records at a; the caller must not modify them.
func (ix *index) ptr(a netip.Addr) []ptrEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.reverse[a]
}

func (ix *index) soaSerial() uint32 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.serial
}

func parseService(svc *corev1.Service) *serviceInfo {
	info := &serviceInfo{
		publishNotReady: svc.Spec.PublishNotReadyAddresses ||
			strings.EqualFold(svc.Annotations[tolerateUnreadyAnnotation], "true"),
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		info.kind = kindExternalName
		name := strings.ToLower(strings.TrimSuffix(svc.Spec.ExternalName, "."))
		// An address is not a name a CNAME can point at (CoreDNS skips it too).
		if _, err := netip.ParseAddr(name); err != nil && name != "" {
			info.externalName = name + "."
		}
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		info.kind = kindHeadless
	default:
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, s := range ips {
			if a, err := netip.ParseAddr(s); err == nil {
				info.clusterIPs = append(info.clusterIPs, a.Unmap())
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		info.ports = append(info.ports, portInfo{
			name:  strings.ToLower(p.Name),
			proto: protoLabel(p.Protocol),
			port:  uint16(p.Port),
		})
	}
	return info
}

func parseSlice(es *discoveryv1.EndpointSlice) *sliceInfo {
	info := &sliceInfo{name: es.Name}
	if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
		return info // FQDN slices have no addresses DNS can serve
	}
	for _, p := range es.Ports {
		if p.Port == nil {
			continue // "all ports": nothing to put in an SRV record
		}
		pi := portInfo{port: uint16(*p.Port), proto: "tcp"}
		if p.Name != nil {
			pi.name = strings.ToLower(*p.Name)
		}
		if p.Protocol != nil {
			pi.proto = protoLabel(*p.Protocol)
		}
		info.ports = append(info.ports, pi)
	}
	for _, ep := range es.Endpoints {
		e := endpointInfo{ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
		if ep.Hostname != nil {
			e.hostname = strings.ToLower(*ep.Hostname)
		}
		for _, s := range ep.Addresses {
			if a, err := netip.ParseAddr(s); err == nil {
				e.addrs = append(e.addrs, a.Unmap())
			}
		}
		info.endpoints = append(info.endpoints, e)
	}
	return info
}

func protoLabel(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// buildView derives a Service's records. It reads but does not retain
// the map of its EndpointSlices.
func buildView(key objKey, info *serviceInfo, epSlices map[string]*sliceInfo, zone string) *serviceView {
	v := &serviceView{
		kind:         info.kind,
		fqdn:         key.name + "." + key.namespace + ".svc." + zone,
		externalName: info.externalName,
	}
	if info.kind == kindExternalName {
		return v
	}
	v.hosts = map[string][]netip.Addr{}
	v.srv = map[string][]srvRecord{}
	v.protos = map[string]bool{}
	for _, a := range info.clusterIPs {
		v.ptrs = append(v.ptrs, ptrEntry{addr: a, owner: key, target: v.fqdn, clusterIP: true})
	}

	// Ready endpoints, in slice-name order so answers are stable.
	type readyEndpoint struct {
		host  string
		addrs []netip.Addr
		ports []portInfo
	}
	var ready []readyEndpoint
	for _, name := range sortedKeys(epSlices) {
		s := epSlices[name]
		for _, ep := range s.endpoints {
			if !ep.ready && !info.publishNotReady {
				continue
			}
			if ep.hostname != "" {
				ready = append(ready, readyEndpoint{ep.hostname, ep.addrs, s.ports})
				continue
			}
			for _, a := range ep.addrs {
				ready = append(ready, readyEndpoint{dashed(a), []netip.Addr{a}, s.ports})
			}
		}
	}
	for _, ep := range ready {
		for _, a := range ep.addrs {
			if !slices.Contains(v.hosts[ep.host], a) {
				v.hosts[ep.host] = append(v.hosts[ep.host], a)
				v.ptrs = append(v.ptrs, ptrEntry{addr: a, owner: key, target: ep.host + "." + v.fqdn})
			}
		}
	}

	addSRV := func(p portInfo, rec srvRecord) {
		if p.name != "" {
			k := "_" + p.name + "._" + p.proto
			if !containsSRV(v.srv[k], rec) {
				v.srv[k] = append(v.srv[k], rec)
			}
			v.protos["_"+p.proto] = true
		}
		if !containsSRV(v.all, rec) {
			v.all = append(v.all, rec)
		}
	}
	if info.kind == kindHeadless {
		for _, ep := range ready {
			for _, a := range ep.addrs {
				if !slices.Contains(v.addrs, a) {
					v.addrs = append(v.addrs, a)
				}
			}
		}
		for _, ep := range ready {
			target := ep.host + "." + v.fqdn
			for _, p := range ep.ports {
				addSRV(p, srvRecord{port: p.port, target: target, addrs: v.hosts[ep.host]})
			}
		}
		return v
	}
	v.addrs = info.clusterIPs
	for _, p := range info.ports {
		addSRV(p, srvRecord{port: p.port, target: v.fqdn, addrs: v.addrs})
	}
	return v
}

func containsSRV(recs []srvRecord, r srvRecord) bool {
	for _, x := range recs {
		if x.port == r.port && x.target == r.target {
			return true
		}
	}
	return false
}

// dashed is an endpoint's generated hostname: its address with '-' for
// '.' or ':' (a trailing '-' gets a '0' so the label stays valid), as
// CoreDNS names endpoints without a hostname.
func dashed(a netip.Addr) string {
	s := a.String()
	if a.Is4() {
		return strings.ReplaceAll(s, ".", "-")
	}
	s = strings.ReplaceAll(s, ":", "-")
	if strings.HasSuffix(s, "-") {
		s += "0"
	}
	if strings.HasPrefix(s, "-") {
		s = "0" + s
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
