package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrContainerdNotFound is returned when the containerd binary is missing.
var ErrContainerdNotFound = errors.New("runtime: containerd binary not found (install Debian's containerd package)")

// ContainerdConfig says how the agent runs containerd.
type ContainerdConfig struct {
	// Dir holds containerd's configuration, root, state, socket and log
	// (DATA-DIR/agent/containerd). Required.
	Dir string
	// Binary is the containerd executable (default: "containerd" on PATH,
	// then /usr/bin/containerd).
	Binary string
	// SandboxImage is the pause image containerd uses for pod sandboxes; it
	// must be imported before the first sandbox is created (PauseImage by
	// default).
	SandboxImage string
	// CNIConfDir and CNIBinDir are where containerd's CRI plugin reads
	// network configurations and finds CNI plugins (default bin dir
	// /usr/lib/cni, Debian's).
	CNIConfDir string
	CNIBinDir  string
	// Registries are the mirrors, credentials and TLS settings of
	// registries.yaml (nil: pull from each registry directly). Run writes
	// them as hosts.toml files under HostsDir.
	Registries *Registries
	// Logger receives supervision events; containerd's own output goes to
	// Dir/containerd.log.
	Logger *slog.Logger
}

// Containerd supervises one containerd process. Create it with
// NewContainerd and call Run once.
type Containerd struct {
	cfg ContainerdConfig
	// ready is closed the first time containerd answers on its socket.
	ready chan struct{}
}

// NewContainerd fills defaults into cfg and returns a supervisor; it
// starts nothing.
func NewContainerd(cfg ContainerdConfig) *Containerd {
	if cfg.SandboxImage == "" {
		cfg.SandboxImage = PauseImage
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = "/usr/lib/cni"
	}
	if cfg.CNIConfDir == "" {
		cfg.CNIConfDir = filepath.Join(cfg.Dir, "cni", "net.d")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Containerd{cfg: cfg, ready: make(chan struct{})}
}

// Address is containerd's gRPC socket path (what Dial and Import take).
func (c *Containerd) Address() string { return filepath.Join(c.cfg.Dir, "containerd.sock") }

// Endpoint is the CRI endpoint URL of the socket (unix://PATH).
func (c *Containerd) Endpoint() string { return "unix://" + c.Address() }

// ConfigPath is where Run writes containerd's configuration.
func (c *Containerd) ConfigPath() string { return filepath.Join(c.cfg.Dir, "config.toml") }

// HostsDir is containerd's registry hosts directory (config_path): one
// DIR/HOST/hosts.toml per registry with mirrors or TLS settings.
func (c *Containerd) HostsDir() string { return filepath.Join(c.cfg.Dir, "certs.d") }

// LogPath is the file containerd's stdout and stderr go to.
func (c *Containerd) LogPath() string { return filepath.Join(c.cfg.Dir, "containerd.log") }

// Ready is closed once containerd first answers on its socket.
func (c *Containerd) Ready() <-chan struct{} { return c.ready }

// Config renders containerd's configuration (version 2, containerd 1.6+)
// for a cgroup v1 or v2 host running runc with the cgroupfs driver. Each
// setting is one this kind of machine needs; see the comments in the
// output.
func (c *Containerd) Config() string {
	q := strconv.Quote
	d := c.cfg.Dir
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by skiff at every agent start; edits are lost.
version = 2
root = %s
state = %s
# Snapshotters this host does not use.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[plugins."io.containerd.internal.v1.opt"]
  path = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  # Port 0: a free port, so several agents can share a machine.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Without CAP_SYS_RESOURCE a negative oom_score_adj fails the sandbox.
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # A runc state directory of our own, apart from the host's.
        Root = %s

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
    max_conf_num = 1

  # Images are pulled by the CRI plugin; mirrors and TLS settings from
  # registries.yaml are hosts.toml files here, credentials below.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %s
`, q(filepath.Join(d, "root")), q(filepath.Join(d, "state")),
		q(c.Address()), q(c.Address()+".ttrpc"),
		q(filepath.Join(d, "opt")),
		q(c.cfg.SandboxImage),
		q(filepath.Join(d, "runc")),
		q(c.cfg.CNIBinDir), q(c.cfg.CNIConfDir),
		tomlString(c.HostsDir()))
	b.WriteString(c.cfg.Registries.criAuthConfig())
	return b.String()
}

// binary resolves the containerd executable.
func (c *Containerd) binary() (string, error) {
	if c.cfg.Binary != "" {
		return c.cfg.Binary, nil
	}
	if p, err := exec.LookPath("containerd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/containerd"); err == nil {
		return "/usr/bin/containerd", nil
	}
	return "", ErrContainerdNotFound
}

// Run writes the configuration, starts containerd and keeps it running
// until ctx ends, restarting it with a capped backoff when it exits. On
// return containerd has been stopped (SIGTERM, SIGKILL after 10 s). It
// returns nil when ctx ends, or the first start error.
func (c *Containerd) Run(ctx context.Context) error {
	bin, err := c.binary()
	if err != nil {
		return err
	}
	for _, dir := range []string{c.cfg.Dir, c.cfg.CNIConfDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	if err := os.WriteFile(c.ConfigPath(), []byte(c.Config()), 0o600); err != nil {
		return fmt.Errorf("runtime: writing containerd config: %w", err)
	}
	log := c.cfg.Logger.With("component", "containerd")
	warnings, err := c.cfg.Registries.WriteHostsDir(c.HostsDir())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn("registries.yaml: " + w)
	}
	backoff := time.Second
	for {
		started := time.Now()
		err := c.runOnce(ctx, bin)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		log.Error("containerd exited; restarting", "err", err, "after", backoff, "log", c.LogPath())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce runs containerd until it exits or ctx ends (then stops it).
func (c *Containerd) runOnce(ctx context.Context, bin string) error {
	// Pdeathsig is tied to the thread that started the child: hold this
	// goroutine on its thread for the life of the process, so containerd
	// dies with the agent instead of outliving a crashed test.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()

	logFile, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	defer logFile.Close()
	_ = os.Remove(c.Address()) // a stale socket from a killed process
	cmd := exec.Command(bin, "--config", c.ConfigPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// portmap and ipMasq run iptables, which Debian keeps in /usr/sbin.
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("runtime: starting containerd: %w", err)
	}
	// exited is closed when the process has been waited for.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	go c.watchReady(ctx, exited)

	select {
	case <-exited:
		return fmt.Errorf("runtime: containerd exited: %v", waitErr)
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}

// watchReady closes c.ready once containerd's CRI answers (first start only).
func (c *Containerd) watchReady(ctx context.Context, exited <-chan struct{}) {
	select {
	case <-c.ready:
		return
	default:
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-exited:
			return
		case <-tick.C:
		}
		if _, err := os.Stat(c.Address()); err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		cli, err := Dial(cctx, c.Endpoint())
		if err == nil {
			_, err = cli.RuntimeVersion(cctx)
			cli.Close()
		}
		cancel()
		if err == nil {
			close(c.ready)
			return
		}
	}
}
