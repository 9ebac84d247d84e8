// Command skiff is Kubernetes in one binary: `skiff server` runs a control
// plane.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/version"
)

func main() { os.Exit(run()) }

func run() int {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Kubernetes in one small binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCommand(), schedulerCommand(), controllerManagerCommand(), secretsEncryptCommand(), versionCommand(), benchCommand(), agentCommand(), imagesCommand(), explainCommand(), killallCommand(), uninstallCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		return 1
	}
	return 0
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			v := version.Get()
			fmt.Fprintf(cmd.OutOrStdout(), "skiff %s (%s)\n", v.GitVersion, v.GoVersion)
		},
	}
}

func serverCommand() *cobra.Command {
	var cfg server.Config
	var endpoints, sans, disabledPlugins string
	var debug bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a control plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			cfg.DatastoreEndpoints = splitList(endpoints)
			cfg.TLSSANs = splitList(sans)
			cfg.DisableAdmissionPlugins = splitList(disabledPlugins)
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.DataDir, "data-dir", "d", "/var/lib/skiff", "directory for state: database, certificates, kubeconfig")
	f.IntVar(&cfg.HTTPSPort, "https-listen-port", 6443, "HTTPS port of the API server")
	f.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address other nodes reach the API server at (default: the bind address or the host's first IPv4)")
	f.StringVar(&cfg.KubeconfigPath, "write-kubeconfig", "", "where to write the admin kubeconfig (default DATA-DIR/admin.kubeconfig)")
	f.StringVar(&endpoints, "datastore-endpoint", "", "comma-separated etcd URLs of an external datastore; empty runs an embedded etcd in DATA-DIR/db")
	f.StringVar(&cfg.DatastoreTLS.CAFile, "datastore-cafile", "", "CA certificate of the external etcd")
	f.StringVar(&cfg.DatastoreTLS.CertFile, "datastore-certfile", "", "client certificate for the external etcd")
	f.StringVar(&cfg.DatastoreTLS.KeyFile, "datastore-keyfile", "", "client key for the external etcd")
	f.StringVar(&cfg.AuditPolicyFile, "audit-policy-file", "", "audit policy (audit.k8s.io/v1 Policy); with --audit-log-path turns on the audit log")
	f.StringVar(&cfg.AuditLogPath, "audit-log-path", "", "file the audit log is written to as JSON lines; - for stdout")
	f.StringVar(&cfg.EncryptionProviderConfig, "encryption-provider-config", "", "EncryptionConfiguration for encrypting resources at rest")
	f.StringVar(&cfg.Token, "token", "", "cluster join secret for `skiff agent --token` (default: kept in DATA-DIR/token)")
	f.StringVar(&cfg.TokenAuthFile, "token-auth-file", "", "static bearer tokens: CSV lines token,user,uid[,\"group1,group2\"]")
	f.StringVar(&disabledPlugins, "disable-admission-plugins", "", "comma-separated admission plugins to turn off")
	f.StringVar(&sans, "tls-san", "", "comma-separated extra names or IPs for the serving certificate")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range Service cluster IPs are allocated from")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "pod network range; each node gets a /24 (IPv4) from it")
	f.StringVar(&cfg.NodePortRange, "service-node-port-range", "30000-32767", "range Service node ports are allocated from")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", "", "IP of the cluster DNS Service kube-system/kube-dns (default: the service CIDR's tenth address, 10.43.0.10)")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "cluster DNS domain")
	f.StringVar(&cfg.FlannelBackend, "flannel-backend", "vxlan", "how pods reach pods on other nodes: vxlan, host-gw (nodes share a link) or none")
	f.BoolVar(&cfg.DisableControllerManager, "disable-controller-manager", false, "do not run the controllers")
	f.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run the scheduler")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "do not run a node agent (containerd, pods) on this machine")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of this machine's Node (default: the host name)")
	f.StringVar(&cfg.SchedulerConfig, "scheduler-config", "", "KubeSchedulerConfiguration file for the scheduler")
	f.Var(newEvictionHardFlag(&cfg.Eviction), "eviction-hard", evictionHardUsage+" (for this machine's agent)")
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
