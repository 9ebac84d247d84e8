package kubelet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/certificates"
)

// fakeSigner plays the approver and the kubelet-serving signer: it checks
// each new CSR as the approver would and signs it for lifetime from the
// clock's now with a test CA.
func fakeSigner(t *testing.T, ctx context.Context, client *fake.Clientset, clk *clocktesting.FakeClock, lifetime time.Duration) (*x509.CertPool, *atomic.Int32) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubelet-serving-ca"},
		NotBefore: clk.Now().Add(-time.Hour), NotAfter: clk.Now().Add(100 * lifetime),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	csrs := client.CertificatesV1().CertificateSigningRequests()
	w, err := csrs.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var signed atomic.Int32
	go func() {
		defer w.Stop()
		for {
			var ev watch.Event
			select {
			case <-ctx.Done():
				return
			case ev = <-w.ResultChan():
			}
			csr, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if ev.Type != watch.Added || !ok {
				continue
			}
			req, err := certificates.ParseRequest(csr.Spec.Request)
			if err != nil {
				t.Errorf("CSR %s: %v", csr.Name, err)
				continue
			}
			node, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
			if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName {
				t.Errorf("CSR %s: signer %s", csr.Name, csr.Spec.SignerName)
			}
			if err := certificates.ValidateKubeletServing(req, csr.Spec.Usages); err != nil {
				t.Errorf("CSR %s: %v", csr.Name, err)
			}
			if req.Subject.CommonName != "system:node:n1" || !certificates.NodeOwnsNames(node, req.DNSNames, req.IPAddresses) {
				t.Errorf("CSR %s: the approver would not approve %s %v %v", csr.Name, req.Subject.CommonName, req.DNSNames, req.IPAddresses)
			}
			now := clk.Now()
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(int64(signed.Load()) + 2), Subject: req.Subject,
				NotBefore: now, NotAfter: now.Add(lifetime),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				DNSNames: req.DNSNames, IPAddresses: req.IPAddresses,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, req.PublicKey, caKey)
			if err != nil {
				t.Error(err)
				continue
			}
			csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AutoApproved",
			})
			csr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			if _, err := csrs.UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
				continue
			}
			signed.Add(1)
		}
	}()
	return pool, &signed
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServingCertificateThroughCSR(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(time.Now())
	client := fake.NewClientset(&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeHostName, Address: "host1"},
		}},
	})
	const lifetime = 10 * time.Hour
	pool, signed := fakeSigner(t, ctx, client, clk, lifetime)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clientCAs, _ := testCA(t)
	srv, err := NewServer(ServerConfig{Listener: ln, NodeName: "n1", ClientCAs: clientCAs, Authorizer: &recordingAuthorizer{}, Runtime: emptyRuntime{}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Run(ctx) }()
	selfSigned := srv.Certificate()

	dir := t.TempDir()
	m := NewServingCertManager(ServingCertConfig{Client: client, NodeName: "n1", Dir: dir, SetCertificate: srv.SetCertificate, Clock: clk})
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	waitFor(t, "the first certificate", func() bool { return srv.Certificate() != selfSigned })

	// The server presents it: it verifies against the signer's CA for the
	// node's names and addresses.
	presented := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "host1", Time: clk.Now})
		if err != nil {
			t.Fatalf("dialing the server: %v", err)
		}
		defer conn.Close()
		if err := conn.VerifyHostname("127.0.0.1"); err != nil {
			t.Error(err)
		}
		if err := conn.VerifyHostname("n1"); err != nil {
			t.Error(err)
		}
		return conn.ConnectionState().PeerCertificates[0]
	}
	first := presented()
	if first.Subject.CommonName != "system:node:n1" {
		t.Errorf("subject %q", first.Subject.CommonName)
	}

	// Renewal is due at 70–90% of the lifetime.
	at := m.RotateAt()
	if lo, hi := first.NotBefore.Add(lifetime*7/10), first.NotBefore.Add(lifetime*9/10); at.Before(lo) || at.After(hi) {
		t.Fatalf("rotation at %v, want between %v and %v", at, lo, hi)
	}
	// Nothing happens before then.
	waitFor(t, "the rotation timer", clk.HasWaiters)
	clk.SetTime(at.Add(-time.Minute))
	time.Sleep(50 * time.Millisecond)
	if n := signed.Load(); n != 1 {
		t.Fatalf("%d CSRs signed before the rotation deadline, want 1", n)
	}
	// At the deadline a new CSR is made and its certificate served.
	clk.SetTime(at.Add(time.Second))
	waitFor(t, "the renewed certificate", func() bool { return signed.Load() == 2 && m.Current().Leaf.SerialNumber.Cmp(first.SerialNumber) != 0 })
	waitFor(t, "the server to present it", func() bool { return presented().SerialNumber.Cmp(first.SerialNumber) != 0 })
	if !m.RotateAt().After(at) {
		t.Errorf("next rotation %v is not after %v", m.RotateAt(), at)
	}
	cancel()
	<-done

	// A restart serves the kept certificate without asking again.
	if _, err := os.Stat(filepath.Join(dir, servingCertFile)); err != nil {
		t.Fatal(err)
	}
	m2 := NewServingCertManager(ServingCertConfig{Client: client, NodeName: "n1", Dir: dir, Clock: clk})
	if c := m2.load(); c == nil || c.Leaf.SerialNumber.Cmp(m.Current().Leaf.SerialNumber) != 0 {
		t.Errorf("kept certificate not loaded: %v", c)
	}
}

func TestServingCertWaitsForNodeAddresses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clocktesting.NewFakeClock(time.Now())
	client := fake.NewClientset()
	_, signed := fakeSigner(t, ctx, client, clk, time.Hour)
	m := NewServingCertManager(ServingCertConfig{Client: client, NodeName: "n1", Clock: clk})
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	waitFor(t, "the manager to wait", clk.HasWaiters)
	if l, _ := client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatalf("a CSR before the Node exists: %v", l.Items)
	}
	_, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk.Step(10 * time.Second)
	waitFor(t, "the certificate", func() bool { return m.Current() != nil && signed.Load() == 1 })
	cancel()
	<-done
}
