package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// agentCommand is `skiff agent`: a node agent joining a cluster.
func agentCommand() *cobra.Command {
	var cfg kubelet.AgentConfig
	var kubeconfig, serverURL, token, caFile, nodeIP, clusterDNS, labels, nodePortAddrs string
	var debug bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent: register this machine as a node and run its pods",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			switch {
			case kubeconfig != "":
				rc, err := clientConfig(kubeconfig)
				if err != nil {
					return err
				}
				cfg.RestConfig = rc
			case serverURL != "" && strings.HasPrefix(token, "K10"):
				// A join token: exchange it for the node's own identity.
				name := cfg.NodeName
				if name == "" {
					host, err := os.Hostname()
					if err != nil {
						return err
					}
					name = strings.ToLower(host)
				}
				cfg.NodeName = name
				path, err := join.JoinOnce(cmd.Context(), cfg.DataDir, serverURL, token, name)
				if err != nil {
					return err
				}
				if cfg.RestConfig, err = clientConfig(path); err != nil {
					return err
				}
			case serverURL != "" && token != "":
				if caFile == "" {
					return errors.New("--token needs --certificate-authority (the server's DATA-DIR/tls/ca.crt)")
				}
				cfg.RestConfig = &rest.Config{Host: serverURL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}}
			default:
				return errors.New("give --kubeconfig (an identity system:node:NAME in group system:nodes), or --server with --token and --certificate-authority")
			}
			if nodeIP != "" {
				if cfg.NodeIP = net.ParseIP(nodeIP); cfg.NodeIP == nil {
					return fmt.Errorf("--node-ip: %q is not an IP address", nodeIP)
				}
			}
			cfg.ClusterDNS = splitList(clusterDNS)
			cfg.NodePortAddresses = splitList(nodePortAddrs)
			for _, l := range splitList(labels) {
				k, v, _ := cutLabel(l)
				if cfg.NodeLabels == nil {
					cfg.NodeLabels = map[string]string{}
				}
				cfg.NodeLabels[k] = v
			}
			ctx, stop := signalContext()
			defer stop()
			return kubelet.RunAgent(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.DataDir, "data-dir", "d", "/var/lib/skiff", "directory for state; the agent uses DATA-DIR/agent")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig with the node's identity (system:node:NAME)")
	f.StringVarP(&serverURL, "server", "s", "", "API server URL (https://HOST:6443), with --token")
	f.StringVarP(&token, "token", "t", "", "the cluster's join token (the server's DATA-DIR/token), or a bearer token of the node's identity, with --server")
	f.StringVar(&caFile, "certificate-authority", "", "CA certificate of the API server, with --server")
	f.StringVar(&cfg.NodeName, "node-name", "", "node name (default: the host name)")
	f.StringVar(&nodeIP, "node-ip", "", "the node's InternalIP (default: the host's first IPv4 address)")
	f.StringVar(&labels, "node-label", "", "comma-separated key=value labels for the node")
	f.StringVar(&cfg.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "CRI socket of a running containerd (default: start one in DATA-DIR/agent/containerd)")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", kubelet.KubeletPort, "port of the agent's HTTPS server (logs, exec, attach, port-forward); 0 picks a free one")
	f.StringVar(&cfg.Bridge, "cni-bridge", "cni0", "name of the pods' bridge")
	f.StringVar(&cfg.CgroupRoot, "cgroup-root", "/skiff", "parent cgroup of pod cgroups")
	f.StringVar(&clusterDNS, "cluster-dns", "", "comma-separated DNS server IPs for pods with dnsPolicy ClusterFirst (default: the cluster DNS Service, 10.43.0.10)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "", "cluster DNS domain for pods (default: the cluster's, cluster.local)")
	f.StringVar(&nodePortAddrs, "nodeport-addresses", "", "comma-separated CIDRs (or \"primary\", the default: the node IP) where NodePorts answer, as kube-proxy's flag; include 127.0.0.0/8 for localhost NodePorts")
	f.Var(newEvictionHardFlag(&cfg.Eviction), "eviction-hard", evictionHardUsage)
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

const evictionHardUsage = "hard eviction thresholds, SIGNAL<QUANTITY or SIGNAL<PERCENT% separated by commas " +
	"(signals: memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree); " +
	"as upstream's kubelet, a signal left out of a given list is off"

// evictionHardFlag is --eviction-hard (a pflag.Value): upstream's syntax,
// parsed when flags are, so a bad value fails before anything starts.
type evictionHardFlag struct {
	into  *kubelet.EvictionConfig
	value string
}

func newEvictionHardFlag(into *kubelet.EvictionConfig) *evictionHardFlag {
	return &evictionHardFlag{into: into, value: kubelet.DefaultEvictionHard}
}

func (f *evictionHardFlag) String() string { return f.value }

func (f *evictionHardFlag) Type() string { return "thresholds" }

func (f *evictionHardFlag) Set(s string) error {
	hard, err := kubelet.ParseEvictionHard(s)
	if err != nil {
		return err
	}
	f.into.SetHard(hard)
	f.value = s
	return nil
}

func cutLabel(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
