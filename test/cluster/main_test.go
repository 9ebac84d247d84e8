// Package cluster is the multi-node suite: a `skiff server` (with its own
// agent) and two `skiff agent`s, each in a network namespace of its own
// joined by a bridge, with real containerd, runc and CNI, as a user tries
// a three-node cluster on one machine (see the README). The tests run
// kubectl and make requests from a fourth namespace, "outside" the
// cluster, and from pods.
//
// TestMain runs twice. The first run (in the host's network namespace)
// builds the binary, creates the namespaces, the bridge and the veths,
// then runs the test binary again inside the client namespace with
// nsenter and, when that returns, removes everything it made: processes
// left in the namespaces, the namespaces, the bridge, cgroups and the
// temporary directory. The second run starts the cluster (each process
// through nsenter into its node's namespace), runs the tests and stops
// the cluster. Traffic stays inside the namespaces the suite made.
//
// It must run as root; missing prerequisites fail the run.
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/runtime"
	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// BusyboxImage is the test image (see testenv.WriteBusyboxImage).
const BusyboxImage = "skiff.local/busybox:1"

// Environment the outer run passes to the inner one.
const (
	envSuffix = "SKIFF_CLUSTER_SUFFIX"
	envTmp    = "SKIFF_CLUSTER_TMP"
	envLAN    = "SKIFF_CLUSTER_LAN" // the third octet of 172.30.X.0/24
)

const (
	commandTimeout = 60 * time.Second
	waitTimeout    = 90 * time.Second
)

// node is one machine of the test cluster.
type node struct {
	name  string // Node name
	netns string // network namespace
	ip    string // address on the bridge
	data  string // data directory
	cgrp  string // agent cgroup root ("" for the server's agent)
	proc  *testenv.Proc
}

// Package state, set by the inner TestMain.
var (
	bin        string
	tmp        string
	suffix     string
	clientIP   string
	server     *node
	agents     []*node
	kubeconfig string
	kubeHome   string
	client     kubernetes.Interface
	token      string
	backend    = "vxlan"
)

// nodes is the server's node and the agents.
func nodes() []*node { return append([]*node{server}, agents...) }

func TestMain(m *testing.M) {
	if os.Getenv(envSuffix) == "" {
		os.Exit(outer())
	}
	os.Exit(inner(m))
}

// layout names the namespaces and addresses for a suffix and LAN octet.
func layout(sfx, lan, dir string) {
	suffix = sfx
	tmp = dir
	ip := func(i int) string { return fmt.Sprintf("172.30.%s.%d", lan, i) }
	clientIP = ip(9)
	server = &node{name: "srv", netns: "skc" + sfx + "-srv", ip: ip(1), data: filepath.Join(dir, "srv")}
	agents = []*node{
		{name: "a1", netns: "skc" + sfx + "-a1", ip: ip(2), data: filepath.Join(dir, "a1"), cgrp: "/skiff-cluster-" + sfx + "-a1"},
		{name: "a2", netns: "skc" + sfx + "-a2", ip: ip(3), data: filepath.Join(dir, "a2"), cgrp: "/skiff-cluster-" + sfx + "-a2"},
	}
}

func clientNetns() string { return "skc" + suffix + "-cl" }
func bridgeName() string  { return "skcbr" + suffix }

// outer sets up the namespaces, runs the suite inside the client
// namespace, and removes what it made.
func outer() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "cluster: the multi-node suite makes network namespaces and must run as root")
		return 1
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	dir, err := os.MkdirTemp("", "skiff-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	lan := strconv.Itoa(1 + int(rnd[2])%250)
	layout(hex.EncodeToString(rnd[:2]), lan, dir)
	defer teardownHost()
	if err := setupHost(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster: setting up the namespaces:", err)
		return 1
	}
	if bin = os.Getenv("SKIFF_BIN"); bin == "" {
		bin = filepath.Join(tmp, "skiff")
		build := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "cluster: building skiff:", err)
			return 1
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + clientNetns(), self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envSuffix+"="+suffix, envTmp+"="+tmp, envLAN+"="+lan, "SKIFF_BIN="+bin)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	return 0
}

// setupHost makes the bridge and one namespace per node plus the client's,
// each with a veth on the bridge.
func setupHost() error {
	br := bridgeName()
	steps := [][]string{
		{"ip", "link", "add", br, "type", "bridge"},
		// Traffic between the namespaces is switched, not filtered by
		// the host's firewall.
		{"ip", "link", "set", br, "type", "bridge", "nf_call_iptables", "0"},
		{"ip", "link", "set", br, "up"},
	}
	hosts := append(nodes(), &node{netns: clientNetns(), ip: clientIP})
	for i, n := range hosts {
		veth := fmt.Sprintf("skc%sv%d", suffix, i)
		ns := n.netns
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", veth, "master", br, "up"},
			[]string{"ip", "-n", ns, "addr", "add", n.ip + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	// A node has a default route, as real machines do (the proxy rejects
	// traffic to a Service without endpoints on the forward path, which a
	// packet without a route never reaches); here it points at the
	// client's namespace, which forwards nothing.
	for _, n := range nodes() {
		steps = append(steps, []string{"ip", "-n", n.netns, "route", "add", "default", "via", clientIP})
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// teardownHost kills what is left in the namespaces and removes them, the
// bridge, the agents' cgroups and the temporary directory.
func teardownHost() {
	hosts := append(nodes(), &node{netns: clientNetns()})
	for _, n := range hosts {
		out, _ := exec.Command("ip", "netns", "pids", n.netns).Output()
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// Containers live in their own namespaces: kill those of our
	// containerds' shims too.
	testenv.KillShims(tmp)
	time.Sleep(500 * time.Millisecond)
	_ = runtime.UnmountAll(tmp)
	for _, n := range hosts {
		_ = exec.Command("ip", "netns", "delete", n.netns).Run()
	}
	_ = exec.Command("ip", "link", "delete", bridgeName()).Run()
	for _, n := range nodes() {
		cg := n.cgrp
		if cg == "" {
			cg = "/skiff"
		}
		testenv.RemoveCgroups(cg)
	}
	_ = os.RemoveAll(tmp)
}

// inner starts the cluster, runs the tests and stops it.
func inner(m *testing.M) int {
	layout(os.Getenv(envSuffix), os.Getenv(envLAN), os.Getenv(envTmp))
	bin = os.Getenv("SKIFF_BIN")
	if b := os.Getenv("SKIFF_CLUSTER_BACKEND"); b != "" {
		backend = b
	}
	kubeHome = filepath.Join(tmp, "home")
	whoami, err := testenv.BuildStatic("./testdata/whoami", filepath.Join(tmp, "whoami"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	netbench, err := testenv.BuildStatic("./testdata/netbench", filepath.Join(tmp, "netbench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	for _, n := range nodes() {
		if err := os.MkdirAll(kubelet.ImagesDir(n.data), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "cluster:", err)
			return 1
		}
		if err := testenv.WriteBusyboxImage(filepath.Join(kubelet.ImagesDir(n.data), "busybox.tar"), BusyboxImage,
			runtime.File{Name: "bin/k8s-whoami", Mode: 0o755, Data: whoami},
			runtime.File{Name: "bin/netbench", Mode: 0o755, Data: netbench}); err != nil {
			fmt.Fprintln(os.Stderr, "cluster: busybox image:", err)
			return 1
		}
	}
	if err := os.MkdirAll(kubeHome, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	kubeconfig = filepath.Join(server.data, "admin.kubeconfig")
	if err := startCluster(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		dumpAll()
		stopCluster()
		return 1
	}
	code := m.Run()
	if code != 0 {
		dumpAll()
	}
	if err := stopCluster(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster: stopping:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// startCluster starts the server, then the agents, and waits for three
// Ready nodes.
func startCluster() error {
	if err := startServer(); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(server.data, "token"))
	if err != nil {
		return err
	}
	token = strings.TrimSpace(string(data))
	for _, a := range agents {
		if err := startAgent(a); err != nil {
			return err
		}
	}
	return testenv.WaitFor(waitTimeout, nil, func() error {
		for _, n := range nodes() {
			if err := nodeReady(n.name); err != nil {
				return err
			}
		}
		return nil
	})
}

// startServer starts the server without --tls-san: agents join by its
// address, which the serving certificate must name by itself.
func startServer() error {
	var err error
	server.proc, err = testenv.Start(filepath.Join(tmp, "srv.log"), "nsenter", "--net=/run/netns/"+server.netns,
		bin, "server", "--data-dir", server.data, "--node-name", server.name,
		"--bind-address", server.ip, "--advertise-address", server.ip,
		"--flannel-backend", backend)
	if err != nil {
		return err
	}
	return testenv.WaitFor(60*time.Second, server.proc, func() error {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return err
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		if _, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background()); err != nil {
			return err
		}
		client = c
		return nil
	})
}

// startAgent starts an agent; a1 also answers NodePorts on localhost,
// which agents do only when asked (--nodeport-addresses).
func startAgent(a *node) error {
	args := []string{"--net=/run/netns/" + a.netns,
		bin, "agent", "--server", "https://" + server.ip + ":6443", "--token", token,
		"--data-dir", a.data, "--node-name", a.name, "--node-ip", a.ip, "--cgroup-root", a.cgrp}
	if a.name == "a1" {
		args = append(args, "--nodeport-addresses", "primary,127.0.0.0/8")
	}
	var err error
	a.proc, err = testenv.Start(filepath.Join(tmp, a.name+".log"), "nsenter", args...)
	return err
}

// stopCluster stops the agents, then the server (SIGTERM; each must exit
// cleanly).
func stopCluster() error {
	var errs []error
	for _, n := range append(agents, server) {
		if n.proc == nil {
			continue
		}
		if err := n.proc.Stop(); err != nil {
			n.proc.Dump()
			errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		}
	}
	return errors.Join(errs...)
}

func dumpAll() {
	for _, n := range nodes() {
		if n.proc != nil {
			n.proc.Dump()
		}
	}
}

func nodeReady(name string) error {
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("node %s not Ready", name)
}

// kubectlWith runs the given kubectl binary with the admin kubeconfig.
func kubectlWith(t testing.TB, binary, stdin string, args ...string) string {
	t.Helper()
	out, err := tryKubectlWith(binary, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func tryKubectlWith(binary, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubeHome)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	return kubectlWith(t, "kubectl", stdin, args...)
}

// inNetns runs a command in a node's network namespace.
func inNetns(n *node, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + n.netns}, args...)...).CombinedOutput()
	return string(out), err
}

// httpGet fetches url from the client namespace with a short timeout.
func httpGet(url string) (string, error) { return testenv.HTTPGet(url, 3*time.Second) }
