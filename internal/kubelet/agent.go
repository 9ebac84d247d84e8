package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/runtime"
)

// AgentConfig is what `skiff agent` (and `skiff server`'s local agent)
// runs with. DataDir, NodeName and RestConfig are required.
type AgentConfig struct {
	// DataDir is the Skiff data directory; the agent keeps its state in
	// DataDir/agent (containerd, CNI, pods, logs, images to import).
	DataDir string
	// NodeName is the Node's name (default: the host name, lower-cased).
	NodeName string
	// NodeIP is the node's InternalIP (default: the host's first IPv4).
	NodeIP net.IP
	// NodeLabels are added to the Node.
	NodeLabels map[string]string
	// RestConfig authenticates as system:node:NodeName (group
	// system:nodes).
	RestConfig *rest.Config
	// ContainerRuntimeEndpoint is a CRI socket to use instead of starting
	// containerd (unix:///run/containerd/containerd.sock); images are then
	// imported into it with ctr, so it must be containerd too for that.
	ContainerRuntimeEndpoint string
	// KubeletPort is the port of the agent's HTTPS server (logs, exec,
	// attach, port-forward); 0 picks a free one. The port in use is published
	// in the Node's status.daemonEndpoints.kubeletEndpoint.
	KubeletPort int
	// Bridge is the CNI bridge name (default cni0).
	Bridge string
	// CgroupRoot is the pods' parent cgroup (default /skiff).
	CgroupRoot string
	// ClusterDNS and ClusterDomain: see Config. Empty takes the
	// cluster's (Cluster).
	ClusterDNS    []string
	ClusterDomain string
	// Cluster is the cluster's shared settings (network ranges, DNS,
	// flannel backend); nil asks the server for them.
	Cluster *join.ClusterConfig
	// NodePortAddresses is kube-proxy's --nodeport-addresses: where
	// NodePorts answer (CIDRs or "primary", the default: the node's IP);
	// a range holding 127.0.0.1 opts in to localhost NodePorts.
	NodePortAddresses []string
	// Eviction sets the node-pressure thresholds (see EvictionConfig;
	// --eviction-hard).
	Eviction EvictionConfig
	// Ready, if not nil, is closed once the node agent runs.
	Ready  chan<- struct{}
	Logger *slog.Logger
}

// AgentDir is the agent's directory under a data directory.
func AgentDir(dataDir string) string { return filepath.Join(dataDir, "agent") }

// ImagesDir is where image tarballs are imported from at agent start.
func ImagesDir(dataDir string) string { return filepath.Join(AgentDir(dataDir), "images") }

// ContainerdAddress is the socket of the containerd the agent supervises.
func ContainerdAddress(dataDir string) string {
	return filepath.Join(AgentDir(dataDir), "containerd", "containerd.sock")
}

// RunAgent runs a node agent until ctx ends: it writes the CNI
// configuration, starts containerd (unless an endpoint is given), imports
// the pause image and DataDir/agent/images/*.tar, registers the node and
// runs its pods. On return containerd has been stopped; pods' containers
// keep running and are adopted by the next start.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	if cfg.DataDir == "" || cfg.RestConfig == nil {
		return ErrConfig
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("kubelet: node name: %w", err)
		}
		cfg.NodeName = strings.ToLower(h)
	}
	dir := AgentDir(cfg.DataDir)
	for _, d := range []string{dir, ImagesDir(cfg.DataDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("kubelet: %w", err)
		}
		// Pod secrets and the node's key live below: owner only, also
		// for a directory an earlier version left open.
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("kubelet: %w", err)
		}
	}
	rc := rest.CopyConfig(cfg.RestConfig)
	rc.UserAgent = "skiff-agent/" + cfg.NodeName
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	log := cfg.Logger.With("component", "agent")

	// The cluster network: the server's settings (which --cluster-dns and
	// --cluster-domain may override for this node's pods), routes, the
	// service proxy, and DNS once the node has its pod CIDR.
	cluster := cfg.Cluster
	if cluster == nil {
		cc, err := fetchClusterConfig(ctx, cfg, log)
		if err != nil {
			return err
		}
		cluster = &cc
	}
	if len(cfg.ClusterDNS) == 0 && cluster.ClusterDNS != "" {
		cfg.ClusterDNS = []string{cluster.ClusterDNS}
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = cluster.ClusterDomain
	}
	if cfg.NodeIP == nil {
		cfg.NodeIP = defaultNodeIP()
	}
	cniDir := filepath.Join(dir, "etc", "cni", "net.d")
	netw, err := newNodeNetwork(client, cfg, *cluster, cfg.NodeIP, cniDir, dir)
	if err != nil {
		return err
	}
	netCtx, stopNetwork := context.WithCancel(ctx)
	netw.start(netCtx)
	defer netw.wait()
	defer stopNetwork()

	endpoint, address := cfg.ContainerRuntimeEndpoint, strings.TrimPrefix(cfg.ContainerRuntimeEndpoint, "unix://")
	var wg sync.WaitGroup
	defer wg.Wait()
	rtCtx, stopRuntime := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRuntime()
	// Pulls go through containerd's CRI plugin, with the mirrors,
	// credentials and TLS settings of registries.yaml (k3s's format).
	registries, registriesFile, err := runtime.LoadRegistries(runtime.RegistriesPaths(cfg.DataDir))
	if err != nil {
		return err
	}
	if registriesFile != "" {
		if endpoint != "" {
			log.Warn("registries.yaml applies only to the containerd the agent starts; ignored", "file", registriesFile)
		} else {
			log.Info("registry configuration", "file", registriesFile)
		}
	}
	if endpoint == "" {
		cd := runtime.NewContainerd(runtime.ContainerdConfig{
			Dir: filepath.Join(dir, "containerd"), CNIConfDir: cniDir, Registries: registries, Logger: cfg.Logger,
		})
		errc := make(chan error, 1)
		wg.Add(1)
		go func() { defer wg.Done(); errc <- cd.Run(rtCtx) }()
		select {
		case err := <-errc:
			return err
		case <-cd.Ready():
		case <-ctx.Done():
			return nil
		case <-time.After(60 * time.Second):
			return fmt.Errorf("kubelet: containerd not ready after 60s (see %s)", cd.LogPath())
		}
		endpoint, address = cd.Endpoint(), cd.Address()
	}
	if err := runtime.ImportPauseImage(ctx, address, filepath.Join(dir, "containerd")); err != nil {
		return err
	}
	files, err := runtime.ImportDir(ctx, address, ImagesDir(cfg.DataDir))
	if err != nil {
		return err
	}
	if len(files) > 0 {
		log.Info("imported images", "files", files)
	}
	cri, err := runtime.Dial(ctx, endpoint)
	if err != nil {
		return err
	}
	defer cri.Close()

	// The Kubelet needs the server's port, so the server starts first and
	// serves the Kubelet's own routes once it exists.
	stats := &lateHandler{}
	srv, err := newAgentServer(cfg, client, cri.RuntimeServiceClient, map[string]http.Handler{"GET /stats/summary": stats})
	if err != nil {
		return err
	}
	// The serving certificate through a CSR once the Node has its
	// addresses; the self-signed one serves until then.
	certs := NewServingCertManager(ServingCertConfig{
		Client: client, NodeName: cfg.NodeName, Dir: filepath.Join(dir, "pki"),
		SetCertificate: srv.SetCertificate, Logger: cfg.Logger,
	})
	wg.Add(1)
	go func() { defer wg.Done(); certs.Run(ctx) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Run(ctx); err != nil {
			log.Error("the agent's HTTPS server stopped", "err", err)
		}
	}()

	k, err := New(Config{
		KubeletPort:    srv.Port(),
		NodeName:       cfg.NodeName,
		NodeIP:         cfg.NodeIP,
		NodeLabels:     cfg.NodeLabels,
		Client:         client,
		Runtime:        cri.RuntimeServiceClient,
		Images:         cri.ImageServiceClient,
		RootDir:        dir,
		CgroupRoot:     cfg.CgroupRoot,
		ClusterDNS:     cfg.ClusterDNS,
		ClusterDomain:  cfg.ClusterDomain,
		PodCIDRChanged: netw.setPodCIDR,
		Eviction:       cfg.Eviction,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return err
	}
	stats.set(k.StatsHandler())
	if cfg.Ready != nil {
		close(cfg.Ready)
	}
	return k.Run(ctx)
}

// lateHandler serves through a handler set after the server started; until
// then it answers 503.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "the node agent is starting", http.StatusServiceUnavailable)
}
