package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/runtime"
)

// imagesCommand is `skiff images`: the node's image store, in the
// containerd the agent runs (list, import, remove).
func imagesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "Manage the node's container images"}
	var dataDir, address string
	socket := func() string {
		if address != "" {
			return address
		}
		return kubelet.ContainerdAddress(dataDir)
	}
	cmd.PersistentFlags().StringVarP(&dataDir, "data-dir", "d", "/var/lib/skiff", "data directory of the running agent")
	cmd.PersistentFlags().StringVar(&address, "address", "", "containerd socket (default: DATA-DIR/agent/containerd/containerd.sock)")

	cmd.AddCommand(&cobra.Command{
		Use:   "import FILE...",
		Short: "Import image tarballs (docker save / OCI archives) into the node's containerd",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			for _, f := range args {
				if err := runtime.Import(ctx, socket(), f); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "imported", f)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the node's images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			c, err := runtime.Dial(ctx, socket())
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.ListImages(ctx, &runtimeapi.ListImagesRequest{})
			if err != nil {
				return fmt.Errorf("listing images (is the agent running?): %w", err)
			}
			writeImages(cmd.OutOrStdout(), resp.Images)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "remove IMAGE...",
		Aliases: []string{"rm", "rmi"},
		Short:   "Remove images (by name, or ID prefix) no container uses",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			c, err := runtime.Dial(ctx, socket())
			if err != nil {
				return err
			}
			defer c.Close()
			var errs []error
			for _, ref := range args {
				id, err := removeImage(ctx, c, ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), "removed", ref, shortID(id))
			}
			return errors.Join(errs...)
		},
	})
	return cmd
}

// writeImages prints images as crictl does: one line per tag (or digest
// for an untagged image).
func writeImages(out io.Writer, images []*runtimeapi.Image) {
	type row struct{ image, tag, id, size string }
	var rows []row
	for _, img := range images {
		size := humanSize(img.Size)
		for _, t := range img.RepoTags {
			i := strings.LastIndex(t, ":")
			if i < 0 || strings.Contains(t[i:], "/") {
				rows = append(rows, row{t, "<none>", shortID(img.Id), size})
				continue
			}
			rows = append(rows, row{t[:i], t[i+1:], shortID(img.Id), size})
		}
		if len(img.RepoTags) == 0 {
			name := "<none>"
			if len(img.RepoDigests) > 0 {
				name, _, _ = strings.Cut(img.RepoDigests[0], "@")
			}
			rows = append(rows, row{name, "<none>", shortID(img.Id), size})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].image != rows[j].image {
			return rows[i].image < rows[j].image
		}
		return rows[i].tag < rows[j].tag
	})
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.image, r.tag, r.id, r.size)
	}
	tw.Flush()
}

// removeImage removes the image ref names (a reference, or a prefix of
// its ID) unless a container uses it, and returns its ID.
func removeImage(ctx context.Context, c *runtime.Client, ref string) (string, error) {
	var img *runtimeapi.Image
	if st, err := c.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err == nil && st.Image != nil {
		img = st.Image
	} else {
		list, err := c.ListImages(ctx, &runtimeapi.ListImagesRequest{})
		if err != nil {
			return "", err
		}
		want := strings.TrimPrefix(ref, "sha256:")
		for _, i := range list.Images {
			if len(want) >= 4 && strings.HasPrefix(strings.TrimPrefix(i.Id, "sha256:"), want) {
				if img != nil {
					return "", fmt.Errorf("%s: more than one image has that ID prefix", ref)
				}
				img = i
			}
		}
	}
	if img == nil {
		return "", fmt.Errorf("%s: no such image", ref)
	}
	cs, err := c.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return "", err
	}
	for _, ct := range cs.Containers {
		if ct.ImageRef == img.Id || ct.GetImage().GetImage() == img.Id {
			return "", fmt.Errorf("%s: in use by container %s (%s)", ref, shortID(ct.Id), ct.GetMetadata().GetName())
		}
	}
	if _, err := c.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: img.Id}}); err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return img.Id, nil
}

// shortID is the first 13 hex digits of an image or container ID.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 13 {
		id = id[:13]
	}
	return id
}

// humanSize prints bytes as crictl does (decimal units).
func humanSize(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
