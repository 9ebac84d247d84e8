package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/proxy"
)

// nodeNetwork is the agent's share of the cluster network, what flannel,
// kube-proxy and CoreDNS do on a Kubernetes node: routes to the other
// nodes' pods (network.Router), the service proxy (proxy.Proxier) and the
// node's DNS server (dns.Server, on the pods' gateway address). Router and
// proxy start with the agent; the CNI configuration, the bridge and the
// DNS server wait for the node's pod CIDR, so nothing is set up on an
// address range the node was not given.
//
// Every part stops when the context given to start ends, removing what it
// put in the kernel; wait returns once they all have.
type nodeNetwork struct {
	client  kubernetes.Interface
	cluster join.ClusterConfig
	bridge  string
	cniDir  string
	ipamDir string
	log     *slog.Logger

	router *network.Router // nil with backend none
	proxy  *proxy.Proxier

	wg  sync.WaitGroup
	ctx context.Context // set by start; the DNS server runs under it

	mu      sync.Mutex // guards podCIDR and dnsStop
	podCIDR string
	dnsStop context.CancelFunc // stops the DNS server on the current gateway
}

func newNodeNetwork(client kubernetes.Interface, cfg AgentConfig, cluster join.ClusterConfig, nodeIP net.IP, cniDir, dir string) (*nodeNetwork, error) {
	n := &nodeNetwork{
		client: client, cluster: cluster,
		bridge: cfg.Bridge, cniDir: cniDir, ipamDir: filepath.Join(dir, "cni", "networks"),
		log: cfg.Logger.With("component", "network"),
	}
	if n.bridge == "" {
		n.bridge = "cni0"
	}
	if cluster.FlannelBackend != "none" {
		r, err := network.NewRouter(network.RouterConfig{
			Client: client, NodeName: cfg.NodeName, NodeIP: nodeIP, Backend: cluster.FlannelBackend,
			ClusterCIDR: cluster.ClusterCIDR, Logger: cfg.Logger.With("component", "router"),
		})
		if err != nil {
			return nil, err
		}
		n.router = r
	}
	p, err := proxy.New(proxy.Config{
		Client: client, NodeName: cfg.NodeName, NodeIPs: []net.IP{nodeIP},
		ClusterCIDR: cluster.ClusterCIDR, ServiceCIDR: cluster.ServiceCIDR,
		NodePortAddresses: cfg.NodePortAddresses,
		Logger:            cfg.Logger.With("component", "proxy"),
	})
	if err != nil {
		return nil, err
	}
	n.proxy = p
	return n, nil
}

// start runs the router and the proxy until ctx ends.
func (n *nodeNetwork) start(ctx context.Context) {
	n.ctx = ctx
	if n.router != nil {
		n.goRun("router", n.router.Run)
	}
	n.goRun("service proxy", n.proxy.Run)
}

func (n *nodeNetwork) goRun(what string, run func(context.Context) error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := run(n.ctx); err != nil && n.ctx.Err() == nil {
			n.log.Error(what+" stopped", "err", err)
		}
	}()
}

// wait returns once every part has stopped and cleaned up.
func (n *nodeNetwork) wait() { n.wg.Wait() }

// mtu is the pods' MTU: the underlay's less the VXLAN header, or the
// bridge plugin's default.
func (n *nodeNetwork) mtu() int {
	if n.router != nil {
		return n.router.MTU()
	}
	return 0
}

// setPodCIDR is the Kubelet's PodCIDRChanged: it configures CNI for the
// range, gives the bridge its gateway address, and (re)starts the DNS
// server there.
func (n *nodeNetwork) setPodCIDR(cidr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if cidr == n.podCIDR {
		return
	}
	changed, err := network.WriteCNIConfig(n.cniDir, network.CNIConfig{
		PodCIDR: cidr, Bridge: n.bridge, IPAMDir: n.ipamDir, MTU: n.mtu(), NoMasquerade: n.router != nil,
	})
	if err != nil {
		n.log.Error("writing the CNI configuration", "err", err)
		return
	}
	if changed {
		n.log.Info("pod network configured", "podCIDR", cidr)
	}
	gw, err := network.Gateway(cidr)
	if err != nil {
		n.log.Error("the node's pod CIDR has no gateway", "podCIDR", cidr, "err", err)
		return
	}
	prefix, _ := netip.ParsePrefix(cidr)
	if err := network.EnsureBridge(n.bridge, netip.PrefixFrom(gw, prefix.Bits()), n.mtu()); err != nil {
		n.log.Error("setting up the pods' bridge", "bridge", n.bridge, "err", err)
	}
	n.podCIDR = cidr
	if n.dnsStop != nil {
		n.dnsStop()
	}
	n.dnsStop = n.startDNS(gw)
}

// startDNS serves the cluster DNS on gw:53 until the returned function is
// called or the network stops.
func (n *nodeNetwork) startDNS(gw netip.Addr) context.CancelFunc {
	var reverse []netip.Prefix
	for _, c := range []string{n.cluster.ServiceCIDR, n.cluster.ClusterCIDR} {
		if p, err := netip.ParsePrefix(c); err == nil {
			reverse = append(reverse, p)
		}
	}
	s, err := dns.New(dns.Config{
		Client: n.client, ClusterDomain: n.cluster.ClusterDomain,
		ListenAddr:   netip.AddrPortFrom(gw, 53).String(),
		ReverseCIDRs: reverse,
		Logger:       n.log.With("component", "dns"),
	})
	if err != nil {
		n.log.Error("cluster DNS", "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(n.ctx)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("cluster DNS stopped", "addr", gw, "err", err)
		}
	}()
	return cancel
}

// fetchClusterConfig asks the server for the cluster's settings, retrying
// while the server is not reachable yet.
func fetchClusterConfig(ctx context.Context, cfg AgentConfig, log *slog.Logger) (join.ClusterConfig, error) {
	for attempt := 1; ; attempt++ {
		cc, err := join.FetchClusterConfig(ctx, cfg.RestConfig)
		if err == nil {
			return cc, nil
		}
		if attempt == 10 {
			return join.ClusterConfig{}, fmt.Errorf("kubelet: the cluster's settings: %w", err)
		}
		log.Warn("asking the server for the cluster's settings", "err", err, "attempt", attempt)
		select {
		case <-ctx.Done():
			return join.ClusterConfig{}, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
}
