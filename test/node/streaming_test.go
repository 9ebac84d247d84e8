package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Streaming through the API server to the node agent and the runtime:
// logs, exec, attach, port-forward and cp with real kubectl. kubectl 1.27
// speaks SPDY only; kubectl 1.33 tries WebSocket first.

// kubectlVersions are the kubectl binaries the streaming tests run with.
var kubectlVersions = []string{"1.27", "1.33"}

// kubectlBin finds kubectl.VERSION in $PATH or the Cloud SDK directory.
func kubectlBin(t *testing.T, version string) string {
	t.Helper()
	name := "kubectl." + version
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/lib/google-cloud-sdk/bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found in $PATH or /usr/lib/google-cloud-sdk/bin", name)
	}
	return p
}

// kubectlCmd is a kubectl command with the admin kubeconfig.
func kubectlCmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubeHome)
	return cmd
}

// runKubectl runs kubectl bin with stdin and returns stdout, failing the
// test on an error.
func runKubectl(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := kubectlCmd(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// readLine reads one line from r within timeout.
func readLine(t *testing.T, r *bufio.Reader, timeout time.Duration) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() { l, err := r.ReadString('\n'); ch <- result{l, err} }()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("reading a line: %v (got %q)", res.err, res.line)
		}
		return strings.TrimRight(res.line, "\n")
	case <-time.After(timeout):
		t.Fatalf("no line within %s", timeout)
		return ""
	}
}

func TestKubectlLogs(t *testing.T) {
	ns := newNamespace(t)
	// Prints three lines, then one a line whenever /tmp/more appears.
	applyPod(t, ns, "logger", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo one; echo two; echo three; while true; do if [ -e /tmp/more ]; then rm /tmp/more; echo more; fi; sleep 0.2; done"]
`)
	waitPod(t, ns, "logger", "running", running)
	for _, v := range kubectlVersions {
		bin := kubectlBin(t, v)
		t.Run(v, func(t *testing.T) {
			if got := runKubectl(t, bin, "", "-n", ns, "logs", "logger"); !strings.HasPrefix(got, "one\ntwo\nthree\n") {
				t.Errorf("logs: got %q; want one, two, three", got)
			}
			if got := runKubectl(t, bin, "", "-n", ns, "logs", "logger", "--tail=1"); got != "three\n" && got != "more\n" {
				t.Errorf("logs --tail=1: got %q; want the last line", got)
			}
			if got := runKubectl(t, bin, "", "-n", ns, "logs", "logger", "--limit-bytes=6"); got != "one\ntw" {
				t.Errorf("logs --limit-bytes=6: got %q; want %q", got, "one\ntw")
			}
			got := runKubectl(t, bin, "", "-n", ns, "logs", "logger", "--timestamps", "--tail=1")
			ts, msg, _ := strings.Cut(strings.TrimSpace(got), " ")
			if when, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(when) > time.Hour || (msg != "three" && msg != "more") {
				t.Errorf("logs --timestamps: got %q; want an RFC 3339 time and the line", got)
			}
			if got := runKubectl(t, bin, "", "-n", ns, "logs", "logger", "--since=1h", "--tail=-1"); !strings.HasPrefix(got, "one\n") {
				t.Errorf("logs --since=1h: got %q; want every line", got)
			}

			// -f: the lines so far, then new ones as they are written.
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			cmd := kubectlCmd(ctx, bin, "-n", ns, "logs", "-f", "--tail=1", "logger")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = cmd.Wait() }()
			r := bufio.NewReader(stdout)
			if first := readLine(t, r, 20*time.Second); first != "three" && first != "more" {
				t.Fatalf("logs -f: first line %q; want the last line so far (stderr %s)", first, errb.String())
			}
			runKubectl(t, bin, "", "-n", ns, "exec", "logger", "--", "touch", "/tmp/more")
			if got := readLine(t, r, 20*time.Second); got != "more" {
				t.Errorf("logs -f: got %q after the container wrote a line; want %q", got, "more")
			}
		})
	}
}

func TestKubectlLogsPrevious(t *testing.T) {
	ns := newNamespace(t)
	// Each run prints its start count then exits 1 quickly after the
	// first run.
	applyPod(t, ns, "restarts", `  restartPolicy: Always
  volumes:
  - name: state
    emptyDir: {}
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    volumeMounts:
    - name: state
      mountPath: /state
    command: ["sh", "-c", "echo x >> /state/runs; echo run $(wc -l < /state/runs); if [ $(wc -l < /state/runs) -eq 1 ]; then exit 1; fi; sleep 3600"]
`)
	waitPod(t, ns, "restarts", "restarted and running", func(p *corev1.Pod) bool {
		return running(p) && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	for _, v := range kubectlVersions {
		bin := kubectlBin(t, v)
		if got := runKubectl(t, bin, "", "-n", ns, "logs", "restarts"); got != "run 2\n" {
			t.Errorf("kubectl %s logs: got %q; want %q", v, got, "run 2\n")
		}
		if got := runKubectl(t, bin, "", "-n", ns, "logs", "restarts", "--previous"); got != "run 1\n" {
			t.Errorf("kubectl %s logs --previous: got %q; want %q", v, got, "run 1\n")
		}
	}
}

// shellAndReader are the containers exec and attach tests use: c sleeps,
// reader answers each line on its stdin with "got LINE".
const shellAndReader = `  containers:
  - name: c
    image: ` + BusyboxImage + `
    imagePullPolicy: Never
    command: ["sleep", "3600"]
  - name: reader
    image: ` + BusyboxImage + `
    imagePullPolicy: Never
    stdin: true
    command: ["sh", "-c", "while read line; do echo got $line; done"]
`

func TestKubectlExecAttachCp(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "shell", shellAndReader)
	waitPod(t, ns, "shell", "running", running)
	for _, v := range kubectlVersions {
		bin := kubectlBin(t, v)
		t.Run(v, func(t *testing.T) {
			if got := runKubectl(t, bin, "", "-n", ns, "exec", "shell", "-c", "c", "--", "cat", "/etc/hostname"); got != "shell\n" {
				t.Errorf("exec cat /etc/hostname: got %q; want %q", got, "shell\n")
			}
			if got := runKubectl(t, bin, "hello\nworld\n", "-n", ns, "exec", "-i", "shell", "-c", "c", "--", "sh", "-c", "tr a-z A-Z; echo err >&2"); got != "HELLO\nWORLD\n" {
				t.Errorf("exec -i: got %q; want the input upper-cased", got)
			}
			// A command's exit code reaches kubectl.
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			cmd := kubectlCmd(ctx, bin, "-n", ns, "exec", "shell", "-c", "c", "--", "sh", "-c", "exit 3")
			if err := cmd.Run(); err == nil {
				t.Errorf("exec exit 3: no error")
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Errorf("exec exit 3: %v; want exit status 3", err)
			}

			// cp into the pod and back out (tar through exec).
			dir := t.TempDir()
			src := filepath.Join(dir, "in.txt")
			want := "copied by kubectl " + v + "\n"
			if err := os.WriteFile(src, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			runKubectl(t, bin, "", "cp", src, ns+"/shell:/tmp/in.txt", "-c", "c")
			if got := runKubectl(t, bin, "", "-n", ns, "exec", "shell", "-c", "c", "--", "cat", "/tmp/in.txt"); got != want {
				t.Errorf("after cp in: got %q; want %q", got, want)
			}
			dst := filepath.Join(dir, "out.txt")
			runKubectl(t, bin, "", "cp", ns+"/shell:/tmp/in.txt", dst, "-c", "c")
			if data, err := os.ReadFile(dst); err != nil || string(data) != want {
				t.Errorf("cp out: got %q, %v; want %q", data, err, want)
			}

			// attach to the reader's stdin and stdout: a line in, its
			// answer out. Stdin stays open until the answer is read (the
			// runtime ends an attach whose stdin closes).
			actx, acancel := context.WithTimeout(context.Background(), commandTimeout)
			defer acancel()
			attach := kubectlCmd(actx, bin, "-n", ns, "attach", "-i", "shell", "-c", "reader")
			stdin, err := attach.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := attach.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			attach.Stderr = &errb
			if err := attach.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { acancel(); _ = attach.Wait() }()
			r := bufio.NewReader(stdout)
			// kubectl may connect after the first line is written: repeat
			// it until the answer comes.
			answered := make(chan string, 1)
			go func() {
				l, _ := r.ReadString('\n')
				answered <- l
			}()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			var got string
		wait:
			for {
				if _, err := io.WriteString(stdin, "ping-"+v+"\n"); err != nil {
					t.Fatalf("writing to attach: %v (stderr %s)", err, errb.String())
				}
				select {
				case got = <-answered:
					break wait
				case <-tick.C:
				case <-actx.Done():
					t.Fatalf("attach -i: no answer (stderr %s)", errb.String())
				}
			}
			if strings.TrimSpace(got) != "got ping-"+v {
				t.Errorf("attach -i: got %q; want %q", got, "got ping-"+v)
			}
		})
	}
}

func TestKubectlPortForward(t *testing.T) {
	ns := newNamespace(t)
	applyPod(t, ns, "web", `  containers:
  - name: httpd
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello through port-forward > /www/index.html && exec httpd -f -p 8080 -h /www"]
`)
	waitPod(t, ns, "web", "running", running)
	for _, v := range kubectlVersions {
		bin := kubectlBin(t, v)
		t.Run(v, func(t *testing.T) {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
			defer cancel()
			cmd := kubectlCmd(ctx, bin, "-n", ns, "port-forward", "pod/web", strconv.Itoa(port)+":8080", "--address", "127.0.0.1")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = cmd.Wait() }()
			// kubectl says "Forwarding from 127.0.0.1:PORT -> 8080" once it
			// listens.
			line := readLine(t, bufio.NewReader(stdout), 20*time.Second)
			if !strings.Contains(line, "Forwarding from 127.0.0.1:"+strconv.Itoa(port)) {
				t.Fatalf("port-forward said %q (stderr %s)", line, errb.String())
			}
			for i := 0; i < 2; i++ { // two connections over one forward
				body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
				if err != nil || body != "hello through port-forward\n" {
					t.Fatalf("GET through port-forward: %q, %v (stderr %s)", body, err, errb.String())
				}
			}
		})
	}
}

// TestKubeletServerRefusesUnauthenticated checks the agent's HTTPS
// server wants a client certificate, and that nodes/proxy reaches it.
func TestKubeletServerRefusesUnauthenticated(t *testing.T) {
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		t.Fatalf("node publishes kubelet port %d", port)
	}
	var addr string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			addr = a.Address
		}
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatalf("dialing the agent at %s:%d: %v", addr, port, err)
	}
	conn.Close()
	out, err := exec.Command("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", fmt.Sprintf("https://%s:%d/containerLogs/default/x/y", addr, port)).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if string(out) != "401" {
		t.Errorf("an unauthenticated request got %s; want 401", out)
	}
	if got := kubectl(t, "", "get", "--raw", "/api/v1/nodes/"+nodeName+"/proxy/healthz"); got != "ok" {
		t.Errorf("nodes/proxy/healthz: got %q; want ok", got)
	}
}
