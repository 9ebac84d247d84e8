package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
)

// WebSocket streaming with client-go's WebSocket clients and no SPDY
// fallback: each case fails unless the API server serves the protocols
// kubectl 1.30+ speaks (v5.channel.k8s.io for exec and attach, SPDY
// tunnelled in a WebSocket for port-forward).

// lockedBuffer is a bytes.Buffer safe for a writer and a poller.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixedSize reports one terminal size, then none once ctx ends.
type fixedSize struct {
	ctx  context.Context
	once sync.Once
	size remotecommand.TerminalSize
}

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	var first bool
	f.once.Do(func() { first = true })
	if first {
		return &f.size
	}
	<-f.ctx.Done()
	return nil
}

func TestWebSocketStreams(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "ws", shellAndReader+`  - name: httpd
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello through a websocket > /www/index.html && exec httpd -f -p 8080 -h /www"]
`)
	waitPod(t, ns, "ws", "running", running)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	podURL := func(sub string, opts runtime.Object) *url.URL {
		req := client.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name("ws").SubResource(sub)
		if opts != nil {
			req = req.VersionedParams(opts, scheme.ParameterCodec)
		}
		return req.URL()
	}
	stream := func(t *testing.T, u *url.URL, opts remotecommand.StreamOptions) error {
		t.Helper()
		ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		return ex.StreamWithContext(ctx, opts)
	}

	t.Run("exec", func(t *testing.T) {
		u := podURL("exec", &corev1.PodExecOptions{Container: "c", Command: []string{"sh", "-c", "tr a-z A-Z; echo err >&2; exit 3"}, Stdin: true, Stdout: true, Stderr: true})
		var stdout, stderr bytes.Buffer
		err := stream(t, u, remotecommand.StreamOptions{Stdin: strings.NewReader("hello\nworld\n"), Stdout: &stdout, Stderr: &stderr})
		var exit exec.CodeExitError
		if !errors.As(err, &exit) || exit.Code != 3 {
			t.Errorf("exit: %v; want exit code 3", err)
		}
		if stdout.String() != "HELLO\nWORLD\n" || stderr.String() != "err\n" {
			t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), "HELLO\nWORLD\n", "err\n")
		}
		// Success is reported as such.
		u = podURL("exec", &corev1.PodExecOptions{Container: "c", Command: []string{"cat", "/etc/hostname"}, Stdout: true})
		stdout.Reset()
		if err := stream(t, u, remotecommand.StreamOptions{Stdout: &stdout}); err != nil || stdout.String() != "ws\n" {
			t.Errorf("exec cat /etc/hostname: %q, %v; want %q", stdout.String(), err, "ws\n")
		}
	})

	t.Run("tty and resize", func(t *testing.T) {
		// As kubectl exec -it: stdin and a terminal. The terminal and its
		// size may be set up just after the shell starts: wait for them.
		script := `for i in $(seq 50); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "$s"`
		u := podURL("exec", &corev1.PodExecOptions{Container: "c", Command: []string{"sh", "-c", script}, Stdin: true, Stdout: true, TTY: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stdin, stdinW := io.Pipe()
		defer stdinW.Close()
		var stdout bytes.Buffer
		sizes := &fixedSize{ctx: ctx, size: remotecommand.TerminalSize{Width: 100, Height: 30}}
		if err := stream(t, u, remotecommand.StreamOptions{Stdin: stdin, Stdout: &stdout, Tty: true, TerminalSizeQueue: sizes}); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(stdout.String()); got != "30 100" {
			t.Errorf("stty size in a 100x30 terminal: %q", got)
		}
	})

	t.Run("attach", func(t *testing.T) {
		u := podURL("attach", &corev1.PodAttachOptions{Container: "reader", Stdin: true, Stdout: true})
		ex, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		stdinR, stdinW := io.Pipe()
		var stdout lockedBuffer
		done := make(chan error, 1)
		go func() { done <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdinR, Stdout: &stdout}) }()
		// The attach may start after a line is written: repeat it.
		go func() {
			for ctx.Err() == nil && !strings.Contains(stdout.String(), "got ping") {
				_, _ = io.WriteString(stdinW, "ping\n")
				time.Sleep(200 * time.Millisecond)
			}
		}()
		poll(t, 30*time.Second, "the reader's answer", func() error {
			if !strings.Contains(stdout.String(), "got ping\n") {
				return fmt.Errorf("stdout so far %q", stdout.String())
			}
			return nil
		})
		cancel()
		<-done
	})

	t.Run("port-forward", func(t *testing.T) {
		dialer, err := portforward.NewSPDYOverWebsocketDialer(podURL("portforward", nil), cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop, ready := make(chan struct{}), make(chan struct{})
		var errb lockedBuffer
		fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, &errb)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- fw.ForwardPorts() }()
		defer func() { close(stop); <-done }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("port-forward ended: %v (%s)", err, errb.String())
		case <-time.After(30 * time.Second):
			t.Fatal("port-forward not ready")
		}
		ports, err := fw.GetPorts()
		if err != nil || len(ports) != 1 {
			t.Fatalf("ports %v, %v", ports, err)
		}
		for i := 0; i < 2; i++ { // two connections over one tunnel
			body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", ports[0].Local))
			if err != nil || body != "hello through a websocket\n" {
				t.Fatalf("GET through the tunnel: %q, %v (%s)", body, err, errb.String())
			}
		}
	})
}

// TestKubectlUsesWebSocket checks kubectl 1.33 gets its exec and
// port-forward sessions over WebSocket (a GET answered 101) rather than
// falling back to SPDY (a POST).
func TestKubectlUsesWebSocket(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "ws", `  containers:
  - name: httpd
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
`)
	waitPod(t, ns, "ws", "running", running)
	bin := kubectlBin(t, "1.33")
	upgraded := func(sub, log string) {
		t.Helper()
		re := regexp.MustCompile(`"Response" verb="GET" url="[^"]*/pods/ws/` + sub + `(\?[^"]*)?" status="101 Switching Protocols"`)
		if !re.MatchString(log) || strings.Contains(log, `verb="POST"`) {
			t.Errorf("kubectl %s did not upgrade to WebSocket; its log:\n%s", sub, log)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := kubectlCmd(ctx, bin, "-v=6", "-n", ns, "exec", "ws", "--", "echo", "hi")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || out.String() != "hi\n" {
		t.Fatalf("exec: %q, %v\n%s", out.String(), err, errb.String())
	}
	upgraded("exec", errb.String())

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	pf := kubectlCmd(ctx, bin, "-v=6", "-n", ns, "port-forward", "pod/ws", strconv.Itoa(port)+":8080", "--address", "127.0.0.1")
	var pfErr lockedBuffer
	pf.Stderr = &pfErr
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	// The session is opened with the first connection.
	poll(t, 30*time.Second, "a GET through port-forward", func() error {
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil && body != "hi\n" {
			err = fmt.Errorf("body %q", body)
		}
		return err
	})
	upgraded("portforward", pfErr.String())
}
