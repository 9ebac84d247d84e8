package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// listeningPorts returns the TCP ports this process listens on, read as
// ss does: LISTEN sockets of /proc/net/tcp{,6} whose inodes are among
// this process's file descriptors.
func listeningPorts(t *testing.T) map[int]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			_, portHex, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(portHex, 16, 16); err == nil {
				ports[int(p)] = true
			}
		}
		f.Close()
	}
	return ports
}

// demandsAuthentication reports why a request to port without
// credentials was let through, or "" if it was not: the TLS handshake
// must demand a client certificate, or a protected path must answer 401 or
// 403; plaintext HTTP must get no answer but an error.
func demandsAuthentication(port int) string {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // probing, not trusting
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + addr + "/api/v1/namespaces/kube-system/secrets")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return fmt.Sprintf("HTTPS without credentials: %s", resp.Status)
		}
	} else if !strings.Contains(err.Error(), "remote error: tls:") {
		// The server's alert: "certificate required" (TLS 1.3) or
		// "bad certificate" (TLS 1.2).
		return fmt.Sprintf("HTTPS without credentials: %v; want the server to refuse the handshake", err)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/api/v1/namespaces/kube-system/secrets", "/version", "/v3/kv/range"} {
		resp, err = plain.Get("http://" + addr + path)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		if resp.StatusCode < 400 {
			return fmt.Sprintf("plaintext HTTP %s: %s %q", path, resp.Status, body)
		}
	}
	return ""
}

// TestServerPortsDemandAuthentication finds every TCP port a server opens
// (API server, embedded etcd's client and peer ports, whatever comes
// next) and checks none serves a client without credentials.
func TestServerPortsDemandAuthentication(t *testing.T) {
	before := listeningPorts(t)
	s := testserver.Start(t, testserver.Options{ControllerManager: true, Scheduler: true})
	var opened []int
	for p := range listeningPorts(t) {
		if !before[p] {
			opened = append(opened, p)
		}
	}
	// The API server and etcd's client and peer ports at least.
	if len(opened) < 3 {
		t.Fatalf("server opened ports %v; want at least the API server's and etcd's two", opened)
	}
	t.Logf("server opened TCP ports %v", opened)
	for _, p := range opened {
		if why := demandsAuthentication(p); why != "" {
			t.Errorf("port %d: %s", p, why)
		}
	}
	// Sanity: the admin credentials do get through on the API port.
	if _, err := s.Client.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("admin list secrets: %v", err)
	}
}

// TestDataDirModes checks what a server writes under DATA-DIR: every
// directory 0700 and every file 0600 (keys, tokens, kubeconfigs, the
// database) but public certificates, 0644 — also when DATA-DIR existed
// with a looser mode.
func TestDataDirModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testserver.Start(t, testserver.Options{DataDir: dir})
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case strings.HasSuffix(path, ".crt"):
			want = 0o644
		case fi.Mode()&fs.ModeSocket != 0:
			return nil
		}
		if got := fi.Mode().Perm(); got != want {
			rel, _ := filepath.Rel(dir, path)
			t.Errorf("%s: mode %#o; want %#o", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"admin.kubeconfig", "token", "tls/ca.key", "tls/etcd/ca.key", "tls/etcd/client.key", "db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestReadyzAfterKubeconfig polls /readyz from the moment the API port
// opens: when it first answers ok, the admin kubeconfig must be there,
// whole and 0600.
func TestReadyzAfterKubeconfig(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		DataDir: dir, BindAddress: "127.0.0.1", AdvertiseAddress: "127.0.0.1", Listener: ln,
		DisableAgent: true, DisableControllerManager: true, DisableScheduler: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // anonymous probe
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	url := "https://" + ln.Addr().String() + "/readyz"
	notReady := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never answered ok")
		}
		resp, err := c.Get(url)
		if err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		notReady++
	}
	path := filepath.Join(dir, "admin.kubeconfig")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("/readyz ok but: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %#o; want 0600", fi.Mode().Perm())
	}
	if _, err := clientcmd.BuildConfigFromFlags("", path); err != nil {
		t.Errorf("kubeconfig at /readyz ok: %v", err)
	}
	t.Logf("/readyz answered not ready %d times first", notReady)
}
