package dns

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	miekg "github.com/miekg/dns"
)

// ednsSize is the UDP payload size advertised in our EDNS0 OPT records
// (the DNS flag day 2020 value).
const ednsSize = 1232

// maxChase bounds CNAME chains inside the cluster zone.
const maxChase = 8

// exchanger sends a query to upstream resolvers.
type exchanger interface {
	// Exchange returns an upstream's answer to req, whose ID it keeps.
	// tcp asks for TCP from the start. req is not modified.
	Exchange(ctx context.Context, req *miekg.Msg, tcp bool) (*miekg.Msg, error)
}

// resolver answers queries from the index, and forwards what is not the
// cluster's. It does no socket I/O and no truncation: Resolve is the
// whole of the server's logic for one query and is safe for concurrent use.
type resolver struct {
	zone         string // lower-case FQDN, e.g. "cluster.local."
	ttl          uint32
	ix           *index
	reverseZones []reverseZone
	fwd          exchanger // nil: no upstreams, SERVFAIL
	log          *slog.Logger
	rotation     atomic.Uint32 // where the next multi-address answer starts
}

// reverseZone is one of Config.ReverseCIDRs and its reverse-DNS zone.
type reverseZone struct {
	prefix netip.Prefix
	zone   string // e.g. "43.10.in-addr.arpa."
}

// result is a lookup's outcome inside the cluster zone.
type result struct {
	nxdomain bool
	answer   []miekg.RR
	extra    []miekg.RR
	rcode    int // for a chased CNAME whose target does not exist
}

// Resolve answers req, received over TCP when tcp is set. The answer is
// never nil; it is not yet truncated to the client's buffer size.
func (r *resolver) Resolve(ctx context.Context, req *miekg.Msg, tcp bool) *miekg.Msg {
	m := r.resolve(ctx, req, tcp)
	switch opt := req.IsEdns0(); {
	case opt != nil && m.IsEdns0() == nil:
		m.SetEdns0(ednsSize, false)
	case opt == nil && m.IsEdns0() != nil:
		// An upstream's OPT, which a client without EDNS0 must not get
		// (RFC 6891 section 7).
		extra := m.Extra[:0:0]
		for _, rr := range m.Extra {
			if rr.Header().Rrtype != miekg.TypeOPT {
				extra = append(extra, rr)
			}
		}
		m.Extra = extra
	}
	return m
}

func (r *resolver) resolve(ctx context.Context, req *miekg.Msg, tcp bool) *miekg.Msg {
	switch {
	case req.Response || len(req.Question) != 1:
		return reply(req, miekg.RcodeFormatError)
	case req.Opcode != miekg.OpcodeQuery:
		return reply(req, miekg.RcodeNotImplemented)
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		m := reply(req, miekg.RcodeBadVers)
		m.SetEdns0(ednsSize, false)
		return m
	}
	q := req.Question[0]
	lname := strings.ToLower(q.Name)
	if zoneOf(lname, r.zone) {
		return r.local(ctx, req, lname, tcp)
	}
	if m := r.reverse(req, lname); m != nil {
		return m
	}
	return r.forward(ctx, req, tcp)
}

func reply(req *miekg.Msg, rcode int) *miekg.Msg {
	m := new(miekg.Msg)
	m.SetRcode(req, rcode)
	m.RecursionAvailable = true
	return m
}

// zoneOf reports whether lower-case FQDN name is zone or below it.
func zoneOf(name, zone string) bool {
	return name == zone || (strings.HasSuffix(name, zone) && name[len(name)-len(zone)-1] == '.')
}

// local answers a question in the cluster zone.
func (r *resolver) local(ctx context.Context, req *miekg.Msg, lname string, tcp bool) *miekg.Msg {
	q := req.Question[0]
	m := reply(req, miekg.RcodeSuccess)
	m.Authoritative = true
	if q.Qclass != miekg.ClassINET && q.Qclass != miekg.ClassANY {
		m.Rcode = miekg.RcodeRefused
		return m
	}
	if q.Qtype == miekg.TypeAXFR || q.Qtype == miekg.TypeIXFR {
		m.Rcode = miekg.RcodeRefused
		return m
	}
	// The zone as the client spelled it: SOA owners echo its case.
	zoneOwner := q.Name[len(q.Name)-len(r.zone):]
	res := r.lookup(ctx, q.Name, lname, q.Qtype, zoneOwner, tcp, 0)
	m.Answer, m.Extra = res.answer, res.extra
	switch {
	case res.nxdomain:
		m.Rcode = miekg.RcodeNameError
	case res.rcode != 0:
		m.Rcode = res.rcode
	}
	if len(m.Answer) == 0 || res.nxdomain {
		m.Ns = []miekg.RR{r.soa(zoneOwner)}
	}
	return m
}

// lookup finds the records of type qtype at owner (lname lower case) in
// the cluster zone. depth counts CNAME chasing.
func (r *resolver) lookup(ctx context.Context, owner, lname string, qtype uint16, zoneOwner string, tcp bool, depth int) result {
	rest := strings.TrimSuffix(lname[:len(lname)-len(r.zone)], ".")
	if rest == "" {
		return r.apex(owner, qtype, zoneOwner)
	}
	if strings.Count(rest, ".") > 4 {
		return result{nxdomain: true} // deeper than any name served
	}
	l := strings.Split(rest, ".")
	n := len(l)
	switch l[n-1] {
	case "svc":
		switch n {
		case 1:
			return result{} // svc.<zone>: an empty non-terminal
		case 2:
			return result{nxdomain: !r.ix.hasNamespace(l[0])}
		}
		v := r.ix.lookupService(l[n-2], l[n-3])
		if v == nil || !v.exists() {
			return result{nxdomain: true}
		}
		switch n {
		case 3:
			return r.service(ctx, owner, v, qtype, tcp, depth)
		case 4:
			if v.kind == kindExternalName {
				return result{nxdomain: true}
			}
			if strings.HasPrefix(l[0], "_") { // _proto above _port._proto names
				return result{nxdomain: !v.protos[l[0]]}
			}
			addrs := v.hosts[l[0]]
			if len(addrs) == 0 {
				return result{nxdomain: true}
			}
			return result{answer: r.addrRRs(nil, owner, addrs, qtype)}
		case 5:
			if v.kind == kindExternalName || !strings.HasPrefix(l[0], "_") || !strings.HasPrefix(l[1], "_") {
				return result{nxdomain: true}
			}
			recs := v.srv[l[0]+"."+l[1]]
			if len(recs) == 0 {
				return result{nxdomain: true}
			}
			if qtype != miekg.TypeSRV && qtype != miekg.TypeANY {
				return result{}
			}
			return r.srvRRs(owner, recs)
		}
	case "pod":
		switch n {
		case 1, 2:
			return result{} // pod.<zone> and <ns>.pod.<zone>
		case 3:
			a, ok := podAddr(l[0])
			if !ok {
				return result{nxdomain: true}
			}
			return result{answer: r.addrRRs(nil, owner, []netip.Addr{a}, qtype)}
		}
	case "dns-version":
		if n == 1 {
			if qtype != miekg.TypeTXT && qtype != miekg.TypeANY {
				return result{}
			}
			return result{answer: []miekg.RR{&miekg.TXT{Hdr: r.hdr(owner, miekg.TypeTXT), Txt: []string{SchemaVersion}}}}
		}
	case "dns":
		switch {
		case n == 1:
			return result{} // above ns.dns.<zone>
		case n == 2 && l[0] == "ns":
			return result{answer: r.addrRRs(nil, owner, r.nameserverAddrs(), qtype)}
		}
	}
	return result{nxdomain: true}
}

// apex answers at the zone's own name.
func (r *resolver) apex(owner string, qtype uint16, zoneOwner string) result {
	var res result
	if qtype == miekg.TypeSOA || qtype == miekg.TypeANY {
		res.answer = append(res.answer, r.soa(zoneOwner))
	}
	if qtype == miekg.TypeNS || qtype == miekg.TypeANY {
		ns := "ns.dns." + zoneOwner
		res.answer = append(res.answer, &miekg.NS{Hdr: r.hdr(owner, miekg.TypeNS), Ns: ns})
		res.extra = r.addrRRs(res.extra, ns, r.nameserverAddrs(), miekg.TypeANY)
	}
	return res
}

// nameserverAddrs are the cluster DNS Service's addresses, the glue of
// ns.dns.<zone>.
func (r *resolver) nameserverAddrs() []netip.Addr {
	if v := r.ix.lookupService("kube-system", "kube-dns"); v != nil && v.kind == kindClusterIP {
		return v.addrs
	}
	return nil
}

// service answers at a Service's own name.
func (r *resolver) service(ctx context.Context, owner string, v *serviceView, qtype uint16, tcp bool, depth int) result {
	if v.kind == kindExternalName {
		cname := &miekg.CNAME{Hdr: r.hdr(owner, miekg.TypeCNAME), Target: v.externalName}
		res := result{answer: []miekg.RR{cname}}
		if qtype == miekg.TypeCNAME {
			return res
		}
		return r.chase(ctx, res, v.externalName, qtype, tcp, depth)
	}
	if qtype == miekg.TypeSRV {
		return r.srvRRs(owner, v.all)
	}
	rrs := r.addrRRs(nil, owner, v.addrs, qtype)
	if len(rrs) > 1 {
		// Clients mostly take the first address: rotate a headless
		// Service's answer so load spreads, as CoreDNS's loadbalance.
		n := int(r.rotation.Add(1) % uint32(len(rrs)))
		rrs = append(rrs[n:], rrs[:n]...)
	}
	return result{answer: rrs}
}

// chase appends the records of target (a CNAME's) to res: from the index
// when target is in the cluster zone, else from upstream. Failing to
// resolve the target leaves the CNAME alone, for the client to follow.
func (r *resolver) chase(ctx context.Context, res result, target string, qtype uint16, tcp bool, depth int) result {
	if zoneOf(target, r.zone) {
		if depth >= maxChase {
			return res
		}
		t := r.lookup(ctx, target, target, qtype, r.zone, tcp, depth+1)
		res.answer = append(res.answer, t.answer...)
		res.extra = append(res.extra, t.extra...)
		if t.nxdomain {
			res.rcode = miekg.RcodeNameError
		}
		return res
	}
	if r.fwd == nil {
		return res
	}
	q := new(miekg.Msg)
	q.SetQuestion(target, qtype)
	up, err := r.fwd.Exchange(ctx, q, tcp)
	if err != nil {
		r.log.Debug("resolving an ExternalName target", "target", target, "err", err)
		return res
	}
	res.answer = append(res.answer, up.Answer...)
	if up.Rcode == miekg.RcodeNameError {
		res.rcode = miekg.RcodeNameError
	}
	return res
}

// addrRRs appends to rrs the A (IPv4) and AAAA (IPv6) records among addrs
// that qtype asks for (both for ANY).
func (r *resolver) addrRRs(rrs []miekg.RR, owner string, addrs []netip.Addr, qtype uint16) []miekg.RR {
	for _, a := range addrs {
		switch {
		case a.Is4() && (qtype == miekg.TypeA || qtype == miekg.TypeANY):
			b := a.As4()
			rrs = append(rrs, &miekg.A{Hdr: r.hdr(owner, miekg.TypeA), A: b[:]})
		case a.Is6() && (qtype == miekg.TypeAAAA || qtype == miekg.TypeANY):
			b := a.As16()
			rrs = append(rrs, &miekg.AAAA{Hdr: r.hdr(owner, miekg.TypeAAAA), AAAA: b[:]})
		}
	}
	return rrs
}

// srvRRs answers SRV records, with their targets' addresses as
// additional records.
func (r *resolver) srvRRs(owner string, recs []srvRecord) result {
	var res result
	weight := uint16(100 / max(len(recs), 1))
	weight = max(weight, 1)
	seen := map[string]bool{}
	for _, rec := range recs {
		res.answer = append(res.answer, &miekg.SRV{
			Hdr: r.hdr(owner, miekg.TypeSRV), Priority: 0, Weight: weight, Port: rec.port, Target: rec.target,
		})
		if !seen[rec.target] {
			seen[rec.target] = true
			res.extra = r.addrRRs(res.extra, rec.target, rec.addrs, miekg.TypeANY)
		}
	}
	return res
}

func (r *resolver) hdr(owner string, t uint16) miekg.RR_Header {
	return miekg.RR_Header{Name: owner, Rrtype: t, Class: miekg.ClassINET, Ttl: r.ttl}
}

// soa is the SOA record of zone (the cluster zone as the client spelled
// it, or a reverse zone).
func (r *resolver) soa(zone string) *miekg.SOA {
	return &miekg.SOA{
		Hdr:     r.hdr(zone, miekg.TypeSOA),
		Ns:      "ns.dns." + r.zone,
		Mbox:    "hostmaster." + r.zone,
		Serial:  r.ix.soaSerial(),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  r.ttl,
	}
}

// reverse answers a reverse (PTR) name it is responsible for: one the
// index knows, or one inside Config.ReverseCIDRs. It returns nil for a
// name to forward.
func (r *resolver) reverse(req *miekg.Msg, lname string) *miekg.Msg {
	if !strings.HasSuffix(lname, ".in-addr.arpa.") && !strings.HasSuffix(lname, ".ip6.arpa.") &&
		lname != "in-addr.arpa." && lname != "ip6.arpa." {
		return nil
	}
	q := req.Question[0]
	a, full := reverseAddr(lname)
	var entries []ptrEntry
	if full {
		entries = r.ix.ptr(a)
	}
	var rz *reverseZone
	for i := range r.reverseZones {
		z := &r.reverseZones[i]
		if (full && z.prefix.Contains(a)) || (!full && zoneOf(lname, z.zone)) {
			rz = z
			break
		}
	}
	if len(entries) == 0 && rz == nil {
		return nil
	}
	m := reply(req, miekg.RcodeSuccess)
	m.Authoritative = true
	if len(entries) > 0 {
		// A Service's cluster IP names the Service alone (as CoreDNS);
		// otherwise every endpoint at the address is named.
		clusterIP := false
		for _, e := range entries {
			clusterIP = clusterIP || e.clusterIP
		}
		if q.Qtype == miekg.TypePTR || q.Qtype == miekg.TypeANY {
			for _, e := range entries {
				if e.clusterIP == clusterIP {
					m.Answer = append(m.Answer, &miekg.PTR{Hdr: r.hdr(q.Name, miekg.TypePTR), Ptr: e.target})
				}
			}
		}
	} else if full {
		m.Rcode = miekg.RcodeNameError
	}
	if len(m.Answer) == 0 {
		zone := "in-addr.arpa."
		if strings.HasSuffix(lname, "ip6.arpa.") {
			zone = "ip6.arpa."
		}
		if rz != nil {
			zone = rz.zone
		}
		m.Ns = []miekg.RR{r.soa(zone)}
	}
	return m
}

// reverseAddr parses a full reverse name (4 decimal labels under
// in-addr.arpa., 32 nibbles under ip6.arpa.); full is false otherwise.
func reverseAddr(lname string) (a netip.Addr, full bool) {
	if s, ok := strings.CutSuffix(lname, ".in-addr.arpa."); ok {
		l := strings.Split(s, ".")
		if len(l) != 4 {
			return a, false
		}
		var b [4]byte
		for i, x := range l {
			v, err := strconv.ParseUint(x, 10, 8)
			if err != nil || (len(x) > 1 && x[0] == '0') {
				return a, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if s, ok := strings.CutSuffix(lname, ".ip6.arpa."); ok {
		if len(s) != 63 {
			return a, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			c := s[2*i]
			if i < 31 && s[2*i+1] != '.' {
				return a, false
			}
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			default:
				return a, false
			}
			nib := 31 - i // nibble index from the address's start
			if nib%2 == 0 {
				b[nib/2] |= v << 4
			} else {
				b[nib/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return a, false
}

// reverseZoneOf is the reverse-DNS zone covering p, cut at the label
// boundary at or above its length (/16 → 43.10.in-addr.arpa.).
func reverseZoneOf(p netip.Prefix) string {
	p = p.Masked()
	var labels []string
	if p.Addr().Is4() {
		b := p.Addr().As4()
		for i := 0; i < p.Bits()/8; i++ {
			labels = append([]string{strconv.Itoa(int(b[i]))}, labels...)
		}
		return strings.Join(append(labels, "in-addr.arpa."), ".")
	}
	b := p.Addr().As16()
	const hex = "0123456789abcdef"
	for i := 0; i < p.Bits()/4; i++ {
		v := b[i/2] >> 4
		if i%2 == 1 {
			v = b[i/2] & 0xf
		}
		labels = append([]string{string(hex[v])}, labels...)
	}
	return strings.Join(append(labels, "ip6.arpa."), ".")
}

// podAddr decodes a pod name label: 10-42-0-5, or an IPv6 address with
// '-' for ':'.
func podAddr(label string) (netip.Addr, bool) {
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// forward sends a question outside the cluster's zones upstream.
func (r *resolver) forward(ctx context.Context, req *miekg.Msg, tcp bool) *miekg.Msg {
	if r.fwd == nil {
		return reply(req, miekg.RcodeServerFailure)
	}
	resp, err := r.fwd.Exchange(ctx, req, tcp)
	if err != nil {
		r.log.Debug("forwarding", "name", req.Question[0].Name, "err", err)
		return reply(req, miekg.RcodeServerFailure)
	}
	resp.Id = req.Id
	return resp
}
