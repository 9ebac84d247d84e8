package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/encryption"
)

// secretsEncryptCommand is `skiff secrets-encrypt`: tools for encryption at
// rest (--encryption-provider-config on the server).
func secretsEncryptCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets-encrypt",
		Short: "Manage encryption at rest",
	}
	cmd.AddCommand(reencryptCommand())
	return cmd
}

func reencryptCommand() *cobra.Command {
	var kubeconfig string
	var resources []string
	var pageSize int64
	cmd := &cobra.Command{
		Use:   "reencrypt",
		Short: "Rewrite every object of the encrypted resources with the current key",
		Long: `Rewrite every object of the given resources through the API server so it
is stored with the first key of the first provider in the server's
--encryption-provider-config. Run it after making a new key the first one
(on every server), before removing the old key. Objects already stored with
the current key are not written again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kubeconfig == "" {
				kubeconfig = os.Getenv("KUBECONFIG")
			}
			if kubeconfig == "" {
				kubeconfig = filepath.Join("/var/lib/skiff", "admin.kubeconfig")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				return err
			}
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return err
			}
			groups, err := restmapper.GetAPIGroupResources(dc)
			if err != nil {
				return fmt.Errorf("discovery: %w", err)
			}
			mapper := restmapper.NewDiscoveryRESTMapper(groups)
			client, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			for _, r := range resources {
				gr := schema.ParseGroupResource(r)
				gvr, err := mapper.ResourceFor(gr.WithVersion(""))
				if err != nil {
					return fmt.Errorf("--resource %s: %w", r, err)
				}
				res, err := encryption.Reencrypt(ctx, client.Resource(gvr), pageSize)
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rewritten, %d already current, %d changed by others\n",
					gr, res.Rewritten, res.Current, res.Raced)
				if err != nil {
					return fmt.Errorf("%s: %w", gr, err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "admin kubeconfig (default $KUBECONFIG, else /var/lib/skiff/admin.kubeconfig)")
	f.StringSliceVar(&resources, "resource", []string{"secrets"}, "resources to rewrite, as resource[.group]; repeatable")
	f.Int64Var(&pageSize, "page-size", 500, "objects listed per request")
	return cmd
}
