package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/leader"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func clientConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
}

func schedulerCommand() *cobra.Command {
	var kubeconfig, configFile string
	var leaderElect bool
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler against a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc := scheduler.DefaultConfig()
			if configFile != "" {
				var err error
				if sc, err = scheduler.LoadConfig(configFile); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("leader-elect") {
				sc.LeaderElection.Enabled = leaderElect
			}
			if sc.Kubeconfig != "" && kubeconfig == "" {
				kubeconfig = sc.Kubeconfig
			}
			cfg, err := clientConfig(kubeconfig)
			if err != nil {
				return err
			}
			cfg.QPS, cfg.Burst = sc.QPS, int(sc.Burst)
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			leaseClient, err := leader.NewClient(cfg)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
			sched, err := scheduler.New(client, informers.NewSharedInformerFactory(client, 0), scheduler.Options{Config: sc, Logger: logger, LeaseClient: leaseClient})
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return sched.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&configFile, "config", "", "KubeSchedulerConfiguration file")
	cmd.Flags().BoolVar(&leaderElect, "leader-elect", true, "hold a Lease so only one scheduler is active")
	return cmd
}

func controllerManagerCommand() *cobra.Command {
	var kubeconfig string
	var leaderElect bool
	cmd := &cobra.Command{
		Use:   "controller-manager",
		Short: "Run the controllers against a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := clientConfig(kubeconfig)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return manager.Run(ctx, cfg, manager.Options{LeaderElect: leaderElect, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().BoolVar(&leaderElect, "leader-elect", true, "hold a Lease so only one controller manager is active")
	return cmd
}
