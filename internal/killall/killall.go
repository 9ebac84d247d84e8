package killall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/proxy"
	"github.com/skiff-sh/skiff/internal/runtime"
)

// Defaults of Config, the same as skiff server's and agent's.
const (
	DefaultDataDir     = "/var/lib/skiff"
	DefaultCgroupRoot  = "/skiff"
	DefaultBridge      = "cni0"
	DefaultClusterCIDR = "10.42.0.0/16"
)

// Errors of Run and Uninstall.
var (
	// ErrRunning: a skiff server or agent runs on this node.
	ErrRunning = errors.New("killall: a skiff server or agent is running on this node")
	// ErrStillMounted: Uninstall found mounts under the data directory
	// after unmounting, and removed nothing.
	ErrStillMounted = errors.New("killall: still mounted under the data directory")
	errBadDataDir   = errors.New("killall: refusing to act on data directory")
)

// exitTimeout bounds the wait for killed processes.
const exitTimeout = 10 * time.Second

// cgroupFS is where cgroup hierarchies are mounted.
const cgroupFS = "/sys/fs/cgroup"

// Config says which node's leftovers Run removes. Empty fields take the
// defaults above.
type Config struct {
	// DataDir is the agent's (or server's) --data-dir.
	DataDir string
	// CgroupRoot is the agent's --cgroup-root.
	CgroupRoot string
	// Bridge is the agent's --cni-bridge.
	Bridge string
	// ClusterCIDR is the cluster's --cluster-cidr: routes the router
	// tagged inside it are removed.
	ClusterCIDR string
	// Force runs even while a skiff server or agent is running.
	Force  bool
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = DefaultCgroupRoot
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = DefaultClusterCIDR
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	if dir == "/" {
		return fmt.Errorf("%w %q", errBadDataDir, c.DataDir)
	}
	c.DataDir = dir
	root := "/" + strings.Trim(c.CgroupRoot, "/")
	if root == "/" || strings.Contains(root, "..") {
		return fmt.Errorf("killall: refusing cgroup root %q", c.CgroupRoot)
	}
	c.CgroupRoot = root
	return nil
}

// Run stops the node's containers and containerd and removes their
// mounts, network and cgroups (see the package doc). It returns
// ErrRunning, having changed nothing, when a skiff server or agent runs
// with the same data directory or in this network namespace, unless
// cfg.Force.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	log := cfg.Logger
	if !cfg.Force {
		if err := checkNotRunning(cfg.DataDir); err != nil {
			return err
		}
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	n := killProcesses(cfg)
	log.Info("processes killed", "count", n)

	add(runtime.UnmountAll(cfg.DataDir))
	log.Info("unmounted", "under", cfg.DataDir)

	add(network.Cleanup(ctx, network.CleanupConfig{Bridge: cfg.Bridge, ClusterCIDR: cfg.ClusterCIDR}))
	add(proxy.Cleanup(ctx))
	add(os.RemoveAll(filepath.Join(kubelet.AgentDir(cfg.DataDir), "cni", "networks")))
	log.Info("pod network removed", "bridge", cfg.Bridge, "device", network.DefaultDevice,
		"tables", []string{"ip " + network.MasqTable, "ip skiff-proxy"})

	add(removeCgroups(cfg.CgroupRoot))
	log.Info("cgroups removed", "root", cfg.CgroupRoot)
	return errors.Join(errs...)
}

// Uninstall runs Run, then removes the data directory. It removes
// nothing when something is still mounted below it (deleting through a
// bind mount would delete the host's files).
func Uninstall(ctx context.Context, cfg Config) error {
	if err := Run(ctx, cfg); err != nil {
		return err
	}
	_ = cfg.defaults() // Run accepted it
	if left := mountsUnder(cfg.DataDir); len(left) > 0 {
		return fmt.Errorf("%w: %s", ErrStillMounted, strings.Join(left, ", "))
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		return fmt.Errorf("killall: %w", err)
	}
	cfg.Logger.Info("data directory removed", "dir", cfg.DataDir)
	return nil
}

// checkNotRunning returns ErrRunning naming the first skiff server or
// agent with dataDir or in this network namespace.
func checkNotRunning(dataDir string) error {
	own, _ := os.Readlink("/proc/self/ns/net")
	for _, d := range skiffDaemons(listProcs()) {
		switch {
		case d.dataDir == dataDir:
			return fmt.Errorf("%w: skiff %s (pid %d) uses %s; stop it first, or give --force", ErrRunning, d.command, d.pid, dataDir)
		case own != "" && d.netns == own:
			return fmt.Errorf("%w: skiff %s (pid %d, data dir %s) runs in this network namespace; stop it first, or give --force", ErrRunning, d.command, d.pid, d.dataDir)
		}
	}
	return nil
}

// killProcesses SIGKILLs the agent's containerd, its shims with their
// descendants and every process in the pods' cgroups, and waits (up to
// exitTimeout) until they are gone. It returns how many it killed.
func killProcesses(cfg Config) int {
	cd := runtime.NewContainerd(runtime.ContainerdConfig{Dir: filepath.Join(kubelet.AgentDir(cfg.DataDir), "containerd")})
	procs := listProcs()
	var roots []int
	for _, p := range procs {
		if p.zombie || len(p.args) == 0 {
			continue
		}
		if v, ok := argAfter(p.args, "--config"); ok && v == cd.ConfigPath() {
			roots = append(roots, p.pid) // containerd
		}
		if v, ok := argAfter(p.args, "-address"); ok && v == cd.Address() && strings.Contains(filepath.Base(p.args[0]), "containerd-shim") {
			roots = append(roots, p.pid)
		}
	}
	targets := descendants(procs, roots)
	for _, pid := range cgroupProcs(cfg.CgroupRoot) {
		if !slices.Contains(targets, pid) {
			targets = append(targets, pid)
		}
	}
	targets = slices.DeleteFunc(targets, func(pid int) bool { return pid <= 1 || pid == os.Getpid() })
	for _, pid := range targets {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(exitTimeout)
	for time.Now().Before(deadline) {
		if !slices.ContainsFunc(targets, alive) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return len(targets)
}

// cgroupDirs returns root's directory in every mounted hierarchy (cgroup
// v1 controllers, the v2 or hybrid unified one).
func cgroupDirs(root string) []string {
	var dirs []string
	if _, err := os.Stat(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		dirs = append(dirs, filepath.Join(cgroupFS, root)) // v2
	}
	entries, _ := os.ReadDir(cgroupFS)
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(cgroupFS, e.Name(), root))
		}
	}
	return dirs
}

// cgroupProcs lists the processes in root and below, in any hierarchy.
func cgroupProcs(root string) []int {
	var pids []int
	for _, dir := range cgroupDirs(root) {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroups removes root and every cgroup below it, deepest first,
// in every hierarchy; a cgroup whose last task is still exiting is
// retried until exitTimeout.
func removeCgroups(root string) error {
	deadline := time.Now().Add(exitTimeout)
	for {
		var left []string
		for _, dir := range cgroupDirs(root) {
			if err := removeTree(dir); err != nil {
				left = append(left, err.Error())
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("killall: cgroups not removed: %s", strings.Join(left, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeTree rmdirs a cgroup directory and its sub-cgroups (cgroupfs
// directories are removed with rmdir, their files go with them).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		errs = append(errs, fmt.Errorf("%s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// mountsUnder lists mount points at or under dir.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := f[4]; p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}
