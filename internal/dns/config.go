package dns

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// SchemaVersion is the DNS-Based Service Discovery schema served in the
// dns-version TXT record.
const SchemaVersion = "1.1.0"

// Defaults for the optional Config fields.
const (
	DefaultClusterDomain  = "cluster.local"
	DefaultTTL            = 5 // seconds, as CoreDNS's kubernetes plugin
	DefaultResolvConf     = "/etc/resolv.conf"
	DefaultForwardTimeout = 2 * time.Second
)

// Config configures a Server. Client and ListenAddr are required.
type Config struct {
	// Client reads Services and EndpointSlices (list and watch only).
	Client kubernetes.Interface
	// ClusterDomain is the zone served, without a trailing dot; default
	// cluster.local.
	ClusterDomain string
	// ListenAddr is host:port for both UDP and TCP, e.g. "10.42.3.1:53".
	// The address need not exist yet (IP_FREEBIND). Port 0 picks one free
	// port for both; Addr reports it once Ready is closed.
	ListenAddr string
	// Upstreams are the resolvers for names outside the cluster zone, as
	// "ip" or "ip:port". Empty: the nameservers of ResolvConf; if that has
	// none either, such names get SERVFAIL. Addresses equal to
	// ListenAddr's are dropped so the server never forwards to itself.
	Upstreams []string
	// ResolvConf is where default upstreams are read; default
	// /etc/resolv.conf.
	ResolvConf string
	// ReverseCIDRs are the ranges whose reverse names are answered here
	// only (unknown address: NXDOMAIN), normally the service and cluster
	// CIDRs. Reverse names outside them that the index does not know are
	// forwarded.
	ReverseCIDRs []netip.Prefix
	// TTL of every record served from the cluster zone; default 5.
	TTL uint32
	// ForwardTimeout bounds one attempt at one upstream; default 2s.
	ForwardTimeout time.Duration
	// CacheSize bounds the cache of upstream answers, in entries; 0 is
	// DefaultCacheSize, negative turns the cache off. Answers are kept
	// for their TTL, at most 30s. Cluster names are never cached (they
	// are answered from the index).
	CacheSize int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock stamps the SOA serial (the time of the last index change);
	// default the real clock.
	Clock clock.PassiveClock
}

// Errors returned by New.
var (
	ErrNoClient     = errors.New("dns: Config.Client is required")
	ErrNoListenAddr = errors.New("dns: Config.ListenAddr is required")
)

// withDefaults returns cfg with defaults filled in and upstreams
// normalised to ip:port.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Client == nil {
		return cfg, ErrNoClient
	}
	if cfg.ListenAddr == "" {
		return cfg, ErrNoListenAddr
	}
	if _, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil {
		return cfg, fmt.Errorf("dns: ListenAddr %q: %w", cfg.ListenAddr, err)
	}
	cfg.ClusterDomain = strings.ToLower(strings.Trim(cfg.ClusterDomain, "."))
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	ups := cfg.Upstreams
	if len(ups) == 0 {
		ups = resolvConfNameservers(cfg.ResolvConf)
	}
	self, _ := upstreamAddr(cfg.ListenAddr)
	cfg.Upstreams = nil
	for _, u := range ups {
		hp, err := upstreamAddr(u)
		if err != nil {
			return cfg, err
		}
		if hp == self {
			continue // ourselves: forwarding there would loop
		}
		cfg.Upstreams = append(cfg.Upstreams, hp)
	}
	return cfg, nil
}

// upstreamAddr turns "ip" or "ip:port" (IPv6 "[ip]:port") into ip:port.
func upstreamAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", fmt.Errorf("dns: upstream %q is neither ip nor ip:port", s)
	}
	return ap.String(), nil
}

// resolvConfNameservers returns the nameserver lines of a resolv.conf
// file; a missing or unreadable file has none.
func resolvConfNameservers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			out = append(out, fields[1])
		}
	}
	return out
}
