package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// buildSkiff builds the skiff binary into a temporary directory.
func buildSkiff(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skiff")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/skiff")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/skiff: %v\n%s", err, out)
	}
	return bin
}

// skiffProcess is `skiff server` running as a child process.
type skiffProcess struct {
	cmd    *exec.Cmd
	log    *syncWriter
	exited chan struct{}
}

// startSkiff runs `skiff server` on dir and port and waits until the admin
// kubeconfig it writes works; it returns a client.
func startSkiff(t *testing.T, bin, dir string, port int) (*skiffProcess, kubernetes.Interface) {
	t.Helper()
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	_ = os.Remove(kubeconfig) // a previous run's; wait for this run's
	p := &skiffProcess{log: &syncWriter{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "server", "--data-dir", dir, "--https-listen-port", strconv.Itoa(port), "--bind-address", "127.0.0.1", "--disable-agent")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start skiff: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill() })

	var client kubernetes.Interface
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("skiff server exited before ready:\n%s", p.output())
		default:
		}
		if cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig); err == nil {
			cfg.QPS, cfg.Burst = 1000, 2000
			client = kubernetes.NewForConfigOrDie(cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			cancel()
			if err == nil {
				return p, client
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("skiff server not ready after 60s:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *skiffProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *skiffProcess) output() string {
	return p.log.String()
}

// syncWriter is the process's output, read while the process writes it.
type syncWriter struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestDurabilityAfterKill9(t *testing.T) {
	t.Parallel()
	bin := buildSkiff(t)
	dir := t.TempDir()
	port := freePort(t)
	p, c := startSkiff(t, bin, dir, port)
	createNamespace(t, c, "durable")

	const n = 1000
	want := map[string]string{}
	for i := range n {
		want[fmt.Sprintf("obj-%04d", i)] = fmt.Sprintf("value-%d-%x", i, i*7919)
	}
	names := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards acked
	acked := 0
	for range 16 {
		wg.Go(func() {
			for name := range names {
				_, err := c.CoreV1().ConfigMaps("durable").Create(context.Background(), configMap(name, map[string]string{"set": "durable"}, map[string]string{"v": want[name]}), metav1.CreateOptions{})
				if err != nil {
					t.Errorf("create %s: %v", name, err)
					continue
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		})
	}
	for name := range want {
		names <- name
	}
	close(names)
	wg.Wait()
	if acked != n {
		t.Fatalf("%d of %d creates acknowledged", acked, n)
	}

	// No graceful shutdown: every acknowledged write must be on disk.
	p.kill()
	_, c = startSkiff(t, bin, dir, port)
	list, err := c.CoreV1().ConfigMaps("durable").List(context.Background(), metav1.ListOptions{LabelSelector: "set=durable"})
	if err != nil {
		t.Fatalf("list after kill -9 and restart: %v", err)
	}
	got := map[string]string{}
	for _, cm := range list.Items {
		got[cm.Name] = cm.Data["v"]
	}
	if len(got) != n {
		t.Errorf("after kill -9: %d objects; want %d", len(got), n)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("after kill -9: %s = %q; want %q", name, got[name], v)
		}
	}
}
