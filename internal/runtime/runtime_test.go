package runtime

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
)

func readTar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = b
		if hdr.Typeflag == tar.TypeSymlink {
			out[hdr.Name] = []byte("-> " + hdr.Linkname)
		}
	}
}

func TestWriteDockerArchive(t *testing.T) {
	files := []File{
		{Name: "/bin/tool", Mode: 0o755, Data: []byte("#!")},
		{Name: "bin/sh", Mode: os.ModeSymlink, Link: "tool"},
		{Name: "tmp", Mode: os.ModeDir | 0o777},
	}
	var a, b bytes.Buffer
	if err := WriteDockerArchive(&a, "skiff.local/x:1", files, ImageConfig{Cmd: []string{"sh"}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteDockerArchive(&b, "skiff.local/x:1", files, ImageConfig{Cmd: []string{"sh"}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("archive is not deterministic")
	}
	entries := readTar(t, a.Bytes())
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || manifest[0].RepoTags[0] != "skiff.local/x:1" || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest = %+v", manifest)
	}
	var cfg struct {
		Architecture string
		OS           string
		Config       struct{ Cmd []string }
		RootFS       struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(entries[manifest[0].Config], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != goruntime.GOARCH || cfg.OS != "linux" || cfg.Config.Cmd[0] != "sh" {
		t.Errorf("config = %+v", cfg)
	}
	layerName := manifest[0].Layers[0]
	if want := "sha256:" + strings.TrimSuffix(layerName, "/layer.tar"); cfg.RootFS.DiffIDs[0] != want {
		t.Errorf("diff_id = %s; want %s", cfg.RootFS.DiffIDs[0], want)
	}
	layer := readTar(t, entries[layerName])
	for name, want := range map[string]string{"bin/": "", "bin/tool": "#!", "bin/sh": "-> tool", "tmp/": ""} {
		got, ok := layer[name]
		if !ok || string(got) != want {
			t.Errorf("layer %s = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestPauseBinaryIsValidELF(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		bin, err := PauseBinary(arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if f.Type != elf.ET_EXEC || len(f.Progs) != 1 || f.Progs[0].Filesz != uint64(len(bin)) {
			t.Errorf("%s: type %v, %d segments", arch, f.Type, len(f.Progs))
		}
	}
	if _, err := PauseBinary("mips"); err == nil {
		t.Error("mips: no error")
	}
}

// The pause binary for this machine really blocks until killed.
func TestPauseBinaryBlocks(t *testing.T) {
	bin, err := PauseBinary(goruntime.GOARCH)
	if err != nil {
		t.Skipf("no pause binary for %s", goruntime.GOARCH)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Still alive after start: signal 0 succeeds until it is killed.
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("pause exited at once: %v", err)
	}
	_ = cmd.Process.Kill()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("pause ended with %v; want killed by SIGKILL", err)
	}
}

func TestContainerdConfig(t *testing.T) {
	c := NewContainerd(ContainerdConfig{Dir: "/d/containerd", CNIConfDir: "/d/cni"})
	cfg := c.Config()
	for _, want := range []string{
		`root = "/d/containerd/root"`,
		`address = "/d/containerd/containerd.sock"`,
		`sandbox_image = "` + PauseImage + `"`,
		`restrict_oom_score_adj = true`,
		`disable_hugetlb_controller = true`,
		`tolerate_missing_hugetlb_controller = true`,
		`disable_apparmor = true`,
		`netns_mounts_under_state_dir = true`,
		`SystemdCgroup = false`,
		`Root = "/d/containerd/runc"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/d/cni"`,
		`snapshotter = "overlayfs"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s", want)
		}
	}
	if c.Endpoint() != "unix:///d/containerd/containerd.sock" {
		t.Errorf("endpoint = %s", c.Endpoint())
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/a\040b`); got != "/a b" {
		t.Errorf("got %q; want %q", got, "/a b")
	}
}
