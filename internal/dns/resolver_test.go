package dns

import (
	"context"
	"fmt"
	"slices"
	"testing"

	miekg "github.com/miekg/dns"
)

var sprintf = fmt.Sprintf

const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796083200 7200 1800 86400 5"

func TestResolve(t *testing.T) {
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		ns     []string // authority; SOA for NODATA and NXDOMAIN
	}{
		// 2.2 Record for Schema Version
		{name: "dns-version", qname: "dns-version.cluster.local.", qtype: miekg.TypeTXT,
			answer: []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}},
		{name: "dns-version A is NODATA", qname: "dns-version.cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},

		// 2.3.1 A/AAAA for a Service with a ClusterIP
		{name: "A", qname: "kubernetes.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"kubernetes.default.svc.cluster.local. 5 IN A 10.43.0.1"}},
		{name: "AAAA of an IPv4 Service is NODATA", qname: "kubernetes.default.svc.cluster.local.", qtype: miekg.TypeAAAA,
			ns: []string{soa}},
		{name: "AAAA", qname: "v6.default.svc.cluster.local.", qtype: miekg.TypeAAAA,
			answer: []string{"v6.default.svc.cluster.local. 5 IN AAAA 2001:db8::1"}},
		{name: "A of an IPv6 Service is NODATA", qname: "v6.default.svc.cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},
		{name: "dual-stack A", qname: "dual.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"dual.default.svc.cluster.local. 5 IN A 10.43.0.20"}},
		{name: "dual-stack AAAA", qname: "dual.default.svc.cluster.local.", qtype: miekg.TypeAAAA,
			answer: []string{"dual.default.svc.cluster.local. 5 IN AAAA 2001:db8::20"}},
		{name: "MX of a Service is NODATA", qname: "kubernetes.default.svc.cluster.local.", qtype: miekg.TypeMX, ns: []string{soa}},

		// 2.3.2 SRV for a Service with a ClusterIP
		{name: "SRV", qname: "_https._tcp.kubernetes.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			answer: []string{"_https._tcp.kubernetes.default.svc.cluster.local. 5 IN SRV 0 100 443 kubernetes.default.svc.cluster.local."},
			extra:  []string{"kubernetes.default.svc.cluster.local. 5 IN A 10.43.0.1"}},
		{name: "SRV with the wrong protocol", qname: "_https._udp.kubernetes.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "A at an SRV name is NODATA", qname: "_https._tcp.kubernetes.default.svc.cluster.local.", qtype: miekg.TypeA,
			ns: []string{soa}},
		{name: "the _proto label above an SRV name is NODATA", qname: "_tcp.kubernetes.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			ns: []string{soa}},
		{name: "SRV on the Service name answers every port (53/udp and 53/tcp are one record)", qname: "kube-dns.kube-system.svc.cluster.local.", qtype: miekg.TypeSRV,
			answer: []string{
				"kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 50 53 kube-dns.kube-system.svc.cluster.local.",
				"kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 50 9153 kube-dns.kube-system.svc.cluster.local.",
			},
			extra: []string{"kube-dns.kube-system.svc.cluster.local. 5 IN A 10.43.0.10"}},
		{name: "unnamed ports have no SRV name", qname: "_._tcp.dual.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			rcode: miekg.RcodeNameError, ns: []string{soa}},

		// 2.4.1 A/AAAA for a headless Service: ready endpoints only
		{name: "headless A", qname: "headless.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{
				"headless.default.svc.cluster.local. 5 IN A 10.42.0.1",
				"headless.default.svc.cluster.local. 5 IN A 10.42.0.2",
				"headless.default.svc.cluster.local. 5 IN A 10.42.0.3",
			}},
		{name: "headless AAAA", qname: "headless.default.svc.cluster.local.", qtype: miekg.TypeAAAA,
			answer: []string{"headless.default.svc.cluster.local. 5 IN AAAA 2001:db8::100"}},
		{name: "endpoint hostname A", qname: "my-pet.headless.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"my-pet.headless.default.svc.cluster.local. 5 IN A 10.42.0.1"}},
		{name: "endpoint hostname AAAA", qname: "my-pet.headless.default.svc.cluster.local.", qtype: miekg.TypeAAAA,
			answer: []string{"my-pet.headless.default.svc.cluster.local. 5 IN AAAA 2001:db8::100"}},
		{name: "endpoint without hostname by its dashed address", qname: "10-42-0-3.headless.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"10-42-0-3.headless.default.svc.cluster.local. 5 IN A 10.42.0.3"}},
		{name: "not-ready endpoint has no name", qname: "10-42-0-4.headless.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "unknown endpoint", qname: "nobody.headless.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "headless without ready endpoints is NXDOMAIN", qname: "empty.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "publishNotReadyAddresses serves not-ready endpoints", qname: "published.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"published.default.svc.cluster.local. 5 IN A 10.42.1.7"}},
		{name: "endpoint names exist for ClusterIP Services too", qname: "10-42-2-9.web.other.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"10-42-2-9.web.other.svc.cluster.local. 5 IN A 10.42.2.9"}},

		// 2.4.2 SRV for a headless Service: one per ready endpoint and port
		{name: "headless SRV", qname: "_https._tcp.headless.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			answer: []string{
				"_https._tcp.headless.default.svc.cluster.local. 5 IN SRV 0 33 443 10-42-0-3.headless.default.svc.cluster.local.",
				"_https._tcp.headless.default.svc.cluster.local. 5 IN SRV 0 33 443 my-pet-2.headless.default.svc.cluster.local.",
				"_https._tcp.headless.default.svc.cluster.local. 5 IN SRV 0 33 443 my-pet.headless.default.svc.cluster.local.",
			},
			extra: []string{
				"10-42-0-3.headless.default.svc.cluster.local. 5 IN A 10.42.0.3",
				"my-pet-2.headless.default.svc.cluster.local. 5 IN A 10.42.0.2",
				"my-pet.headless.default.svc.cluster.local. 5 IN A 10.42.0.1",
				"my-pet.headless.default.svc.cluster.local. 5 IN AAAA 2001:db8::100",
			}},
		{name: "SRV of a headless Service without ready endpoints", qname: "_http._tcp.empty.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			rcode: miekg.RcodeNameError, ns: []string{soa}},

		// 2.3.3 and 2.4.3 PTR
		{name: "PTR of a cluster IP", qname: "1.0.43.10.in-addr.arpa.", qtype: miekg.TypePTR,
			answer: []string{"1.0.43.10.in-addr.arpa. 5 IN PTR kubernetes.default.svc.cluster.local."}},
		{name: "PTR of an IPv6 cluster IP", qname: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: miekg.TypePTR,
			answer: []string{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 5 IN PTR v6.default.svc.cluster.local."}},
		{name: "PTR of a headless endpoint with hostname", qname: "1.0.42.10.in-addr.arpa.", qtype: miekg.TypePTR,
			answer: []string{"1.0.42.10.in-addr.arpa. 5 IN PTR my-pet.headless.default.svc.cluster.local."}},
		{name: "PTR of a headless endpoint without hostname", qname: "3.0.42.10.in-addr.arpa.", qtype: miekg.TypePTR,
			answer: []string{"3.0.42.10.in-addr.arpa. 5 IN PTR 10-42-0-3.headless.default.svc.cluster.local."}},
		{name: "PTR of an IPv6 endpoint", qname: "0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: miekg.TypePTR,
			answer: []string{"0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 5 IN PTR my-pet.headless.default.svc.cluster.local."}},
		{name: "unknown address in a reverse CIDR is NXDOMAIN", qname: "99.99.43.10.in-addr.arpa.", qtype: miekg.TypePTR,
			rcode: miekg.RcodeNameError,
			ns:    []string{"43.10.in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796083200 7200 1800 86400 5"}},
		{name: "A at a known reverse name is NODATA", qname: "1.0.43.10.in-addr.arpa.", qtype: miekg.TypeA,
			ns: []string{"43.10.in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796083200 7200 1800 86400 5"}},

		// 2.5 ExternalName
		{name: "ExternalName A: CNAME chased upstream", qname: "foo.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{
				"foo.default.svc.cluster.local. 5 IN CNAME www.example.com.",
				"www.example.com. 300 IN A 192.0.2.53",
			}},
		{name: "ExternalName CNAME", qname: "foo.default.svc.cluster.local.", qtype: miekg.TypeCNAME,
			answer: []string{"foo.default.svc.cluster.local. 5 IN CNAME www.example.com."}},
		{name: "ExternalName inside the zone is chased locally", qname: "alias.default.svc.cluster.local.", qtype: miekg.TypeA,
			answer: []string{
				"alias.default.svc.cluster.local. 5 IN CNAME kubernetes.default.svc.cluster.local.",
				"kubernetes.default.svc.cluster.local. 5 IN A 10.43.0.1",
			}},
		{name: "ExternalName has no SRV names", qname: "_http._tcp.foo.default.svc.cluster.local.", qtype: miekg.TypeSRV,
			rcode: miekg.RcodeNameError, ns: []string{soa}},

		// 2.6 (1.0.x) pod records, CoreDNS "pods insecure"
		{name: "pod A", qname: "10-42-0-9.default.pod.cluster.local.", qtype: miekg.TypeA,
			answer: []string{"10-42-0-9.default.pod.cluster.local. 5 IN A 10.42.0.9"}},
		{name: "pod AAAA of an IPv4 pod is NODATA", qname: "10-42-0-9.default.pod.cluster.local.", qtype: miekg.TypeAAAA, ns: []string{soa}},
		{name: "pod IPv6", qname: "fd00-10-42--9.default.pod.cluster.local.", qtype: miekg.TypeAAAA,
			answer: []string{"fd00-10-42--9.default.pod.cluster.local. 5 IN AAAA fd00:10:42::9"}},
		{name: "pod name that is no address", qname: "10-42-0-999.default.pod.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "namespace under pod is NODATA", qname: "default.pod.cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},

		// Names that exist without records, names that do not exist
		{name: "zone SOA", qname: "cluster.local.", qtype: miekg.TypeSOA, answer: []string{soa}},
		{name: "zone NS", qname: "cluster.local.", qtype: miekg.TypeNS,
			answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."},
			extra:  []string{"ns.dns.cluster.local. 5 IN A 10.43.0.10"}},
		{name: "zone A is NODATA", qname: "cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},
		{name: "svc is NODATA", qname: "svc.cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},
		{name: "namespace with Services is NODATA", qname: "default.svc.cluster.local.", qtype: miekg.TypeA, ns: []string{soa}},
		{name: "namespace without Services is NXDOMAIN", qname: "nowhere.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "unknown Service", qname: "nosuch.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "wildcards are not served", qname: "*.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "any is not a wildcard", qname: "any.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "too deep", qname: "a.b._https._tcp.kubernetes.default.svc.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},
		{name: "neither svc nor pod", qname: "kubernetes.default.cluster.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError, ns: []string{soa}},

		// Case
		{name: "case-insensitive, question's case echoed", qname: "KuBeRnEtEs.DeFaUlT.SvC.ClUsTeR.LoCaL.", qtype: miekg.TypeA,
			answer: []string{"KuBeRnEtEs.DeFaUlT.SvC.ClUsTeR.LoCaL. 5 IN A 10.43.0.1"}},
		{name: "case of an SRV name", qname: "_HTTPS._TCP.Headless.Default.SVC.cluster.local.", qtype: miekg.TypeSRV,
			answer: []string{
				"_HTTPS._TCP.Headless.Default.SVC.cluster.local. 5 IN SRV 0 33 443 10-42-0-3.headless.default.svc.cluster.local.",
				"_HTTPS._TCP.Headless.Default.SVC.cluster.local. 5 IN SRV 0 33 443 my-pet-2.headless.default.svc.cluster.local.",
				"_HTTPS._TCP.Headless.Default.SVC.cluster.local. 5 IN SRV 0 33 443 my-pet.headless.default.svc.cluster.local.",
			},
			extra: []string{
				"10-42-0-3.headless.default.svc.cluster.local. 5 IN A 10.42.0.3",
				"my-pet-2.headless.default.svc.cluster.local. 5 IN A 10.42.0.2",
				"my-pet.headless.default.svc.cluster.local. 5 IN A 10.42.0.1",
				"my-pet.headless.default.svc.cluster.local. 5 IN AAAA 2001:db8::100",
			}},
		{name: "NXDOMAIN SOA in the question's case", qname: "nosuch.default.svc.CLUSTER.local.", qtype: miekg.TypeA,
			rcode: miekg.RcodeNameError,
			ns:    []string{"CLUSTER.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1796083200 7200 1800 86400 5"}},
	}
	r, _ := newTestResolver(t, fixture(), "10.43.0.0/16", "10.42.0.0/16")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := r.Resolve(context.Background(), query(tc.qname, tc.qtype), false)
			if m.Rcode != tc.rcode {
				t.Errorf("rcode %s; want %s", miekg.RcodeToString[m.Rcode], miekg.RcodeToString[tc.rcode])
			}
			if !m.Authoritative {
				t.Errorf("AA not set")
			}
			for _, sec := range []struct {
				name      string
				got, want []string
			}{{"answer", rrStrings(m.Answer), tc.answer}, {"extra", rrStrings(m.Extra), tc.extra}, {"authority", rrStrings(m.Ns), tc.ns}} {
				want := slices.Sorted(slices.Values(sec.want))
				if !slices.Equal(sec.got, want) {
					t.Errorf("%s:\n got %q\nwant %q", sec.name, sec.got, want)
				}
			}
		})
	}
}

func TestResolveForwards(t *testing.T) {
	cases := []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"outside the zone", "www.example.com.", miekg.TypeA},
		{"a suffix that is not the zone", "xcluster.local.", miekg.TypeA},
		{"reverse outside the reverse CIDRs", "1.2.0.192.in-addr.arpa.", miekg.TypePTR},
		{"reverse with no CIDRs configured and unknown", "6.6.43.10.in-addr.arpa.", miekg.TypePTR},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reverse []string
			if tc.name != "reverse with no CIDRs configured and unknown" {
				reverse = []string{"10.43.0.0/16"}
			}
			r, up := newTestResolver(t, fixture(), reverse...)
			req := query(tc.qname, tc.qtype)
			m := r.Resolve(context.Background(), req, false)
			if !slices.Equal(up.names, []string{tc.qname}) {
				t.Errorf("upstream saw %q; want %q", up.names, tc.qname)
			}
			if m.Id != req.Id || m.Authoritative {
				t.Errorf("id %d, AA %v; want %d, false", m.Id, m.Authoritative, req.Id)
			}
		})
	}
}

func TestResolveWithoutUpstreams(t *testing.T) {
	r, _ := newTestResolver(t, fixture())
	r.fwd = nil
	if m := r.Resolve(context.Background(), query("www.example.com.", miekg.TypeA), false); m.Rcode != miekg.RcodeServerFailure {
		t.Errorf("rcode %s; want SERVFAIL", miekg.RcodeToString[m.Rcode])
	}
	// The cluster zone still answers, and an ExternalName still gets its CNAME.
	m := r.Resolve(context.Background(), query("foo.default.svc.cluster.local.", miekg.TypeA), false)
	if got := rrStrings(m.Answer); m.Rcode != miekg.RcodeSuccess || len(got) != 1 {
		t.Errorf("got %s %q; want NOERROR with the CNAME", miekg.RcodeToString[m.Rcode], got)
	}
}

func TestResolveMalformed(t *testing.T) {
	r, _ := newTestResolver(t, fixture())
	twoQ := query("a.cluster.local.", miekg.TypeA)
	twoQ.Question = append(twoQ.Question, twoQ.Question[0])
	notify := query("cluster.local.", miekg.TypeSOA)
	notify.Opcode = miekg.OpcodeNotify
	edns1 := query("cluster.local.", miekg.TypeSOA)
	edns1.SetEdns0(4096, false)
	edns1.IsEdns0().SetVersion(1)
	axfr := query("cluster.local.", miekg.TypeAXFR)
	for _, tc := range []struct {
		name  string
		req   *miekg.Msg
		rcode int
	}{
		{"two questions", twoQ, miekg.RcodeFormatError},
		{"not a query", notify, miekg.RcodeNotImplemented},
		{"EDNS version 1", edns1, miekg.RcodeBadVers},
		{"zone transfer", axfr, miekg.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m := r.Resolve(context.Background(), tc.req, false); m.Rcode != tc.rcode {
				t.Errorf("rcode %s; want %s", miekg.RcodeToString[m.Rcode], miekg.RcodeToString[tc.rcode])
			}
		})
	}
}

func TestHeadlessAnswersRotate(t *testing.T) {
	r, _ := newTestResolver(t, fixture())
	firsts := map[string]bool{}
	for i := 0; i < 3; i++ {
		m := r.Resolve(context.Background(), query("headless.default.svc.cluster.local.", miekg.TypeA), false)
		firsts[m.Answer[0].String()] = true
	}
	if len(firsts) != 3 {
		t.Errorf("first records of three answers: %v; want each address once", firsts)
	}
}

func TestResolveEDNS(t *testing.T) {
	r, _ := newTestResolver(t, fixture())
	r.fwd = &scripted{reply: func(req *miekg.Msg) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetReply(req)
		m.SetEdns0(4096, false)
		return m
	}}
	for _, tc := range []struct {
		name  string
		qname string
		edns  bool
	}{
		{"local, client with EDNS0", "kubernetes.default.svc.cluster.local.", true},
		{"local, client without", "kubernetes.default.svc.cluster.local.", false},
		{"forwarded, client with EDNS0", "www.example.com.", true},
		{"forwarded, client without: the upstream's OPT dropped", "www.example.com.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := query(tc.qname, miekg.TypeA)
			if tc.edns {
				req.SetEdns0(1232, false)
			}
			m := r.Resolve(context.Background(), req, false)
			if got := m.IsEdns0() != nil; got != tc.edns {
				t.Errorf("OPT in the answer: %v; want %v", got, tc.edns)
			}
		})
	}
}
