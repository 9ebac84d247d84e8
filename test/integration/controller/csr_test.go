package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// newCSR makes a private key and a PEM certificate request for subject.
func newCSR(t *testing.T, subject pkix.Name) (keyPEM, csrPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func waitIssued(t *testing.T, c kubernetes.Interface, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var got *certificatesv1.CertificateSigningRequest
	eventually(t, 30*time.Second, func() (bool, string) {
		csr, err := c.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = csr
		return len(csr.Status.Certificate) > 0, "no certificate yet"
	})
	return got
}

// TestCSRUserClientCertificate gets a user a client certificate the
// upstream way: a CSR to kubernetes.io/kube-apiserver-client, approved as
// kubectl certificate approve does, signed by the controller manager, then
// used to authenticate.
func TestCSRUserClientCertificate(t *testing.T) {
	s := testserver.Start(t, testserver.Options{ControllerManager: true})
	ctx, c := context.Background(), s.Client
	csrs := c.CertificatesV1().CertificateSigningRequests()

	keyPEM, req := newCSR(t, pkix.Name{CommonName: "alice", Organization: []string{"devs"}})
	csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: req, SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			ExpirationSeconds: ptr.To[int32](3600),
			Username:          "someone-else", // replaced by the requester
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if csr.Spec.Username != "system:admin" || !slices.Contains(csr.Spec.Groups, "system:masters") {
		t.Fatalf("requester = %q %v; want system:admin in system:masters", csr.Spec.Username, csr.Spec.Groups)
	}
	// Not issued before approval.
	time.Sleep(500 * time.Millisecond)
	if cur, _ := csrs.Get(ctx, "alice", metav1.GetOptions{}); len(cur.Status.Certificate) > 0 {
		t.Fatal("certificate issued before approval")
	}

	// kubectl certificate approve.
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "KubectlApprove", Message: "This CSR was approved by kubectl certificate approve.",
	})
	if _, err := csrs.UpdateApproval(ctx, "alice", csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	issued := waitIssued(t, c, "alice")
	block, _ := pem.Decode(issued.Status.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "alice" || !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("certificate subject %v usages %v", cert.Subject, cert.ExtKeyUsage)
	}
	if d := time.Until(cert.NotAfter); d > time.Hour || d < 50*time.Minute {
		t.Errorf("certificate valid for %v more; want about the hour asked for", d)
	}

	// The certificate authenticates alice.
	cfg := rest.AnonymousClientConfig(s.Config)
	cfg.CertData, cfg.KeyData = issued.Status.Certificate, keyPEM
	alice := kubernetes.NewForConfigOrDie(cfg)
	who, err := alice.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := who.Status.UserInfo; u.Username != "alice" || !slices.Contains(u.Groups, "devs") {
		t.Errorf("authenticated as %q %v; want alice in devs", u.Username, u.Groups)
	}
}

func TestCSRDenyAndRefusals(t *testing.T) {
	s := testserver.Start(t, testserver.Options{ControllerManager: true})
	ctx, c := context.Background(), s.Client
	csrs := c.CertificatesV1().CertificateSigningRequests()
	_, req := newCSR(t, pkix.Name{CommonName: "mallory"})
	spec := certificatesv1.CertificateSigningRequestSpec{
		Request: req, SignerName: certificatesv1.KubeAPIServerClientSignerName,
		Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
	}

	// kubectl certificate deny.
	csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "denied"}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "KubectlDeny"}}
	if csr, err = csrs.UpdateApproval(ctx, "denied", csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Approving a denied request is refused.
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue})
	if _, err := csrs.UpdateApproval(ctx, "denied", csr, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("approving a denied CSR: %v; want Invalid", err)
	}
	time.Sleep(500 * time.Millisecond)
	if cur, _ := csrs.Get(ctx, "denied", metav1.GetOptions{}); len(cur.Status.Certificate) > 0 {
		t.Error("denied CSR was issued")
	}

	// The legacy signer and system:masters client certificates are refused.
	legacy := spec
	legacy.SignerName = "kubernetes.io/legacy-unknown"
	if _, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Spec: legacy}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("legacy-unknown CSR: %v; want Invalid", err)
	}
	_, masters := newCSR(t, pkix.Name{CommonName: "root", Organization: []string{"system:masters"}})
	m := spec
	m.Request = masters
	if _, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "masters"}, Spec: m}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("system:masters CSR: %v; want Forbidden", err)
	}

	// A user who may update approvals but not approve for the signer is
	// refused by the CertificateApproval check.
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-approval-writer"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "update"}, APIGroups: []string{"certificates.k8s.io"},
			Resources: []string{"certificatesigningrequests", "certificatesigningrequests/approval"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bob"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "csr-approval-writer"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "bob"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bob := kubernetes.NewForConfigOrDie(s.UserConfig("bob"))
	pending, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pending.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	_, err = bob.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "pending", pending, metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("bob approving: %v; want Forbidden", err)
	}
}

// TestCSRNodeClientAutoApproved: a node renewing its own client
// certificate is approved and issued without anyone's help.
func TestCSRNodeClientAutoApproved(t *testing.T) {
	s := testserver.Start(t, testserver.Options{ControllerManager: true})
	ctx := context.Background()
	node := kubernetes.NewForConfigOrDie(s.UserConfig("system:node:n1", "system:nodes"))
	_, req := newCSR(t, pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	_, err := node.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: req, SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %d", err, len(list.Items))
	}
	issued := waitIssued(t, s.Client, list.Items[0].Name)
	if c := issued.Status.Conditions; len(c) == 0 || c[0].Type != certificatesv1.CertificateApproved || c[0].Reason != "AutoApproved" {
		t.Errorf("conditions = %+v; want AutoApproved", c)
	}
}
