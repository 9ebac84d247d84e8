// Command dnsutils stands in for the dig and getent of upstream's
// registry.k8s.io/e2e-test-images/glibc-dns-testing image, which cannot be
// pulled here (no registry is reachable). It is one static binary that acts
// as dig or getent according to the name it is run as (argv[0]), and it
// implements what the DNS specs of the v1.37.2 e2e suite
// (test/e2e/network/dns.go, dns_common.go) ask of those tools:
//
//	dig [+[no]search] [+[no]tcp|+[no]vc] [+[no]all] [+[no]answer] [+[no]short]
//	    [@SERVER] [-p PORT] [-x ADDR] [-t TYPE] [NAME] [TYPE] [CLASS]
//	getent hosts [NAME|ADDR...]
//
// dig: the nameservers, search list and ndots come from /etc/resolv.conf;
// +search tries the name as given first when it has at least ndots dots and
// last otherwise, and moves to the next candidate only on NXDOMAIN, as BIND's
// dig does. +notcp queries over UDP (retrying over TCP when the reply is
// truncated), +tcp over TCP. +noall +answer prints the answer section in
// dig's text form (NAME TTL CLASS TYPE DATA), +short only the data of the
// answer records. A reply of any rcode (NXDOMAIN, SERVFAIL...) exits 0 with
// no answer printed; no reply at all exits 9, a usage error 1.
//
// getent hosts resolves as glibc's getent does: gethostbyname2(AF_INET6),
// then gethostbyname2(AF_INET), each through the "hosts:" sources of
// /etc/nsswitch.conf (files, dns); files is /etc/hosts, dns is res_search
// (search list and ndots of /etc/resolv.conf; it moves on after NXDOMAIN,
// NODATA or SERVFAIL). It prints "ADDR CANONICAL-NAME ALIASES..." lines and
// exits 2 when a key is not found.
//
// For tests only, DNSUTILS_RESOLV_CONF, DNSUTILS_HOSTS and DNSUTILS_NSSWITCH
// replace the paths of those files and DNSUTILS_PORT the port of the
// resolv.conf nameservers (resolv.conf has no syntax for one).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run dispatches on the base name of args[0]; "dnsutils dig ..." works too.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"dnsutils"}
	}
	switch filepath.Base(args[0]) {
	case "dig":
		return dig(args[1:], stdout, stderr)
	case "getent":
		return getent(args[1:], stdout, stderr)
	}
	if len(args) > 1 && (args[1] == "dig" || args[1] == "getent") {
		return run(args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, "usage: dig|getent ARGS... (dispatches on argv[0])")
	return 1
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// resolvConf is what both tools take from /etc/resolv.conf.
type resolvConf struct {
	servers  []string // host:port
	search   []string // fully qualified, "." for the root
	ndots    int
	timeout  time.Duration
	attempts int
	useVC    bool
}

func readResolvConf(port string) resolvConf {
	rc := resolvConf{ndots: 1, timeout: 5 * time.Second, attempts: 2}
	data, err := os.ReadFile(envOr("DNSUTILS_RESOLV_CONF", "/etc/resolv.conf"))
	if err == nil {
		rc.parse(string(data), port)
	}
	if len(rc.servers) == 0 {
		rc.servers = []string{net.JoinHostPort("127.0.0.1", port)}
	}
	return rc
}

func (rc *resolvConf) parse(data, port string) {
	for _, line := range strings.Split(data, "\n") {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 && net.ParseIP(strings.SplitN(f[1], "%", 2)[0]) != nil {
				rc.servers = append(rc.servers, net.JoinHostPort(f[1], port))
			}
		case "domain": // the last of domain and search wins
			if len(f) > 1 {
				rc.search = []string{dns.Fqdn(f[1])}
			}
		case "search":
			rc.search = nil
			for _, d := range f[1:] {
				rc.search = append(rc.search, dns.Fqdn(d))
			}
		case "options":
			for _, o := range f[1:] {
				k, v, _ := strings.Cut(o, ":")
				n, err := strconv.Atoi(v)
				switch {
				case k == "ndots" && err == nil && n >= 0:
					rc.ndots = min(n, 15)
				case k == "timeout" && err == nil && n >= 1:
					rc.timeout = time.Duration(min(n, 30)) * time.Second
				case k == "attempts" && err == nil && n >= 1:
					rc.attempts = min(n, 5)
				case k == "use-vc":
					rc.useVC = true
				}
			}
		}
	}
}

// candidates lists the names res_search (and dig +search) try for name, in
// order: as given first if it has at least ndots dots, then each search
// domain, then as given if not tried yet. An absolute name, or search off,
// gives the name alone.
func (rc *resolvConf) candidates(name string, search bool) []string {
	asIs := dns.Fqdn(name)
	if !search || dns.IsFqdn(name) {
		return []string{asIs}
	}
	var out []string
	add := func(n string) {
		for _, o := range out {
			if strings.EqualFold(o, n) {
				return
			}
		}
		out = append(out, n)
	}
	dots := strings.Count(name, ".")
	if dots >= rc.ndots {
		add(asIs)
	}
	for _, s := range rc.search {
		if s == "." {
			add(asIs)
		} else {
			add(asIs + s)
		}
	}
	add(asIs)
	return out
}

// errNoReply: no server answered.
var errNoReply = errors.New("no servers could be reached")

// exchange sends q to servers in order, tries rounds times, over TCP if tcp
// and otherwise over UDP, retrying over TCP a truncated UDP reply. It
// returns the first reply of any rcode and the server that sent it.
func exchange(q *dns.Msg, servers []string, tcp bool, timeout time.Duration, rounds int) (*dns.Msg, string, error) {
	network := "udp"
	if tcp {
		network = "tcp"
	}
	var last error
	for range rounds {
		for _, s := range servers {
			c := &dns.Client{Net: network, Timeout: timeout}
			r, _, err := c.Exchange(q, s)
			if err != nil {
				last = err
				continue
			}
			if r.Truncated && !tcp {
				c.Net = "tcp"
				if r2, _, err := c.Exchange(q, s); err == nil {
					r = r2
				}
			}
			return r, s, nil
		}
	}
	return nil, "", fmt.Errorf("%w: %v", errNoReply, last)
}

// ---- dig ----

type digOpts struct {
	search, tcp, short bool
	answer, rest       bool // print the answer section; print everything else
	server, port       string
	name               string
	qtype, qclass      uint16
}

func digUsage(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "%s\nUsage: dig [@server] [-p port] [-x addr] [-t type] [name] [type] [class] [+[no]search] [+[no]tcp] [+[no]all] [+[no]answer] [+[no]short]\n", msg)
	return 1
}

func parseDig(args []string) (digOpts, error) {
	o := digOpts{answer: true, rest: true, qclass: dns.ClassINET}
	typeSet := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "+"):
			opt, on := strings.TrimPrefix(a, "+"), true
			if strings.HasPrefix(opt, "no") {
				opt, on = opt[2:], false
			}
			switch opt {
			case "search":
				o.search = on
			case "tcp", "vc":
				o.tcp = on
			case "all":
				o.answer, o.rest = on, on
			case "answer":
				o.answer = on
			case "short":
				o.short = on
			default:
				return o, fmt.Errorf("Invalid option: %s", a)
			}
		case strings.HasPrefix(a, "@") && len(a) > 1:
			o.server = a[1:]
		case a == "-p" || a == "-x" || a == "-t":
			if i+1 >= len(args) {
				return o, fmt.Errorf("option %s requires an argument", a)
			}
			i++
			v := args[i]
			switch a {
			case "-p":
				if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
					return o, fmt.Errorf("invalid port number %q", v)
				}
				o.port = v
			case "-x":
				rev, err := dns.ReverseAddr(v)
				if err != nil {
					return o, fmt.Errorf("invalid IP address %s", v)
				}
				o.name = rev
				if !typeSet {
					o.qtype = dns.TypePTR
				}
			case "-t":
				t, ok := dns.StringToType[strings.ToUpper(v)]
				if !ok {
					return o, fmt.Errorf("invalid type: %s", v)
				}
				o.qtype, typeSet = t, true
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			return o, fmt.Errorf("Invalid option: %s", a)
		default:
			// As dig does: a word that names a type is the type, one that
			// names a class the class, anything else the name.
			if t, ok := dns.StringToType[strings.ToUpper(a)]; ok && t != dns.TypeNone {
				o.qtype, typeSet = t, true
			} else if c, ok := dns.StringToClass[strings.ToUpper(a)]; ok {
				o.qclass = c
			} else {
				o.name = a
			}
		}
	}
	if o.name == "" {
		o.name = "."
		if o.qtype == 0 {
			o.qtype = dns.TypeNS
		}
	}
	if o.qtype == 0 {
		o.qtype = dns.TypeA
	}
	return o, nil
}

func dig(args []string, stdout, stderr io.Writer) int {
	o, err := parseDig(args)
	if err != nil {
		return digUsage(stderr, err.Error())
	}
	port := o.port
	if port == "" {
		port = envOr("DNSUTILS_PORT", "53")
	}
	rc := readResolvConf(port)
	servers := rc.servers
	if o.server != "" {
		host := o.server
		if net.ParseIP(host) == nil {
			addrs, err := net.LookupHost(host)
			if err != nil || len(addrs) == 0 {
				fmt.Fprintf(stderr, "dig: couldn't get address for '%s': not found\n", host)
				return 10
			}
			host = addrs[0]
		}
		servers = []string{net.JoinHostPort(host, port)}
	}
	tries := 3 // dig's +tries default; over TCP one connection per server
	if o.tcp {
		tries = 1
	}

	var (
		r      *dns.Msg
		server string
		took   time.Duration
	)
	for _, name := range rc.candidates(o.name, o.search) {
		q := digQuery(name, o.qtype, o.qclass)
		start := time.Now()
		r, server, err = exchange(q, servers, o.tcp, 5*time.Second, tries)
		took = time.Since(start)
		if err != nil {
			// dig prints this on stdout, with +short too.
			fmt.Fprintf(stdout, ";; connection timed out; no servers could be reached\n")
			return 9
		}
		if r.Rcode != dns.RcodeNameError {
			break // dig moves to the next search domain only on NXDOMAIN
		}
	}
	if r.IsEdns0() == nil && (r.Rcode == dns.RcodeFormatError || r.Rcode == dns.RcodeNotImplemented) {
		fmt.Fprintf(stderr, ";; Warning: EDNS query returned status %s - retry with '+noedns'\n", dns.RcodeToString[r.Rcode])
	}
	switch {
	case o.short:
		for _, rr := range r.Answer {
			fmt.Fprintln(stdout, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	case o.rest:
		proto := "UDP"
		if o.tcp {
			proto = "TCP"
		}
		host, p, _ := net.SplitHostPort(server)
		fmt.Fprintf(stdout, "\n; <<>> DiG (skiff dnsutils stand-in) <<>> %s\n", strings.Join(args, " "))
		fmt.Fprintf(stdout, ";; Got answer:\n%s\n", msgText(r, o.answer))
		fmt.Fprintf(stdout, ";; Query time: %d msec\n;; SERVER: %s#%s(%s) (%s)\n;; WHEN: %s\n;; MSG SIZE  rcvd: %d\n\n",
			took.Milliseconds(), host, p, host, proto, time.Now().Format(time.UnixDate), r.Len())
	case o.answer:
		for _, rr := range r.Answer {
			fmt.Fprintln(stdout, rr.String())
		}
	}
	return 0
}

// digQuery is dig's default query: RD and AD set, EDNS0 with a 1232-byte
// buffer and a client cookie.
func digQuery(name string, qtype, qclass uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Question[0].Qclass = qclass
	q.RecursionDesired = true
	q.AuthenticatedData = true
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(1232)
	cookie := make([]byte, 8)
	_, _ = rand.Read(cookie)
	opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(cookie)})
	q.Extra = append(q.Extra, opt)
	return q
}

// msgText is miekg's dig-like rendering of a whole message, without the
// answer section when answer is off.
func msgText(r *dns.Msg, answer bool) string {
	if answer {
		return r.String()
	}
	c := r.Copy()
	c.Answer = nil
	return c.String()
}

// ---- getent ----

func getent(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: getent [OPTION...] database [key ...]")
		return 1
	}
	if args[0] != "hosts" {
		fmt.Fprintf(stderr, "Unknown database: %s\n", args[0])
		return 1
	}
	r := &resolver{
		rc:      readResolvConf(envOr("DNSUTILS_PORT", "53")),
		sources: readNSSwitchHosts(),
		hosts:   envOr("DNSUTILS_HOSTS", "/etc/hosts"),
	}
	if len(args) == 1 {
		for _, h := range r.hostsFile() {
			printHost(stdout, h)
		}
		return 0
	}
	status := 0
	for _, key := range args[1:] {
		var h *hostent
		if ip := net.ParseIP(key); ip != nil {
			h = r.byAddr(ip)
		} else if h = r.byName(key, true); h == nil {
			h = r.byName(key, false)
		}
		if h == nil {
			status = 2
			continue
		}
		printHost(stdout, *h)
	}
	return status
}

type hostent struct {
	name    string
	aliases []string
	addrs   []net.IP
}

// printHost prints as glibc's getent: one line per address.
func printHost(w io.Writer, h hostent) {
	for _, a := range h.addrs {
		fmt.Fprintf(w, "%-15s %s", a.String(), h.name)
		for _, al := range h.aliases {
			fmt.Fprintf(w, " %s", al)
		}
		fmt.Fprintln(w)
	}
}

type resolver struct {
	rc      resolvConf
	sources []string
	hosts   string
}

// readNSSwitchHosts returns the sources of the hosts: line that this tool
// knows (files, dns), in order; the status actions ([NOTFOUND=return]...)
// are not honoured.
func readNSSwitchHosts() []string {
	data, err := os.ReadFile(envOr("DNSUTILS_NSSWITCH", "/etc/nsswitch.conf"))
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "hosts:")
			if !ok {
				continue
			}
			var out []string
			for _, s := range strings.Fields(rest) {
				if s == "files" || s == "dns" {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return []string{"files", "dns"}
}

func is4(ip net.IP) bool { return ip.To4() != nil }

// hostsFile parses the hosts file into one entry per line.
func (r *resolver) hostsFile() []hostent {
	data, err := os.ReadFile(r.hosts)
	if err != nil {
		return nil
	}
	var out []hostent
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip := net.ParseIP(strings.SplitN(f[0], "%", 2)[0])
		if ip == nil {
			continue
		}
		out = append(out, hostent{name: f[1], aliases: f[2:], addrs: []net.IP{ip}})
	}
	return out
}

// byName is gethostbyname2(name, AF_INET6 if v6 else AF_INET).
func (r *resolver) byName(name string, v6 bool) *hostent {
	for _, src := range r.sources {
		var h *hostent
		switch src {
		case "files":
			h = r.filesByName(name, v6)
		case "dns":
			h = r.dnsByName(name, v6)
		}
		if h != nil {
			return h
		}
	}
	return nil
}

// filesByName: the lines of the family asked for that carry name, merged
// into the first one (glibc's nss_files).
func (r *resolver) filesByName(name string, v6 bool) *hostent {
	var h *hostent
	for _, e := range r.hostsFile() {
		if is4(e.addrs[0]) == v6 {
			continue
		}
		match := strings.EqualFold(e.name, name)
		for _, a := range e.aliases {
			match = match || strings.EqualFold(a, name)
		}
		if !match {
			continue
		}
		if h == nil {
			e := e
			h = &e
		} else {
			h.addrs = append(h.addrs, e.addrs...)
		}
	}
	return h
}

// resSearch is glibc's res_nsearch: the first candidate name whose query
// gets NOERROR with answers wins; NXDOMAIN, NODATA and SERVFAIL move to the
// next candidate, anything else (no reply, REFUSED...) stops.
func (r *resolver) resSearch(name string, qtype uint16) (*dns.Msg, string) {
	for _, c := range r.rc.candidates(name, true) {
		q := new(dns.Msg)
		q.SetQuestion(c, qtype)
		q.RecursionDesired = true
		resp, _, err := exchange(q, r.rc.servers, r.rc.useVC, r.rc.timeout, r.rc.attempts)
		if err != nil {
			return nil, ""
		}
		switch {
		case resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0:
			return resp, c
		case resp.Rcode == dns.RcodeSuccess, resp.Rcode == dns.RcodeNameError, resp.Rcode == dns.RcodeServerFailure:
			continue
		default:
			return nil, ""
		}
	}
	return nil, ""
}

func (r *resolver) dnsByName(name string, v6 bool) *hostent {
	qtype := dns.TypeA
	if v6 {
		qtype = dns.TypeAAAA
	}
	resp, qname := r.resSearch(name, qtype)
	if resp == nil {
		return nil
	}
	// Follow the CNAME chain from qname; the addresses are those of its end.
	cur, aliases := qname, []string(nil)
	for range 16 {
		next := ""
		for _, rr := range resp.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
				next = c.Target
				break
			}
		}
		if next == "" {
			break
		}
		aliases = append(aliases, strings.TrimSuffix(cur, "."))
		cur = next
	}
	h := &hostent{name: strings.TrimSuffix(cur, "."), aliases: aliases}
	for _, rr := range resp.Answer {
		if !strings.EqualFold(rr.Header().Name, cur) {
			continue
		}
		switch a := rr.(type) {
		case *dns.A:
			if !v6 {
				h.addrs = append(h.addrs, a.A)
			}
		case *dns.AAAA:
			if v6 {
				h.addrs = append(h.addrs, a.AAAA)
			}
		}
	}
	if len(h.addrs) == 0 {
		return nil
	}
	return h
}

// byAddr is gethostbyaddr: files, then a PTR query.
func (r *resolver) byAddr(ip net.IP) *hostent {
	for _, src := range r.sources {
		switch src {
		case "files":
			for _, e := range r.hostsFile() {
				if e.addrs[0].Equal(ip) {
					return &hostent{name: e.name, aliases: e.aliases, addrs: []net.IP{ip}}
				}
			}
		case "dns":
			rev, err := dns.ReverseAddr(ip.String())
			if err != nil {
				continue
			}
			q := new(dns.Msg)
			q.SetQuestion(rev, dns.TypePTR)
			q.RecursionDesired = true
			resp, _, err := exchange(q, r.rc.servers, r.rc.useVC, r.rc.timeout, r.rc.attempts)
			if err != nil || resp.Rcode != dns.RcodeSuccess {
				continue
			}
			for _, rr := range resp.Answer {
				if p, ok := rr.(*dns.PTR); ok {
					return &hostent{name: strings.TrimSuffix(p.Ptr, "."), addrs: []net.IP{ip}}
				}
			}
		}
	}
	return nil
}
