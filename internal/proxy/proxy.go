package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"
)

// Config is what a Proxier needs. Client and NodeName are required.
type Config struct {
	// Client reads Services, EndpointSlices and this node's Node.
	Client kubernetes.Interface
	// NodeName is this node: endpoints with this nodeName are local.
	NodeName string
	// NodeIPs are the node's addresses; NodePorts and health check
	// ports are answered on them (with NodePortAddresses "primary").
	NodeIPs []net.IP
	// ClusterCIDR is the pod network (e.g. 10.42.0.0/16). When set,
	// traffic to a ClusterIP from outside it is masqueraded and pods'
	// traffic to external addresses of externalTrafficPolicy Local
	// Services is short-circuited, as upstream's local detector does.
	ClusterCIDR string
	// ServiceCIDR (e.g. 10.43.0.0/16): traffic to addresses in it that
	// no Service has is dropped.
	ServiceCIDR string
	// NodePortAddresses is upstream's --nodeport-addresses: CIDRs
	// (matched against this host's interface addresses) and/or
	// "primary" (NodeIPs). Empty means "primary". A CIDR containing
	// 127.0.0.1 makes NodePorts answer on localhost and sets
	// net.ipv4.conf.all.route_localnet=1, as upstream's iptables mode.
	NodePortAddresses []string
	// MinSyncPeriod is the least time between two syncs (default 1s);
	// a change after a quiet period is synced at once.
	MinSyncPeriod time.Duration
	// SyncPeriod is how often everything is rewritten (default 30s).
	SyncPeriod time.Duration
	Logger     *slog.Logger
	Clock      clock.WithTicker
}

// Proxier keeps table ip skiff-proxy in step with Services and
// EndpointSlices. Build it with New, run it with Run.
type Proxier struct {
	cfg         Config
	log         *slog.Logger
	clock       clock.WithTicker
	nft         knftables.Interface
	writer      txWriter // partial syncs and stale chain deletion
	ct          conntracker
	sysctl      func(name, value string) error
	health      *healthServer
	clusterCIDR string // canonical, "" if unset
	serviceCIDR string

	// Set by Run (or tests) before the first sync.
	services corelisters.ServiceLister
	slices   cache.Indexer

	mu    sync.Mutex // guards dirty, full and zone
	dirty map[string]struct{}
	full  bool
	zone  string
	wake  chan struct{} // capacity 1, never closed: a sync is wanted

	// Owned by the sync loop (one goroutine); no lock.
	programmed  map[string]*svcRules // by Service key: what the kernel has
	owners      map[elemKey]string   // element → Service key that wrote it
	refs        map[elemKey]int      // shared set element → Services wanting it
	conflicted  map[string]bool      // Services that lost an element to another
	stale       map[string]time.Time // flushed chains to delete later
	picks       *pickBlocks          // endpoints map keys of each Service chain
	recreate    bool                 // next full sync replaces the table
	nodePortIPs []netip.Addr
	failures    int

	// onSynced, if set, is called after each successful sync with the
	// Service keys it rewrote and how long it took (tests, benchmarks).
	onSynced func(full bool, keys []string, took time.Duration)
}

// Errors from New.
var (
	ErrNoClient   = errors.New("proxy: Config.Client is required")
	ErrNoNodeName = errors.New("proxy: Config.NodeName is required")
)

// New checks cfg and builds a Proxier; it changes nothing on the host.
func New(cfg Config) (*Proxier, error) {
	if cfg.Client == nil {
		return nil, ErrNoClient
	}
	// knftables (the nft binary) only deletes the table at the end;
	// syncs and listings go through nlWriter.
	nft, err := knftables.New(knftables.IPv4Family, tableName, knftables.UseNetlink)
	if err != nil {
		return nil, fmt.Errorf("proxy: nftables: %w", err)
	}
	p, err := newProxier(cfg, nft, netlinkConntrack{}, writeSysctl)
	if err != nil {
		return nil, err
	}
	p.writer = newNLWriter()
	return p, nil
}

func newProxier(cfg Config, nft knftables.Interface, ct conntracker, sysctl func(string, string) error) (*Proxier, error) {
	if cfg.NodeName == "" {
		return nil, ErrNoNodeName
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = time.Second
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxier{
		cfg: cfg, log: cfg.Logger.With("component", "proxy"), clock: cfg.Clock,
		nft: nft, writer: nftWriter{nft}, ct: ct, sysctl: sysctl,
		dirty: map[string]struct{}{}, full: true, recreate: true, wake: make(chan struct{}, 1),
		owners: map[elemKey]string{}, refs: map[elemKey]int{}, conflicted: map[string]bool{}, stale: map[string]time.Time{},
		picks: newPickBlocks(),
	}
	for _, c := range []struct {
		in  string
		out *string
		cfg string
	}{{cfg.ClusterCIDR, &p.clusterCIDR, "ClusterCIDR"}, {cfg.ServiceCIDR, &p.serviceCIDR, "ServiceCIDR"}} {
		if c.in == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(c.in)
		if err != nil || !pfx.Addr().Is4() {
			return nil, fmt.Errorf("proxy: %s %q is not an IPv4 CIDR", c.cfg, c.in)
		}
		*c.out = pfx.Masked().String()
	}
	for _, a := range cfg.NodePortAddresses {
		if a == "primary" {
			continue
		}
		if _, err := netip.ParsePrefix(a); err != nil {
			return nil, fmt.Errorf("proxy: NodePortAddresses: %q is neither a CIDR nor \"primary\"", a)
		}
	}
	p.health = newHealthServer(p.log)
	return p, nil
}

// Labels that take a Service (and its slices) away from this proxy, as
// upstream: another proxy owns it, or it is headless.
const serviceSelector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"

const byServiceIndex = "service"

func sliceServiceKey(s *discoveryv1.EndpointSlice) string {
	n := s.Labels[discoveryv1.LabelServiceName]
	if n == "" {
		return ""
	}
	return s.Namespace + "/" + n
}

// Run sets the sysctls the proxy needs, watches Services, EndpointSlices
// and this node, and keeps the table in step until ctx ends. It then
// stops the health check servers and deletes the table, so nothing of the
// proxy is left in the kernel, and returns nil (or the error that stopped
// it earlier).
func (p *Proxier) Run(ctx context.Context) error {
	p.setSysctls()
	tweak := informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = serviceSelector })
	f := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0, tweak)
	nodeF := informers.NewSharedInformerFactoryWithOptions(p.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", p.cfg.NodeName).String()
		}))
	svcInf := f.Core().V1().Services()
	sliceInf := f.Discovery().V1().EndpointSlices()
	nodeInf := nodeF.Core().V1().Nodes()
	if err := sliceInf.Informer().AddIndexers(cache.Indexers{byServiceIndex: func(obj any) ([]string, error) {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			if k := sliceServiceKey(s); k != "" {
				return []string{k}, nil
			}
		}
		return nil, nil
	}}); err != nil {
		return err
	}
	p.services = svcInf.Lister()
	p.slices = sliceInf.Informer().GetIndexer()
	handlers := []struct {
		inf cache.SharedIndexInformer
		fn  func(any)
	}{
		{svcInf.Informer(), func(o any) {
			if s, ok := o.(*corev1.Service); ok {
				p.markDirty(s.Namespace + "/" + s.Name)
			}
		}},
		{sliceInf.Informer(), func(o any) {
			if s, ok := o.(*discoveryv1.EndpointSlice); ok {
				if k := sliceServiceKey(s); k != "" {
					p.markDirty(k)
				}
			}
		}},
		{nodeInf.Informer(), func(o any) {
			if n, ok := o.(*corev1.Node); ok && n.Name == p.cfg.NodeName {
				p.setZone(n.Labels[corev1.LabelTopologyZone])
			}
		}},
	}
	var synced []cache.InformerSynced
	for _, h := range handlers {
		fn := h.fn
		reg, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    fn,
			UpdateFunc: func(_, o any) { fn(o) },
			DeleteFunc: func(o any) {
				if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				fn(o)
			},
		})
		if err != nil {
			return err
		}
		synced = append(synced, reg.HasSynced)
	}
	stopInformers := make(chan struct{})
	f.Start(stopInformers)
	nodeF.Start(stopInformers)
	defer func() {
		close(stopInformers)
		f.Shutdown()
		nodeF.Shutdown()
	}()
	defer p.teardown()
	if !cache.WaitForNamedCacheSync("proxy", ctx.Done(), synced...) {
		return nil
	}
	p.log.Info("proxy started", "node", p.cfg.NodeName, "table", "ip "+tableName)
	if len(p.nodePortAddrs()) == 0 {
		p.log.Warn("no node port addresses (NodeIPs empty, or no interface matches NodePortAddresses): NodePorts will not be answered")
	}
	p.loop(ctx)
	return nil
}

// teardown removes everything Run made: health servers and the table.
func (p *Proxier) teardown() {
	p.health.stop()
	p.writer.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := deleteTable(ctx, p.nft); err != nil {
		p.log.Error("could not delete nftables table", "table", tableName, "err", err)
	}
}

// Cleanup deletes a table ip skiff-proxy left by a proxy that did not
// stop cleanly. A missing table is not an error.
func Cleanup(ctx context.Context) error {
	nft, err := knftables.New(knftables.IPv4Family, tableName)
	if err != nil {
		return fmt.Errorf("proxy: nftables: %w", err)
	}
	return deleteTable(ctx, nft)
}

func deleteTable(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}

func (p *Proxier) markDirty(key string) {
	p.mu.Lock()
	p.dirty[key] = struct{}{}
	p.mu.Unlock()
	p.poke()
}

func (p *Proxier) setZone(z string) {
	p.mu.Lock()
	changed := p.zone != z
	if changed {
		p.zone = z
		p.full = true
	}
	p.mu.Unlock()
	if changed {
		p.poke()
	}
}

// poke asks the loop for a sync without blocking.
func (p *Proxier) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// loop syncs at once, then whenever woken (no sooner than MinSyncPeriod
// after the previous sync), after SyncPeriod (a full resync), and after a
// failure (with back-off). It returns when ctx ends.
func (p *Proxier) loop(ctx context.Context) {
	var last time.Time
	lastFull := p.clock.Now()
	timer := p.clock.NewTimer(0)
	defer timer.Stop()
	for {
		if wait := p.cfg.MinSyncPeriod - p.clock.Since(last); !last.IsZero() && wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.clock.After(wait):
			}
		}
		if p.clock.Since(lastFull) >= p.cfg.SyncPeriod {
			p.mu.Lock()
			p.full = true
			p.mu.Unlock()
		}
		last = p.clock.Now()
		full, err := p.safeSync(ctx)
		next := p.cfg.SyncPeriod
		switch {
		case err != nil:
			p.failures++
			next = min(time.Duration(1<<min(p.failures, 10))*100*time.Millisecond, p.cfg.SyncPeriod)
			p.log.Error("proxy sync failed; retrying", "err", err, "in", next)
		case full:
			p.failures = 0
			lastFull = last
		default:
			p.failures = 0
			next = p.cfg.SyncPeriod - p.clock.Since(lastFull)
		}
		if len(p.stale) > 0 && next > staleChainDelay {
			next = staleChainDelay + 10*time.Millisecond
		}
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(max(next, 0))
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C():
			if err != nil {
				p.mu.Lock()
				p.full = true
				p.mu.Unlock()
			}
		}
	}
}

// safeSync is sync with a panic turned into an error (and so into a full
// resync with back-off): a bug triggered by one odd object must not take
// the node's Service traffic down with the agent.
func (p *Proxier) safeSync(ctx context.Context) (full bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("proxy: sync panicked: %v", r)
			p.recreate = true
			p.mu.Lock()
			p.full = true
			p.mu.Unlock()
		}
	}()
	return p.sync(ctx)
}

// setSysctls turns on what Service traffic needs: forwarding, bridged
// traffic through netfilter (pod to pod replies on one bridge), and
// route_localnet when NodePorts answer on 127.0.0.1.
func (p *Proxier) setSysctls() {
	set := func(name, value string, required bool) {
		if err := p.sysctl(name, value); err != nil {
			if required {
				p.log.Error("could not set sysctl", "name", name, "value", value, "err", err)
			} else {
				p.log.Warn("could not set sysctl (is br_netfilter loaded?)", "name", name, "value", value, "err", err)
			}
		}
	}
	set("net/ipv4/ip_forward", "1", true)
	set("net/bridge/bridge-nf-call-iptables", "1", false)
	if p.localhostNodePorts() {
		set("net/ipv4/conf/all/route_localnet", "1", true)
	}
}

func writeSysctl(name, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value+"\n"), 0o644)
}

// localhostNodePorts reports whether NodePortAddresses asks for 127.0.0.1.
func (p *Proxier) localhostNodePorts() bool {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, a := range p.cfg.NodePortAddresses {
		if pfx, err := netip.ParsePrefix(a); err == nil && pfx.Contains(lo) {
			return true
		}
	}
	return false
}

// nodePortAddrs resolves NodePortAddresses to this host's IPv4 addresses.
func (p *Proxier) nodePortAddrs() []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(a netip.Addr) {
		a = a.Unmap()
		if a.Is4() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	specs := p.cfg.NodePortAddresses
	if len(specs) == 0 {
		specs = []string{"primary"}
	}
	var ifAddrs []netip.Addr
	for _, s := range specs {
		if s == "primary" {
			for _, ip := range p.cfg.NodeIPs {
				if a, ok := netip.AddrFromSlice(ip); ok {
					add(a)
				}
			}
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if ifAddrs == nil {
			ifAddrs = interfaceAddrs()
		}
		for _, a := range ifAddrs {
			if pfx.Contains(a) {
				add(a)
			}
		}
		if pfx.Contains(netip.MustParseAddr("127.0.0.1")) {
			add(netip.MustParseAddr("127.0.0.1"))
		}
	}
	return out
}

func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// build computes what the Service named key should have in the table.
// A Service that is gone or has no rules gives an empty svcRules.
func (p *Proxier) build(key string, rc ruleContext) *svcRules {
	r := newSvcRules()
	ns, name, _ := strings.Cut(key, "/")
	svc, err := p.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) || err != nil {
		return r
	}
	objs, _ := p.slices.ByIndex(byServiceIndex, key)
	slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, s)
		}
	}
	return buildService(svc, slices, rc)
}

// buildService is build without the caches: the rules of svc given its
// slices. Problems are recorded in the result's warn list.
func buildService(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, rc ruleContext) *svcRules {
	r := newSvcRules()
	ports, probs := servicePorts(svc)
	if len(ports) == 0 {
		for _, pr := range probs {
			r.warn = append(r.warn, pr.object+": "+pr.msg)
		}
		return r
	}
	eps, eprobs := portEndpoints(slices, rc.nodeName)
	for _, pr := range append(probs, eprobs...) {
		r.warn = append(r.warn, pr.object+": "+pr.msg)
	}
	for _, sp := range ports {
		pe := eps[sp.portName+"|"+sp.protocol]
		r.addServicePort(sp, pe, rc)
		if sp.healthCheckNodePort > 0 {
			if r.health == nil {
				r.health = &healthPort{port: sp.healthCheckNodePort, namespace: sp.namespace, name: sp.service}
			}
			for _, ep := range pe {
				if ep.local && ep.ready {
					r.health.localEndpoints++
				}
			}
		}
	}
	return r
}

// listKeys lists the keys of every Service the proxy sees.
func (p *Proxier) listKeys() []string {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}
