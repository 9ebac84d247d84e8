package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServerOptions say how to start a server child process.
type ServerOptions struct {
	// Binary is the skiff executable; Args come before the flags
	// StartServer adds (default ["server"]).
	Binary string
	Args   []string
	// ExtraArgs are appended after the flags StartServer adds.
	ExtraArgs []string
	// Env is added to this process's environment for the server (e.g.
	// GOGC=50 to measure its effect on memory).
	Env []string
}

// Process is a server child process started by StartServer.
type Process struct {
	cmd *exec.Cmd
	dir string
	// exited is closed when the process has exited; err is then valid.
	exited chan struct{}
	err    error
	// Config is the admin client config from the server's kubeconfig.
	Config *rest.Config
	// StartToReady is from process start to /readyz answering 200;
	// StartToKubeconfig to the admin kubeconfig being written (the
	// server writes it after creating its bootstrap objects).
	StartToReady      time.Duration
	StartToKubeconfig time.Duration
	// LogPath holds the server's stdout and stderr; Stop removes it.
	LogPath string
}

// StartServer starts a server in a fresh temporary data directory on a free
// loopback port and waits until /readyz answers 200 and the admin
// kubeconfig is written.
func StartServer(ctx context.Context, opts ServerOptions) (*Process, error) {
	if opts.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		opts.Binary = exe
	}
	if opts.Args == nil {
		opts.Args = []string{"server"}
	}
	dir, err := os.MkdirTemp("", "skiff-bench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	p := &Process{dir: dir, exited: make(chan struct{}), LogPath: filepath.Join(dir, "server.log")}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	args := append(append([]string(nil), opts.Args...),
		"--data-dir", filepath.Join(dir, "data"),
		"--https-listen-port", strconv.Itoa(port),
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		// The benchmark measures the control plane, without a node agent.
		"--disable-agent",
		"--write-kubeconfig", kubeconfig)
	args = append(args, opts.ExtraArgs...)
	p.cmd = exec.Command(opts.Binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), opts.Env...)
	readyURL := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/readyz"

	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()

	// Stop removes the log with the directory: keep its tail in the error.
	fail := func(err error) (*Process, error) {
		tail := p.logTail(2048)
		p.Stop()
		return nil, fmt.Errorf("%w; server log ends:\n%s", err, tail)
	}
	// The serving certificate is made at start: readiness is about the
	// server answering, not about trust, so skip verification here only.
	hc := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
	}
	deadline := time.Now().Add(60 * time.Second)
	for p.StartToReady == 0 {
		if resp, err := hc.Get(readyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.StartToReady = time.Since(start)
				break
			}
		}
		if err := p.wait(ctx, deadline, 2*time.Millisecond); err != nil {
			return fail(fmt.Errorf("bench: server not ready: %w", err))
		}
	}
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err == nil && len(cfg.KeyData)+len(cfg.CertData) > 0 {
			p.StartToKubeconfig = time.Since(start)
			p.Config = cfg
			return p, nil
		}
		if err := p.wait(ctx, deadline, 2*time.Millisecond); err != nil {
			return fail(fmt.Errorf("bench: no kubeconfig: %w", err))
		}
	}
}

// wait sleeps d, failing if the process exited, ctx ended or deadline
// passed.
func (p *Process) wait(ctx context.Context, deadline time.Time, d time.Duration) error {
	if time.Now().After(deadline) {
		return errors.New("timed out")
	}
	select {
	case <-p.exited:
		return fmt.Errorf("server exited: %v", p.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// logTail returns up to n bytes from the end of the server's log.
func (p *Process) logTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// PID is the server's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop ends the server with SIGTERM (SIGKILL after 15 s) and removes its
// data directory. It is safe to call twice.
func (p *Process) Stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	_ = os.RemoveAll(p.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Memory is a process's resident memory from /proc/PID/status, in MiB.
type Memory struct {
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// AnonMiB is the heap, stacks and other private memory; FileMiB is
	// mapped files resident in memory (etcd's bbolt database is mmapped).
	AnonMiB float64 `json:"anon_mib"`
	FileMiB float64 `json:"file_mib"`
}

// ReadMemory reads VmRSS, VmHWM, RssAnon and RssFile of pid.
func ReadMemory(pid int) (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			m.RSSMiB = kb / 1024
		case "VmHWM":
			m.PeakRSSMiB = kb / 1024
		case "RssAnon":
			m.AnonMiB = kb / 1024
		case "RssFile":
			m.FileMiB = kb / 1024
		}
	}
	if m.RSSMiB == 0 {
		return m, fmt.Errorf("bench: no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc/PID/stat.
const clockTick = 100

// ProcessCPU returns the user+system CPU time pid has used; 0 and an error
// if pid is 0 or unreadable.
func ProcessCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("bench: no pid")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing
	// parenthesis start at field 3 (state).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("bench: malformed stat")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: malformed stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: malformed stat")
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs  int    `json:"cpus"`
	Model string `json:"model"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// averages when the run started and ended: other work on the machine
	// skews every figure.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after,omitempty"`
}

// ReadMachine describes this machine.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), LoadBefore: LoadAverage()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// LoadAverage is the first three fields of /proc/loadavg.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }
