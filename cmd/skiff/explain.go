package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/scheduler"
)

// explainCommand is `skiff explain pod NAME`: a scheduler dry run for one
// pod, run in this process against the cluster's current state.
func explainCommand() *cobra.Command {
	var kubeconfig, namespace, output, configFile string
	var scores bool
	cmd := &cobra.Command{
		Use:   "explain pod NAME [-n NAMESPACE]",
		Short: "Explain where the scheduler would place a pod, and why not elsewhere",
		Long: `explain runs the scheduler's filters and scores for one pod against the
cluster's current nodes and pods, in this process (nothing is written to the
cluster), and prints per node the filter that rejected it and why, or its
score; the feasible nodes come first, best first.

-o wide (or --scores) adds each score plugin's normalized score (0-100) in a
column headed PLUGIN*WEIGHT; -o json prints the whole explanation. A pod
already bound is explained as if it were pending now.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "pod" && args[0] != "pods" && args[0] != "po" {
				return fmt.Errorf("explain: only pods can be explained, not %q", args[0])
			}
			switch output {
			case "", "wide", "json":
			default:
				return fmt.Errorf("explain: unknown output format %q (want wide or json)", output)
			}
			sc := scheduler.DefaultConfig()
			if configFile != "" {
				var err error
				if sc, err = scheduler.LoadConfig(configFile); err != nil {
					return err
				}
			}
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rules.ExplicitPath = kubeconfig
			loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil)
			cfg, err := loader.ClientConfig()
			if err != nil {
				return err
			}
			if namespace == "" {
				if namespace, _, err = loader.Namespace(); err != nil {
					return err
				}
			}
			cfg.QPS, cfg.Burst = 100, 200
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pod, err := client.CoreV1().Pods(namespace).Get(ctx, args[1], metav1.GetOptions{})
			if err != nil {
				return err
			}
			expl, err := scheduler.ExplainFromAPI(ctx, client, sc, pod)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(expl)
			}
			return scheduler.WriteExplanation(out, expl, pod.Spec.NodeName, scores || output == "wide")
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the pod (default: the kubeconfig context's)")
	f.StringVarP(&output, "output", "o", "", "output format: wide or json (default: a table)")
	f.BoolVar(&scores, "scores", false, "show each score plugin's score (as -o wide)")
	f.StringVar(&configFile, "config", "", "KubeSchedulerConfiguration the cluster's scheduler runs with (default: upstream's defaults)")
	return cmd
}
