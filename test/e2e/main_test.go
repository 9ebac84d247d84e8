// Package e2e runs the built skiff binary and real kubectl binaries against
// it, doing what a user does.
//
// TestMain builds the binary once (or takes $SKIFF_BIN), starts one
// `skiff server` on a free loopback port in a temporary data directory for
// the whole package, and stops it with SIGTERM at the end, failing the run
// if it does not exit cleanly. Each test works in its own namespace
// (namespaces are never deleted: there is no namespace controller yet).
//
// kubectl is required: a missing binary fails the test, it never skips.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Package state, set once by TestMain before any test runs.
var (
	kubeconfig string // admin kubeconfig written by the server
	kubeHome   string // HOME for kubectl, so its discovery cache is private
	restConfig *rest.Config
	httpClient *http.Client // admin client cert, for raw HTTP requests
	serverURL  string
)

const (
	// commandTimeout bounds one kubectl invocation.
	commandTimeout = 60 * time.Second
	// stopTimeout is how long the server may take to exit after SIGTERM.
	stopTimeout = 10 * time.Second
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	bin := os.Getenv("SKIFF_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "skiff")
		build := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building skiff:", err)
			return 1
		}
	}

	kubeHome = filepath.Join(tmp, "home")
	if err := os.MkdirAll(kubeHome, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dataDir := filepath.Join(tmp, "data")
	logPath := filepath.Join(tmp, "server.log")
	// Token users, audit log and encryption at rest for security_test.go.
	secFlags, err := securityFlags(tmp, dataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: security configuration:", err)
		return 1
	}
	srv, err := startServer(bin, dataDir, logPath, secFlags...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting skiff server:", err)
		dumpLog(logPath)
		return 1
	}

	code := m.Run()

	if err := stopServer(srv); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping skiff server:", err)
		dumpLog(logPath)
		return 1
	}
	if code != 0 {
		dumpLog(logPath)
	}
	return code
}

type serverProc struct {
	cmd *exec.Cmd
	// done is closed when the process has exited; err is then its result.
	done chan struct{}
	err  error
	log  *os.File
}

func startServer(bin, dataDir, logPath string, extraFlags ...string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"server", "--data-dir", dataDir,
		"--https-listen-port", strconv.Itoa(port), "--bind-address", "127.0.0.1",
		// No node agent: tests drive pod status themselves.
		"--disable-agent"}, extraFlags...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{}), log: logFile}
	go func() { p.err = cmd.Wait(); close(p.done) }()

	kubeconfig = filepath.Join(dataDir, "admin.kubeconfig")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := connect(); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			_ = stopServer(p)
			return nil, fmt.Errorf("not ready after 30s: %w", err)
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("server exited early: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// connect loads the admin kubeconfig and checks /readyz answers ok.
func connect() error {
	if _, err := os.Stat(kubeconfig); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	resp, err := c.Get(cfg.Host + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	restConfig, httpClient, serverURL = cfg, c, cfg.Host
	return nil
}

func stopServer(p *serverProc) error {
	defer p.log.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("unclean exit after SIGTERM: %v", p.err)
		}
		return nil
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("still running %s after SIGTERM; killed", stopTimeout)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func dumpLog(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	const max = 20000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	fmt.Fprintf(os.Stderr, "---- skiff server log (tail) ----\n%s\n----\n", b)
}

// kubectlDirs are searched, after $PATH, for versioned kubectl binaries.
var kubectlDirs = []string{"/usr/lib/google-cloud-sdk/bin"}

// kubectlPath finds the kubectl binary for version ("" is the default
// `kubectl`, "1.27" is kubectl.1.27). A missing binary fails the test.
func kubectlPath(t testing.TB, version string) string {
	t.Helper()
	name := "kubectl"
	if version != "" {
		name += "." + version
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range kubectlDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatalf("%s not found in $PATH or %v: the e2e suite needs real kubectl binaries (install kubectl %s)",
		name, kubectlDirs, version)
	return ""
}

// result is the outcome of one command.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// cmdOpts are the less common knobs of a kubectl run.
type cmdOpts struct {
	stdin string
	env   []string
}

// kubectl runs the kubectl binary for version with args against the e2e
// server and returns what it printed and its exit code.
func kubectl(t testing.TB, version string, args ...string) result {
	t.Helper()
	return kubectlWith(t, version, cmdOpts{}, args...)
}

func kubectlWith(t testing.TB, version string, o cmdOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath(t, version), args...)
	cmd.Env = append(kubectlEnv(), o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		r.Code = exit.ExitCode()
	default:
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

func kubectlEnv() []string {
	return []string{
		"KUBECONFIG=" + kubeconfig,
		"HOME=" + kubeHome,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
	}
}

// mustKubectl runs kubectl and fails the test unless it exits 0; it
// returns stdout.
func mustKubectl(t testing.TB, version string, args ...string) string {
	t.Helper()
	r := kubectl(t, version, args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// mustApplyStdin pipes manifest into `kubectl <args> -f -` and fails the
// test on error; it returns stdout.
func mustStdin(t testing.TB, version, manifest string, args ...string) string {
	t.Helper()
	r := kubectlWith(t, version, cmdOpts{stdin: manifest}, append(args, "-f", "-")...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s -f -: %s\nmanifest:\n%s", strings.Join(args, " "), r, manifest)
	}
	return r.Stdout
}

var nsSeq atomic.Int64

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// newNamespace creates a namespace unique to this test and returns its name.
func newNamespace(t testing.TB) string {
	t.Helper()
	base := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(fmt.Sprintf("e2e-%s-%d", strings.Trim(base, "-"), nsSeq.Add(1)), "-")
	if out := mustKubectl(t, "", "create", "namespace", name); out != "namespace/"+name+" created\n" {
		t.Fatalf("create namespace: got %q", out)
	}
	return name
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
