package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// protobuf is the content type Kubernetes components use on the wire.
const protobuf = "application/vnd.kubernetes.protobuf"

// etcdBinary is where Debian's etcd-server package installs etcd.
const etcdBinary = "/usr/bin/etcd"

// eventually polls cond every 20ms until it returns true or the deadline
// passes; then it fails the test with the message of the last attempt.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// protoClient is a clientset speaking protobuf to cfg's server.
func protoClient(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.ContentType = protobuf
	c.AcceptContentTypes = protobuf + ",application/json"
	return kubernetes.NewForConfigOrDie(c)
}

// createNamespace makes a namespace for one test.
func createNamespace(t testing.TB, c kubernetes.Interface, name string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rvOf parses a resourceVersion; Skiff's are etcd revisions.
func rvOf(t testing.TB, rv string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not an integer: %v", rv, err)
	}
	return n
}

// startEtcd runs /usr/bin/etcd on random loopback ports with a temporary
// data directory until the test ends, and returns its client URL. A missing
// binary fails the test: CI installs it (apt-get install etcd-server).
func startEtcd(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		t.Fatalf("external etcd tests need %s (Debian package etcd-server: apt-get install -y etcd-server): %v", etcdBinary, err)
	}
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, etcdBinary,
		"--name", "test",
		"--data-dir", dir+"/data",
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer,
		"--log-level", "error",
		"--logger", "zap",
	)
	logf, err := os.Create(dir + "/etcd.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		_ = logf.Close()
	})

	c := etcdClient(t, client)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(dir + "/etcd.log")
			t.Fatalf("etcd exited early:\n%s", log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "health")
		cancel()
		if err == nil {
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd at %s not healthy after 30s: %v", client, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// etcdClient dials an etcd endpoint for the test's duration.
func etcdClient(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
