package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// CRINamespace is the containerd namespace the CRI plugin keeps images in.
const CRINamespace = "k8s.io"

// Import loads an image tarball (docker-archive or OCI layout, as `docker
// save` or WriteDockerArchive write it) into containerd at address (its
// socket path) for CRI use, unpacked for the overlayfs snapshotter. It
// runs Debian's `ctr`, which ships with containerd.
func Import(ctx context.Context, address, file string) error {
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		ctr = "/usr/bin/ctr"
	}
	cmd := exec.CommandContext(ctx, ctr, "--address", address, "--namespace", CRINamespace,
		"images", "import", "--snapshotter", "overlayfs", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("runtime: importing %s: %v: %s", file, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// ImportDir imports every *.tar file in dir, in name order, and returns
// the files imported. A missing directory imports nothing. It stops at the
// first failure.
func ImportDir(ctx context.Context, address, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".tar") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	for i, f := range files {
		if err := Import(ctx, address, f); err != nil {
			return files[:i], err
		}
	}
	return files, nil
}

// ImportPauseImage writes the pause image to a file in dir and imports it.
func ImportPauseImage(ctx context.Context, address, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	path := filepath.Join(dir, "pause.tar")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	if err := WritePauseImage(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return Import(ctx, address, path)
}
