package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/killall"
)

// killallFlags adds the flags `skiff killall` and `skiff uninstall`
// share: the node's settings, as given to its server or agent.
func killallFlags(cmd *cobra.Command, cfg *killall.Config) {
	f := cmd.Flags()
	f.StringVarP(&cfg.DataDir, "data-dir", "d", killall.DefaultDataDir, "data directory of the node's server or agent")
	f.StringVar(&cfg.CgroupRoot, "cgroup-root", killall.DefaultCgroupRoot, "the agent's --cgroup-root: pods' cgroups are removed below it")
	f.StringVar(&cfg.Bridge, "cni-bridge", killall.DefaultBridge, "the agent's --cni-bridge")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", killall.DefaultClusterCIDR, "the cluster's --cluster-cidr: the router's routes inside it are removed")
	f.BoolVar(&cfg.Force, "force", false, "run even while a skiff server or agent runs on this node")
}

// killallCommand is `skiff killall`, k3s-killall.sh's job.
func killallCommand() *cobra.Command {
	var cfg killall.Config
	cmd := &cobra.Command{
		Use:   "killall",
		Short: "Stop every pod's containers and containerd, and remove the node's mounts, pod network and cgroups",
		Long: `Stops what a stopped or killed agent leaves running: every pod's containers and
the agent's containerd; unmounts what they mounted under the data directory;
removes the pod network (the CNI bridge and its veths, flannel.1, the router's
routes, nftables tables ip skiff-net and ip skiff-proxy) and the pods' cgroups.
Stop the node's skiff server or agent first: it refuses while one runs with
the same data directory or in this network namespace, unless --force. Cluster
state in the data directory is kept; the next start runs the pods again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			ctx, stop := signalContext()
			defer stop()
			return killall.Run(ctx, cfg)
		},
	}
	killallFlags(cmd, &cfg)
	return cmd
}

// uninstallCommand is `skiff uninstall`, k3s-uninstall.sh's job.
func uninstallCommand() *cobra.Command {
	var cfg killall.Config
	var yes bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Run killall, then delete the data directory (the cluster's state) for good",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errors.New("uninstall deletes the data directory with the cluster's database, certificates and images; give --yes to confirm")
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			ctx, stop := signalContext()
			defer stop()
			return killall.Uninstall(ctx, cfg)
		},
	}
	killallFlags(cmd, &cfg)
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm deleting the data directory")
	return cmd
}
