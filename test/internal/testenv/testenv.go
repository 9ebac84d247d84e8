// Package testenv holds what the suites that run the built binary share:
// processes with their logs, waiting, and the busybox test image made from
// Debian's busybox-static.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/runtime"
)

// Proc is a started process whose output goes to a log file.
type Proc struct {
	Cmd *exec.Cmd
	Log string
	// Done is closed when the process has exited; Err is then set.
	Done chan struct{}
	Err  error
}

// Start runs name with args, appending its output to logPath.
func Start(logPath, name string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, Log: logPath, Done: make(chan struct{})}
	go func() { p.Err = cmd.Wait(); f.Close(); close(p.Done) }()
	return p, nil
}

// Stop sends SIGTERM and waits (SIGKILL after 30 s); safe to call twice.
func (p *Proc) Stop() error {
	select {
	case <-p.Done:
		return p.Err
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
		return p.Err
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.Done
		return errors.New("did not exit within 30s of SIGTERM")
	}
}

// Dump prints the end of the log to stderr.
func (p *Proc) Dump() {
	data, _ := os.ReadFile(p.Log)
	if len(data) > 20000 {
		data = data[len(data)-20000:]
	}
	fmt.Fprintf(os.Stderr, "---- %s ----\n%s\n", p.Log, data)
}

// WaitFor polls check until it succeeds, p (if not nil) exits, or timeout
// passes.
func WaitFor(timeout time.Duration, p *Proc, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		var done <-chan struct{}
		if p != nil {
			done = p.Done
		}
		select {
		case <-done:
			return fmt.Errorf("process exited: %v (last: %v)", p.Err, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WriteBusyboxImage writes an image archive named ref to path: Debian's
// static /bin/busybox with a link per applet in /bin, so `sh`, `httpd`,
// `nslookup` ... resolve on PATH, plus extra files (which win over an
// applet of the same name).
func WriteBusyboxImage(path, ref string, extra ...runtime.File) error {
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("%w (install Debian's busybox-static)", err)
	}
	files := []runtime.File{
		{Name: "bin/busybox", Mode: 0o755, Data: data},
		{Name: "tmp", Mode: os.ModeDir | 0o777},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")},
		{Name: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	taken := map[string]bool{}
	for _, f := range extra {
		taken[f.Name] = true
	}
	files = append(files, extra...)
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet != "busybox" && !taken["bin/"+applet] {
			files = append(files, runtime.File{Name: "bin/" + applet, Mode: os.ModeSymlink, Link: "busybox"})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := runtime.WriteDockerArchive(f, ref, files, runtime.ImageConfig{Cmd: []string{"sh"}}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BuildStatic builds the Go command in pkg (a path go build accepts)
// without cgo, for a container image, and returns the binary.
func BuildStatic(pkg, out string) ([]byte, error) {
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building %s: %w", pkg, err)
	}
	return os.ReadFile(out)
}

// Procs lists the processes whose command line match accepts.
func Procs(match func(cmdline []byte) bool) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if match(cmdline) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillShims kills the containerd shims serving a containerd whose state
// lives under dir (and so their containers), and returns their pids.
func KillShims(dir string) []int {
	pids := Procs(func(cmdline []byte) bool {
		return bytes.Contains(cmdline, []byte("containerd-shim")) && bytes.Contains(cmdline, []byte(dir+"/"))
	})
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return pids
}

// cgroupMounts are the cgroup v1 hierarchies, and "" for v2.
var cgroupMounts = []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "hugetlb", "net_cls", "net_prio", "perf_event", "unified", ""}

// RemoveCgroups removes the cgroup root (e.g. /skiff-e2e-1234) from every
// hierarchy, bottom-up; cgroups still holding processes stay.
func RemoveCgroups(root string) {
	for _, mount := range cgroupMounts {
		removeTree(filepath.Join("/sys/fs/cgroup", mount, root))
	}
}

// removeTree removes a cgroup directory tree bottom-up (rmdir only).
func removeTree(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			removeTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir)
}

// HTTPGet fetches url within timeout; a status other than 200 is an
// error that still returns the body.
func HTTPGet(url string, timeout time.Duration) (string, error) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return b.String(), fmt.Errorf("status %s", resp.Status)
	}
	return b.String(), err
}
