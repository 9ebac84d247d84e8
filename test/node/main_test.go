// Package node is the node agent's end-to-end suite: the built skiff
// binary runs a server and an agent, the agent runs a real containerd
// (Debian's) with runc and the CNI plugins, and tests create pods with
// the real kubectl and check what happened in the runtime through CRI.
//
// TestMain builds the binary (or takes $SKIFF_BIN), writes a busybox image
// (from Debian's busybox-static) into the agent's images directory so the
// agent imports it at start, starts `skiff server` and `skiff agent` in a
// temporary directory, and at the end removes every pod sandbox, stops
// both, and removes what the runtime left on the host (mounts, bridge,
// cgroups). It must run as root; missing prerequisites fail the run.
package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
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
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/runtime"
	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// BusyboxImage is the test image: Debian's static busybox with its applets
// linked in /bin.
const BusyboxImage = "skiff.local/busybox:1"

// Package state, set once by TestMain.
var (
	bin         string
	tmp         string
	kubeconfig  string // admin
	kubeHome    string
	client      kubernetes.Interface
	cri         *runtime.Client
	nodeName    = "skiff-e2e-node"
	agentData   string
	agentArgs   []string
	agent       *testenv.Proc
	cgroupRoot  string
	bridgeName  string
	agentLogPth string
)

const (
	commandTimeout = 60 * time.Second
	// waitTimeout bounds waiting for a pod state; reaching it fails the test.
	waitTimeout = 90 * time.Second
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "node: the node suite runs containers and must run as root")
		return 1
	}
	var err error
	if tmp, err = os.MkdirTemp("", "skiff-node-"); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	bridgeName = "skf" + suffix
	cgroupRoot = "/skiff-e2e-" + suffix
	// A pod network of its own, so two suites can run side by side.
	clusterCIDR := fmt.Sprintf("10.%d.0.0/16", 100+int(rnd[0])%100)
	defer cleanupHost()

	bin = os.Getenv("SKIFF_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "skiff")
		build := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "node: building skiff:", err)
			return 1
		}
	}
	kubeHome = filepath.Join(tmp, "home")
	serverData := filepath.Join(tmp, "server")
	agentData = filepath.Join(tmp, "agent")
	for _, d := range []string{kubeHome, kubelet.ImagesDir(agentData)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			return 1
		}
	}
	if err := writeBusyboxImage(filepath.Join(kubelet.ImagesDir(agentData), "busybox.tar")); err != nil {
		fmt.Fprintln(os.Stderr, "node: busybox image:", err)
		return 1
	}

	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	serverURL := "https://127.0.0.1:" + strconv.Itoa(port)
	srv, err := testenv.Start(filepath.Join(tmp, "server.log"), bin, "server", "--data-dir", serverData,
		"--https-listen-port", strconv.Itoa(port), "--bind-address", "127.0.0.1", "--disable-agent",
		"--cluster-cidr", clusterCIDR)
	if err != nil {
		fmt.Fprintln(os.Stderr, "node: starting the server:", err)
		return 1
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "node: stopping the server:", err)
		}
	}()
	kubeconfig = filepath.Join(serverData, "admin.kubeconfig")
	if err := testenv.WaitFor(30*time.Second, srv, func() error {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return err
		}
		// No client-side throttling: the startup benchmark creates 100
		// pods at once and times each create.
		cfg.QPS = -1
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		if _, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background()); err != nil {
			return err
		}
		client = c
		return nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, "node: server not ready:", err)
		srv.Dump()
		return 1
	}

	nodeKubeconfig := filepath.Join(tmp, "node.kubeconfig")
	if err := writeNodeKubeconfig(nodeKubeconfig, serverURL, filepath.Join(serverData, "tls")); err != nil {
		fmt.Fprintln(os.Stderr, "node: node kubeconfig:", err)
		return 1
	}
	agentLogPth = filepath.Join(tmp, "agent.log")
	agentArgs = []string{"agent", "--kubeconfig", nodeKubeconfig, "--data-dir", agentData,
		"--node-name", nodeName, "--cni-bridge", bridgeName, "--cgroup-root", cgroupRoot,
		"--kubelet-port", "0"}
	if agent, err = testenv.Start(agentLogPth, bin, agentArgs...); err != nil {
		fmt.Fprintln(os.Stderr, "node: starting the agent:", err)
		return 1
	}
	defer func() {
		removeAllSandboxes()
		if err := agent.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "node: stopping the agent:", err)
		}
	}()
	if err := testenv.WaitFor(90*time.Second, agent, nodeReady); err != nil {
		fmt.Fprintln(os.Stderr, "node: node not ready:", err)
		agent.Dump()
		return 1
	}
	if cri, err = runtime.Dial(context.Background(), kubelet.ContainerdAddress(agentData)); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	defer cri.Close()

	code := m.Run()
	if code != 0 {
		agent.Dump()
	}
	return code
}

// nodeReady succeeds once the Node reports Ready=True.
func nodeReady() error {
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("node %s not Ready: %+v", nodeName, node.Status.Conditions)
}

// writeBusyboxImage writes BusyboxImage: busybox (testenv) and
// /bin/grpc-health (testdata/grpchealth) for gRPC probes.
func writeBusyboxImage(path string) error {
	grpcHealth, err := buildGRPCHealth()
	if err != nil {
		return err
	}
	return testenv.WriteBusyboxImage(path, BusyboxImage, runtime.File{Name: "bin/grpc-health", Mode: 0o755, Data: grpcHealth})
}

// writeNodeKubeconfig signs a client certificate for system:node:NAME with
// the server's CA, as the server will for its own local agent.
func writeNodeKubeconfig(path, serverURL, tlsDir string) error {
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	if err != nil {
		return err
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.key"))
	if err != nil {
		return err
	}
	ca, err := tls.X509KeyPair(caPEM, caKeyPEM)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return err
	}
	key, err := generateKey()
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), ca.PrivateKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		ClientKeyData:         pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	return clientcmd.WriteToFile(*cfg, path)
}

func generateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// proc is a started skiff process.

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeAllSandboxes stops and removes every sandbox (and so container)
// in the agent's containerd, so no container outlives the suite.
func removeAllSandboxes() {
	if cri == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cri.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	for _, s := range resp.Items {
		_, _ = cri.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id})
		_, _ = cri.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
	}
}

// cleanupHost removes what containerd and CNI leave on the host, then the
// temporary directory.
func cleanupHost() {
	killLeftovers()
	_ = runtime.UnmountAll(tmp)
	_ = exec.Command("ip", "link", "delete", bridgeName).Run()
	if cgroupRoot != "" {
		testenv.RemoveCgroups(cgroupRoot)
	}
	_ = os.RemoveAll(tmp)
}

// killLeftovers kills what a failed run may leave running: processes in
// the suite's pod cgroups, and containerd shims serving its containerd.
func killLeftovers() {
	var pids []int
	if cgroupRoot != "" {
		_ = filepath.Walk(filepath.Join("/sys/fs/cgroup/memory", cgroupRoot), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "cgroup.procs" {
				data, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
			}
			return nil
		})
	}
	pids = append(pids, testenv.KillShims(tmp)...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Give the kernel a moment to release their cgroups and mounts.
	for _, pid := range pids {
		for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// kubectl runs kubectl with the admin kubeconfig; stdin may be empty.
func kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubeHome)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// httpGet fetches url with a short timeout.
func httpGet(url string) (string, error) { return testenv.HTTPGet(url, 5*time.Second) }
