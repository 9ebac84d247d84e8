package node

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// skiffImages runs `skiff images ARGS` against the suite's agent.
func skiffImages(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"images"}, append(args, "--data-dir", agentData)...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestSkiffImages: `skiff images import`, `list` and `remove` on the
// node's containerd; an image a container uses is not removed.
func TestSkiffImages(t *testing.T) {
	const image = "skiff.local/imported:2"
	file := filepath.Join(t.TempDir(), "imported.tar")
	if err := testenv.WriteBusyboxImage(file, image); err != nil {
		t.Fatal(err)
	}
	if out, err := skiffImages(t, "import", file); err != nil || !strings.Contains(out, "imported "+file) {
		t.Fatalf("skiff images import: %v\n%s", err, out)
	}
	hasLine := func(out, image, tag string) bool {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 4 && f[0] == image && f[1] == tag {
				return true
			}
		}
		return false
	}
	out, err := skiffImages(t, "list")
	if err != nil || !strings.HasPrefix(out, "IMAGE") || !hasLine(out, "skiff.local/imported", "2") || !hasLine(out, "skiff.local/busybox", "1") {
		t.Fatalf("skiff images list: %v\n%s", err, out)
	}

	if out, err := skiffImages(t, "remove", image); err != nil || !strings.Contains(out, "removed "+image) {
		t.Fatalf("skiff images remove: %v\n%s", err, out)
	}
	if out, _ := skiffImages(t, "list"); hasLine(out, "skiff.local/imported", "2") {
		t.Errorf("removed image still listed:\n%s", out)
	}

	// The busybox image runs the suite's pods.
	ns := newNamespace(t)
	applyPod(t, ns, "user", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`)
	waitPod(t, ns, "user", "running", running)
	if out, err := skiffImages(t, "remove", BusyboxImage); err == nil || !strings.Contains(out, "in use by container") {
		t.Errorf("removing an image in use: %v\n%s; want it refused", err, out)
	}
}
