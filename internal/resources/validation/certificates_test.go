package validation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", ResourceVersion: "1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}
}

func cond(t certificatesv1.RequestConditionType, s corev1.ConditionStatus) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: s}
}

func TestValidateCSRCreate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*certificatesv1.CertificateSigningRequest)
		want   string // field of the first error; "" for valid
	}{
		{"valid", func(*certificatesv1.CertificateSigningRequest) {}, ""},
		{"garbage request", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Request = []byte("x") }, "spec.request"},
		{"no usages", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil }, "spec.usages"},
		{"unknown usage", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = []certificatesv1.KeyUsage{"flying"} }, "spec.usages[0]"},
		{"duplicate usage", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, "client auth")
		}, "spec.usages[1]"},
		{"legacy signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "kubernetes.io/legacy-unknown" }, "spec.signerName"},
		{"signer without path", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" }, "spec.signerName"},
		{"signer without dot", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example/x" }, "spec.signerName"},
		{"too short", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.ExpirationSeconds = func() *int32 { v := int32(599); return &v }()
		}, "spec.expirationSeconds"},
		{"approved false", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, cond(certificatesv1.CertificateApproved, corev1.ConditionFalse))
		}, "status.conditions[0].status"},
		{"approved and denied", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = append(c.Status.Conditions, cond(certificatesv1.CertificateApproved, corev1.ConditionTrue), cond(certificatesv1.CertificateDenied, corev1.ConditionTrue))
		}, "status.conditions"},
		{"bad certificate", func(c *certificatesv1.CertificateSigningRequest) { c.Status.Certificate = []byte("x") }, "status.certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := testCSR(t)
			tt.modify(csr)
			errs := ValidateCreate(csr)
			got := ""
			if len(errs) > 0 {
				got = errs[0].Field
			}
			if got != tt.want {
				t.Errorf("got %v; want an error on %q", errs, tt.want)
			}
		})
	}
}

func TestValidateCSRUpdates(t *testing.T) {
	approved := func(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
		c = c.DeepCopy()
		c.Status.Conditions = append(c.Status.Conditions, cond(certificatesv1.CertificateApproved, corev1.ConditionTrue))
		return c
	}
	old := testCSR(t)
	if errs := ValidateCSRApprovalUpdate(approved(old), old); len(errs) > 0 {
		t.Errorf("approval adding Approved: %v", errs)
	}
	if errs := ValidateStatusUpdate(approved(old), old); len(errs) == 0 {
		t.Error("status adding Approved: no error")
	}
	if errs := ValidateCSRApprovalUpdate(old, approved(old)); len(errs) == 0 {
		t.Error("approval removing Approved: no error")
	}
	withCert := approved(old)
	withCert.Status.Certificate = []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
	if errs := ValidateCSRApprovalUpdate(withCert, approved(old)); len(errs) == 0 {
		t.Error("approval setting the certificate: no error")
	}
}
