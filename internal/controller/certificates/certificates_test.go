package certificates

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var (
	now     = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	discard = slog.New(slog.DiscardHandler)
)

func testCA(t *testing.T, validity time.Duration) CA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return CA{Cert: cert, Key: key}
}

func request(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csrObj(name, signer string, req []byte, usages []certificatesv1.KeyUsage, conds ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: signer, Usages: usages},
	}
	for _, c := range conds {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: c, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(now)})
	}
	return csr
}

var (
	clientUsages  = []certificatesv1.KeyUsage{"digital signature", "client auth"}
	servingUsages = []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}
)

func TestSignerSync(t *testing.T) {
	ca := testCA(t, 2*yearDuration)
	nodeClient := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}})
	user := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}})
	serving := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, DNSNames: []string{"n1"}})
	approved := certificatesv1.CertificateApproved
	tests := []struct {
		name       string
		csr        *certificatesv1.CertificateSigningRequest
		wantIssued bool
		wantFailed bool
		wantLife   time.Duration
	}{
		{"user client approved", csrObj("a", certificatesv1.KubeAPIServerClientSignerName, user, []certificatesv1.KeyUsage{"client auth"}, approved), true, false, yearDuration - backdate},
		{"pending is left", csrObj("a", certificatesv1.KubeAPIServerClientSignerName, user, []certificatesv1.KeyUsage{"client auth"}), false, false, 0},
		{"denied is left", csrObj("a", certificatesv1.KubeAPIServerClientSignerName, user, []certificatesv1.KeyUsage{"client auth"}, certificatesv1.CertificateDenied), false, false, 0},
		{"client without client auth fails", csrObj("a", certificatesv1.KubeAPIServerClientSignerName, user, []certificatesv1.KeyUsage{"server auth"}, approved), false, true, 0},
		{"node client", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, nodeClient, clientUsages, approved), true, false, yearDuration - backdate},
		{"node client with a user subject fails", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, user, clientUsages, approved), false, true, 0},
		{"kubelet serving", csrObj("a", certificatesv1.KubeletServingSignerName, serving, servingUsages, approved), true, false, yearDuration - backdate},
		{"kubelet serving without names fails", csrObj("a", certificatesv1.KubeletServingSignerName, nodeClient, servingUsages, approved), false, true, 0},
		{"legacy-unknown is not signed", csrObj("a", "kubernetes.io/legacy-unknown", user, clientUsages, approved), false, false, 0},
		{"other signers are not ours", csrObj("a", "example.com/x", user, clientUsages, approved), false, false, 0},
	}
	short := csrObj("a", certificatesv1.KubeAPIServerClientSignerName, user, []certificatesv1.KeyUsage{"client auth"}, approved)
	short.Spec.ExpirationSeconds = ptr.To[int32](3600)
	tests = append(tests, struct {
		name       string
		csr        *certificatesv1.CertificateSigningRequest
		wantIssued bool
		wantFailed bool
		wantLife   time.Duration
	}{"expirationSeconds honoured", short, true, false, time.Hour})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.csr)
			f := informers.NewSharedInformerFactory(client, 0)
			inf := f.Certificates().V1().CertificateSigningRequests()
			_ = inf.Informer().GetIndexer().Add(tt.csr)
			s := NewSigner(SignerConfig{Client: client, CSRs: inf, CA: ca, Clock: testingclock.NewFakeClock(now), Logger: discard})
			if _, err := s.Sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), "a", metav1.GetOptions{})
			if issued := len(got.Status.Certificate) > 0; issued != tt.wantIssued {
				t.Fatalf("issued = %v; want %v", issued, tt.wantIssued)
			}
			if failed := hasTrue(got, certificatesv1.CertificateFailed); failed != tt.wantFailed {
				t.Errorf("failed = %v; want %v (%+v)", failed, tt.wantFailed, got.Status.Conditions)
			}
			if !tt.wantIssued {
				return
			}
			cert, err := parseCertificate(got.Status.Certificate)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
				t.Errorf("not signed by the CA: %v", err)
			}
			if life := cert.NotAfter.Sub(now); life != tt.wantLife {
				t.Errorf("valid for %v after now; want %v", life, tt.wantLife)
			}
		})
	}
}

func TestSignerCapsAtCAExpiry(t *testing.T) {
	ca := testCA(t, 30*24*time.Hour)
	s := NewSigner(SignerConfig{CSRs: informers.NewSharedInformerFactory(fake.NewClientset(), 0).Certificates().V1().CertificateSigningRequests(), CA: ca, Clock: testingclock.NewFakeClock(now), Logger: discard})
	req, _ := ParseRequest(request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}))
	b, err := s.sign(req, []certificatesv1.KeyUsage{"client auth"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := parseCertificate(b)
	if !cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("NotAfter = %v; want the CA's %v", cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestApproverSync(t *testing.T) {
	selfClient := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}})
	serving := func(dns []string, ips ...net.IP) []byte {
		return request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, DNSNames: dns, IPAddresses: ips})
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "n1.local"}}}}
	tests := []struct {
		name      string
		csr       *certificatesv1.CertificateSigningRequest
		requester string
		allowed   map[string]bool // SubjectAccessReview subresources allowed
		wantSARs  []string
		want      bool
	}{
		{"self node client", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, selfClient, clientUsages), "system:node:n1",
			map[string]bool{"selfnodeclient": true}, []string{"selfnodeclient"}, true},
		{"node client by a bootstrapper", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, selfClient, clientUsages), "system:bootstrap:abc",
			map[string]bool{"nodeclient": true}, []string{"nodeclient"}, true},
		{"review refuses", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, selfClient, clientUsages), "system:node:n1",
			map[string]bool{}, []string{"selfnodeclient", "nodeclient"}, false},
		{"user client is not for the approver", csrObj("a", certificatesv1.KubeAPIServerClientSignerName, selfClient, clientUsages), "system:node:n1",
			map[string]bool{"selfnodeclient": true, "nodeclient": true}, nil, false},
		{"already denied", csrObj("a", certificatesv1.KubeAPIServerClientKubeletSignerName, selfClient, clientUsages, certificatesv1.CertificateDenied), "system:node:n1",
			map[string]bool{"selfnodeclient": true}, nil, false},
		{"self serving with the node's names", csrObj("a", certificatesv1.KubeletServingSignerName, serving([]string{"n1", "n1.local"}, net.ParseIP("10.0.0.5")), servingUsages), "system:node:n1",
			map[string]bool{"selfnodeserving": true}, []string{"selfnodeserving"}, true},
		{"serving with a name the node lacks", csrObj("a", certificatesv1.KubeletServingSignerName, serving([]string{"evil.example.com"}), servingUsages), "system:node:n1",
			map[string]bool{"selfnodeserving": true}, nil, false},
		{"serving with an address the node lacks", csrObj("a", certificatesv1.KubeletServingSignerName, serving(nil, net.ParseIP("10.0.0.6")), servingUsages), "system:node:n1",
			map[string]bool{"selfnodeserving": true}, nil, false},
		{"serving for another node", csrObj("a", certificatesv1.KubeletServingSignerName, serving([]string{"n1"}), servingUsages), "system:node:n2",
			map[string]bool{"selfnodeserving": true}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.csr.Spec.Username = tt.requester
			client := fake.NewClientset(tt.csr)
			var sars []string
			client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
				sub := sar.Spec.ResourceAttributes.Subresource
				if sar.Spec.User != tt.requester {
					t.Errorf("review for user %q; want %q", sar.Spec.User, tt.requester)
				}
				sars = append(sars, sub)
				sar.Status.Allowed = tt.allowed[sub]
				return true, sar, nil
			})
			f := informers.NewSharedInformerFactory(client, 0)
			inf := f.Certificates().V1().CertificateSigningRequests()
			_ = inf.Informer().GetIndexer().Add(tt.csr)
			nodes := f.Core().V1().Nodes()
			_ = nodes.Informer().GetIndexer().Add(node)
			a := NewApprover(ApproverConfig{Client: client, CSRs: inf, Nodes: nodes, Clock: testingclock.NewFakeClock(now), Logger: discard})
			if _, err := a.Sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			got, _ := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), "a", metav1.GetOptions{})
			approved, _ := approval(got)
			if approved != tt.want {
				t.Errorf("approved = %v; want %v", approved, tt.want)
			}
			if len(sars) != len(tt.wantSARs) {
				t.Errorf("reviews = %v; want %v", sars, tt.wantSARs)
			}
		})
	}
}

func TestExpired(t *testing.T) {
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	cond := func(ty certificatesv1.RequestConditionType, ago time.Duration) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: ty, Status: corev1.ConditionTrue, LastUpdateTime: at(ago)}
	}
	ca := testCA(t, yearDuration)
	expiredCert := func() []byte {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Minute)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}()
	tests := []struct {
		name    string
		created time.Duration
		conds   []certificatesv1.CertificateSigningRequestCondition
		cert    []byte
		want    bool
	}{
		{"fresh pending", time.Hour, nil, nil, false},
		{"pending a day", 25 * time.Hour, nil, nil, true},
		{"approved not issued", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, 2*time.Hour)}, nil, false},
		{"issued 59m ago", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, 59*time.Minute)}, []byte("x"), false},
		{"issued 61m ago", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, 61*time.Minute)}, []byte("x"), true},
		{"denied 61m ago", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateDenied, 61*time.Minute)}, nil, true},
		{"failed 61m ago", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, time.Minute), cond(certificatesv1.CertificateFailed, 61*time.Minute)}, nil, true},
		{"certificate expired", 2 * time.Hour, []certificatesv1.CertificateSigningRequestCondition{cond(certificatesv1.CertificateApproved, time.Minute)}, expiredCert, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(tt.created)}}
			csr.Status.Conditions, csr.Status.Certificate = tt.conds, tt.cert
			if got := Expired(csr, now) != ""; got != tt.want {
				t.Errorf("expired = %v (%q); want %v", got, Expired(csr, now), tt.want)
			}
		})
	}
}
