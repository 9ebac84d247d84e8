package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// TestKubeletServingCertificateFromCSR: the agent asks for its serving
// certificate with a kubelet-serving CSR, the approver and signer grant
// it, and the agent serves with it, so a client trusting only the
// cluster's CA verifies the agent by the node's name.
func TestKubeletServingCertificateFromCSR(t *testing.T) {
	caPEM, err := os.ReadFile(filepath.Join(tmp, "server", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			addr = a.Address
		}
	}
	target := net.JoinHostPort(addr, strconv.Itoa(int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)))
	if err := testenv.WaitFor(90*time.Second, nil, func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", target,
			&tls.Config{RootCAs: pool, ServerName: nodeName})
		if err != nil {
			var unknown x509.UnknownAuthorityError
			if errors.As(err, &unknown) {
				return errors.New("still the self-signed certificate")
			}
			return err
		}
		return conn.Close()
	}); err != nil {
		t.Fatalf("the agent at %s never served a CA-signed certificate for %s: %v", target, nodeName, err)
	}
}
