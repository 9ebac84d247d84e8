package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// testServer is an authoritative miekg/dns server on 127.0.0.1 (UDP and TCP
// on one port) that records the queries it gets.
type testServer struct {
	port string
	zone map[string][]dns.RR // by lower-case owner name

	mu      sync.Mutex
	queries []string // "udp|tcp NAME TYPE"
}

func newTestServer(t *testing.T, records ...string) *testServer {
	t.Helper()
	s := &testServer{zone: map[string][]dns.RR{}}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		n := strings.ToLower(rr.Header().Name)
		s.zone[n] = append(s.zone[n], rr)
	}
	var (
		pc net.PacketConn
		ln net.Listener
	)
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	_, s.port, _ = net.SplitHostPort(pc.LocalAddr().String())
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	t.Setenv("DNSUTILS_PORT", s.port)
	return s
}

func (s *testServer) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	qq := q.Question[0]
	tcp := w.LocalAddr().Network() == "tcp"
	transport := "udp"
	if tcp {
		transport = "tcp"
	}
	s.mu.Lock()
	s.queries = append(s.queries, transport+" "+qq.Name+" "+dns.TypeToString[qq.Qtype])
	s.mu.Unlock()

	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	name := strings.ToLower(qq.Name)
	if name == "truncated.test." && !tcp {
		m.Truncated = true
		_ = w.WriteMsg(m)
		return
	}
	if name == "refused.test." {
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	rrs, ok := s.zone[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
		return
	}
	for range 8 { // follow CNAMEs within the zone, as a recursive server would
		next := ""
		for _, rr := range rrs {
			if rr.Header().Rrtype == qq.Qtype || (rr.Header().Rrtype == dns.TypeCNAME && qq.Qtype != dns.TypeCNAME) {
				m.Answer = append(m.Answer, rr)
			}
			if c, ok := rr.(*dns.CNAME); ok && qq.Qtype != dns.TypeCNAME {
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" {
			break
		}
		rrs = s.zone[next]
	}
	_ = w.WriteMsg(m)
}

func (s *testServer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries
	s.queries = nil
	return q
}

// writeEtc writes resolv.conf (and hosts, nsswitch.conf) into a temp dir and
// points the tools at them.
func writeEtc(t *testing.T, resolv, hosts string) {
	t.Helper()
	d := t.TempDir()
	for name, env := range map[string]string{"resolv.conf": "DNSUTILS_RESOLV_CONF", "hosts": "DNSUTILS_HOSTS", "nsswitch.conf": "DNSUTILS_NSSWITCH"} {
		data := map[string]string{"resolv.conf": resolv, "hosts": hosts, "nsswitch.conf": "hosts: files dns\n"}[name]
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv(env, p)
	}
}

func runTool(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	if errb.Len() > 0 {
		t.Logf("%v stderr: %s", args, errb.String())
	}
	return out.String(), rc
}

const clusterResolv = `# written by the kubelet
search ns.svc.cluster.local svc.cluster.local cluster.local
nameserver 127.0.0.1
options ndots:5
`

var clusterZone = []string{
	"kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1",
	"1.0.96.10.in-addr.arpa. 30 IN PTR kubernetes.default.svc.cluster.local.",
	"dns-test-service.ns.svc.cluster.local. 30 IN A 10.244.1.5",
	"_http._tcp.dns-test-service.ns.svc.cluster.local. 30 IN SRV 0 100 80 10-244-1-5.dns-test-service.ns.svc.cluster.local.",
	"ext.ns.svc.cluster.local. 30 IN CNAME foo.example.com.",
	"foo.example.com. 30 IN A 192.0.2.7",
	"dual.ns.svc.cluster.local. 30 IN A 10.244.2.2",
	"dual.ns.svc.cluster.local. 30 IN AAAA fd00::2:2",
	"txt.ns.svc.cluster.local. 30 IN TXT \"hello world\"",
	"truncated.test. 30 IN A 192.0.2.99",
}

func TestDigProbeUDPAndTCP(t *testing.T) {
	s := newTestServer(t, clusterZone...)
	writeEtc(t, clusterResolv, "")
	want := "kubernetes.default.svc.cluster.local.\t30\tIN\tA\t10.96.0.1\n"

	// Exactly the probe of createProbeCommand (dns_common.go).
	out, rc := runTool(t, "dig", "+notcp", "+noall", "+answer", "+search", "kubernetes.default", "A")
	if rc != 0 || out != want {
		t.Fatalf("dig +notcp: rc %d, output %q, want %q", rc, out, want)
	}
	// 1 dot < ndots:5: the search list first, NXDOMAIN moves on.
	wantQ := []string{"udp kubernetes.default.ns.svc.cluster.local. A", "udp kubernetes.default.svc.cluster.local. A"}
	if q := s.take(); !reflect.DeepEqual(q, wantQ) {
		t.Fatalf("queries %q, want %q", q, wantQ)
	}

	out, rc = runTool(t, "/usr/bin/dig", "+tcp", "+noall", "+answer", "+search", "kubernetes.default", "A")
	if rc != 0 || out != want {
		t.Fatalf("dig +tcp: rc %d, output %q", rc, out)
	}
	wantQ = []string{"tcp kubernetes.default.ns.svc.cluster.local. A", "tcp kubernetes.default.svc.cluster.local. A"}
	if q := s.take(); !reflect.DeepEqual(q, wantQ) {
		t.Fatalf("queries %q, want %q", q, wantQ)
	}
}

func TestDigSearchOrderAndNdots(t *testing.T) {
	s := newTestServer(t, clusterZone...)

	// A name with at least ndots dots goes as-is first, then the search list.
	writeEtc(t, "search ns.svc.cluster.local svc.cluster.local\nnameserver 127.0.0.1\noptions ndots:1\n", "")
	out, _ := runTool(t, "dig", "+noall", "+answer", "+search", "kubernetes.default")
	if !strings.Contains(out, "10.96.0.1") {
		t.Fatalf("output %q", out)
	}
	wantQ := []string{"udp kubernetes.default. A", "udp kubernetes.default.ns.svc.cluster.local. A", "udp kubernetes.default.svc.cluster.local. A"}
	if q := s.take(); !reflect.DeepEqual(q, wantQ) {
		t.Fatalf("queries %q, want %q", q, wantQ)
	}

	// Without +search the name is queried as given, once.
	out, rc := runTool(t, "dig", "+noall", "+answer", "kubernetes.default")
	if rc != 0 || out != "" {
		t.Fatalf("NXDOMAIN: rc %d, output %q", rc, out)
	}
	if q := s.take(); !reflect.DeepEqual(q, []string{"udp kubernetes.default. A"}) {
		t.Fatalf("queries %q", q)
	}

	// A fully qualified name is not searched.
	runTool(t, "dig", "+search", "+short", "kubernetes.default.")
	if q := s.take(); !reflect.DeepEqual(q, []string{"udp kubernetes.default. A"}) {
		t.Fatalf("queries %q", q)
	}

	// The kubelet's search list with "." and an underscore in it.
	writeEtc(t, "nameserver 127.0.0.1\nsearch ns.svc.cluster.local . _sip._tcp.abc_d.example.com svc.cluster.local\noptions ndots:5\n", "")
	out, _ = runTool(t, "dig", "+noall", "+answer", "+search", "kubernetes.default")
	if !strings.Contains(out, "10.96.0.1") {
		t.Fatalf("output %q", out)
	}
	wantQ = []string{
		"udp kubernetes.default.ns.svc.cluster.local. A",
		"udp kubernetes.default. A",
		"udp kubernetes.default._sip._tcp.abc_d.example.com. A",
		"udp kubernetes.default.svc.cluster.local. A",
	}
	if q := s.take(); !reflect.DeepEqual(q, wantQ) {
		t.Fatalf("queries %q, want %q", q, wantQ)
	}
}

func TestDigStopsOnNODATA(t *testing.T) {
	s := newTestServer(t, "x.a.test. 30 IN TXT \"no address\"", "x.b.test. 30 IN A 192.0.2.1")
	writeEtc(t, "search a.test b.test\nnameserver 127.0.0.1\noptions ndots:5\n", "")
	// dig moves to the next search domain on NXDOMAIN only.
	out, rc := runTool(t, "dig", "+noall", "+answer", "+search", "x", "A")
	if rc != 0 || out != "" {
		t.Fatalf("dig: rc %d, output %q", rc, out)
	}
	if q := s.take(); !reflect.DeepEqual(q, []string{"udp x.a.test. A"}) {
		t.Fatalf("queries %q", q)
	}
	// glibc goes on after NODATA too.
	out, rc = runTool(t, "getent", "hosts", "x")
	if rc != 0 || out != "192.0.2.1       x.b.test\n" {
		t.Fatalf("getent: rc %d, output %q", rc, out)
	}
}

func TestDigTypesAndShort(t *testing.T) {
	newTestServer(t, clusterZone...)
	writeEtc(t, clusterResolv, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		// createProbeCommand: SRV for names starting with "_".
		{[]string{"+notcp", "+noall", "+answer", "+search", "_http._tcp.dns-test-service.ns.svc", "SRV"},
			"_http._tcp.dns-test-service.ns.svc.cluster.local.\t30\tIN\tSRV\t0 100 80 10-244-1-5.dns-test-service.ns.svc.cluster.local.\n"},
		// ... and PTR of a ClusterIP.
		{[]string{"+tcp", "+noall", "+answer", "+search", "1.0.96.10.in-addr.arpa.", "PTR"},
			"1.0.96.10.in-addr.arpa.\t30\tIN\tPTR\tkubernetes.default.svc.cluster.local.\n"},
		// createTargetedProbeCommand: dig +short NAME CNAME / A.
		{[]string{"+short", "ext.ns.svc.cluster.local", "CNAME"}, "foo.example.com.\n"},
		{[]string{"+short", "ext.ns.svc.cluster.local", "A"}, "foo.example.com.\n192.0.2.7\n"},
		{[]string{"+short", "dns-test-service.ns.svc.cluster.local", "A"}, "10.244.1.5\n"},
		{[]string{"+short", "dual.ns.svc.cluster.local", "AAAA"}, "fd00::2:2\n"},
		{[]string{"+short", "txt.ns.svc.cluster.local", "TXT"}, "\"hello world\"\n"},
		{[]string{"+short", "-x", "10.96.0.1"}, "kubernetes.default.svc.cluster.local.\n"},
		{[]string{"+short", "-t", "srv", "_http._tcp.dns-test-service.ns.svc.cluster.local"},
			"0 100 80 10-244-1-5.dns-test-service.ns.svc.cluster.local.\n"},
		// NODATA and NXDOMAIN: no output, exit 0.
		{[]string{"+short", "kubernetes.default.svc.cluster.local", "AAAA"}, ""},
		{[]string{"+noall", "+answer", "+search", "nosuch"}, ""},
		{[]string{"+short", "refused.test"}, ""},
		// +noall alone prints nothing; +answer before +noall is undone.
		{[]string{"+answer", "+noall", "kubernetes.default.svc.cluster.local"}, ""},
	} {
		out, rc := runTool(t, append([]string{"dig"}, c.args...)...)
		if rc != 0 || out != c.want {
			t.Errorf("dig %v: rc %d, output %q, want %q", c.args, rc, out, c.want)
		}
	}
	// Default output: the whole message, answer included.
	out, rc := runTool(t, "dig", "kubernetes.default.svc.cluster.local")
	if rc != 0 || !strings.Contains(out, ";; ANSWER SECTION:") || !strings.Contains(out, "10.96.0.1") || !strings.Contains(out, "status: NOERROR") {
		t.Errorf("default output: rc %d\n%s", rc, out)
	}
}

func TestDigTruncatedRetriesOverTCP(t *testing.T) {
	s := newTestServer(t, clusterZone...)
	writeEtc(t, clusterResolv, "")
	out, rc := runTool(t, "dig", "+notcp", "+noall", "+answer", "truncated.test")
	if rc != 0 || out != "truncated.test.\t30\tIN\tA\t192.0.2.99\n" {
		t.Fatalf("rc %d, output %q", rc, out)
	}
	if q := s.take(); !reflect.DeepEqual(q, []string{"udp truncated.test. A", "tcp truncated.test. A"}) {
		t.Fatalf("queries %q", q)
	}
}

func TestDigServerAndPort(t *testing.T) {
	s := newTestServer(t, clusterZone...)
	// resolv.conf names a server that is not there; @ and -p override it.
	writeEtc(t, "nameserver 127.0.0.2\n", "")
	t.Setenv("DNSUTILS_PORT", "1")
	out, rc := runTool(t, "dig", "+short", "@127.0.0.1", "-p", s.port, "kubernetes.default.svc.cluster.local")
	if rc != 0 || out != "10.96.0.1\n" {
		t.Fatalf("rc %d, output %q", rc, out)
	}
}

func TestDigNoServer(t *testing.T) {
	// A closed UDP port on loopback: refused at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	pc.Close()
	writeEtc(t, "nameserver 127.0.0.1\n", "")
	t.Setenv("DNSUTILS_PORT", port)
	out, rc := runTool(t, "dig", "+notcp", "+noall", "+answer", "+search", "kubernetes.default")
	if rc != 9 || !strings.Contains(out, "no servers could be reached") {
		t.Fatalf("rc %d, output %q", rc, out)
	}
}

func TestDigUsage(t *testing.T) {
	for _, args := range [][]string{{"+bogus", "x"}, {"-p"}, {"-x", "not-an-ip"}, {"-z"}} {
		if _, rc := runTool(t, append([]string{"dig"}, args...)...); rc != 1 {
			t.Errorf("dig %v: rc %d, want 1", args, rc)
		}
	}
}

const podHosts = `# Kubernetes-managed hosts file.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
10.244.1.9	dns-querier-1.dns-test-service.ns.svc.cluster.local	dns-querier-1
`

func TestGetentHosts(t *testing.T) {
	s := newTestServer(t, clusterZone...)
	writeEtc(t, clusterResolv, podHosts)
	for _, c := range []struct {
		key, want string
	}{
		// The probes of createProbeCommand's hostEntries: /etc/hosts.
		{"dns-querier-1", "10.244.1.9      dns-querier-1.dns-test-service.ns.svc.cluster.local dns-querier-1\n"},
		{"dns-querier-1.dns-test-service.ns.svc.cluster.local", "10.244.1.9      dns-querier-1.dns-test-service.ns.svc.cluster.local dns-querier-1\n"},
		{"DNS-Querier-1", "10.244.1.9      dns-querier-1.dns-test-service.ns.svc.cluster.local dns-querier-1\n"},
		// IPv6 first, as glibc's getent does.
		{"localhost", "::1             localhost ip6-localhost ip6-loopback\n"},
		// DNS with the search list.
		{"kubernetes.default", "10.96.0.1       kubernetes.default.svc.cluster.local\n"},
		{"dual", "fd00::2:2       dual.ns.svc.cluster.local\n"},
		{"ext", "192.0.2.7       foo.example.com ext.ns.svc.cluster.local\n"},
		// By address: files, then PTR.
		{"10.244.1.9", "10.244.1.9      dns-querier-1.dns-test-service.ns.svc.cluster.local dns-querier-1\n"},
		{"10.96.0.1", "10.96.0.1       kubernetes.default.svc.cluster.local\n"},
	} {
		out, rc := runTool(t, "getent", "hosts", c.key)
		if rc != 0 || out != c.want {
			t.Errorf("getent hosts %s: rc %d, output %q, want %q", c.key, rc, out, c.want)
		}
	}
	s.take()
	out, rc := runTool(t, "/usr/bin/getent", "hosts", "nosuch")
	if rc != 2 || out != "" {
		t.Fatalf("not found: rc %d, output %q", rc, out)
	}
	// AAAA over the search list and as-is, then the same for A.
	var want []string
	for _, typ := range []string{"AAAA", "A"} {
		for _, n := range []string{"nosuch.ns.svc.cluster.local.", "nosuch.svc.cluster.local.", "nosuch.cluster.local.", "nosuch."} {
			want = append(want, "udp "+n+" "+typ)
		}
	}
	if q := s.take(); !reflect.DeepEqual(q, want) {
		t.Fatalf("queries %q, want %q", q, want)
	}
	// Several keys: exit 2 if any is missing, the others printed.
	out, rc = runTool(t, "getent", "hosts", "dns-querier-1", "nosuch")
	if rc != 2 || !strings.HasPrefix(out, "10.244.1.9 ") {
		t.Fatalf("rc %d, output %q", rc, out)
	}
	// REFUSED stops the search.
	s.take()
	writeEtc(t, "search test cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n", "")
	if _, rc := runTool(t, "getent", "hosts", "refused"); rc != 2 {
		t.Fatalf("refused: rc %d", rc)
	}
	if q := s.take(); !reflect.DeepEqual(q, []string{"udp refused.test. AAAA", "udp refused.test. A"}) {
		t.Fatalf("queries %q", q)
	}
}

func TestGetentUsage(t *testing.T) {
	writeEtc(t, "nameserver 127.0.0.1\n", podHosts)
	if _, rc := runTool(t, "getent"); rc != 1 {
		t.Errorf("no database: rc %d", rc)
	}
	if _, rc := runTool(t, "getent", "passwd", "root"); rc != 1 {
		t.Errorf("unknown database: rc %d", rc)
	}
	out, rc := runTool(t, "getent", "hosts")
	if rc != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("enumeration: rc %d, output %q", rc, out)
	}
}

func TestResolvConf(t *testing.T) {
	var rc resolvConf
	rc.ndots = 1
	rc.parse(`domain example.org
search ns.svc.cluster.local . _sip._tcp.abc_d.example.com ; comment
nameserver 10.96.0.10
nameserver fd00::a
nameserver bogus
options ndots:5 timeout:2 attempts:3 rotate
`, "53")
	if want := []string{"10.96.0.10:53", "[fd00::a]:53"}; !reflect.DeepEqual(rc.servers, want) {
		t.Errorf("servers %q", rc.servers)
	}
	if want := []string{"ns.svc.cluster.local.", ".", "_sip._tcp.abc_d.example.com."}; !reflect.DeepEqual(rc.search, want) {
		t.Errorf("search %q", rc.search)
	}
	if rc.ndots != 5 || rc.timeout.Seconds() != 2 || rc.attempts != 3 {
		t.Errorf("options %+v", rc)
	}
}

func TestDispatch(t *testing.T) {
	if _, rc := runTool(t, "dnsutils"); rc != 1 {
		t.Errorf("unknown name: rc %d", rc)
	}
	writeEtc(t, "nameserver 127.0.0.1\n", podHosts)
	if out, rc := runTool(t, "dnsutils", "getent", "hosts", "dns-querier-1"); rc != 0 || out == "" {
		t.Errorf("dnsutils getent: rc %d, %q", rc, out)
	}
}
