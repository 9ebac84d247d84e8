package admission

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/auth"
)

// The certificates.k8s.io plugins, as upstream's CertificateApproval,
// CertificateSigning and CertificateSubjectRestriction.

// CertificateApproval lets a user add Approved or Denied conditions to a
// CSR (its approval subresource) only if they may "approve" the CSR's
// signer: verb approve on certificates.k8s.io signers named after the
// signer, or "<domain>/*". Without an Authorizer it allows everything.
type CertificateApproval struct{ Authorizer auth.Authorizer }

// CertificateSigning lets a user set a CSR's status.certificate only if
// they may "sign" for its signer, checked as CertificateApproval checks.
type CertificateSigning struct{ Authorizer auth.Authorizer }

// CertificateSubjectRestriction refuses CSRs for the
// kubernetes.io/kube-apiserver-client signer that ask for the
// system:masters group.
type CertificateSubjectRestriction struct{}

var (
	_ Validator = (*CertificateApproval)(nil)
	_ Validator = (*CertificateSigning)(nil)
	_ Validator = (*CertificateSubjectRestriction)(nil)
)

func (*CertificateApproval) Name() string           { return "CertificateApproval" }
func (*CertificateSigning) Name() string            { return "CertificateSigning" }
func (*CertificateSubjectRestriction) Name() string { return "CertificateSubjectRestriction" }

func (p *CertificateApproval) Validate(ctx context.Context, req *Request) error {
	if req.Operation != Update || !req.is("certificates.k8s.io", "certificatesigningrequests", "approval") {
		return nil
	}
	csr, ok := req.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return unexpectedType(req.Object)
	}
	return checkSigner(ctx, p.Authorizer, req, "approve", csr.Spec.SignerName)
}

func (p *CertificateSigning) Validate(ctx context.Context, req *Request) error {
	if req.Operation != Update || !req.is("certificates.k8s.io", "certificatesigningrequests", "status") {
		return nil
	}
	csr, ok := req.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return unexpectedType(req.Object)
	}
	old, _ := req.OldObject.(*certificatesv1.CertificateSigningRequest)
	if old != nil && string(old.Status.Certificate) == string(csr.Status.Certificate) {
		return nil
	}
	return checkSigner(ctx, p.Authorizer, req, "sign", csr.Spec.SignerName)
}

func (*CertificateSubjectRestriction) Validate(_ context.Context, req *Request) error {
	if req.Operation != Create || !req.is("certificates.k8s.io", "certificatesigningrequests", "") {
		return nil
	}
	csr, ok := req.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return unexpectedType(req.Object)
	}
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return nil // validation reports it
	}
	x, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil
	}
	for _, org := range x.Subject.Organization {
		if org == auth.SystemPrivileged {
			return forbidden(req, fmt.Errorf("use of %s signer with %s group is not allowed", csr.Spec.SignerName, auth.SystemPrivileged))
		}
	}
	return nil
}

// checkSigner asks whether the requester may verb the signer, by its own
// name or by "<domain>/*".
func checkSigner(ctx context.Context, z auth.Authorizer, req *Request, verb, signer string) error {
	if z == nil {
		return nil
	}
	names := []string{signer}
	if domain, _, ok := strings.Cut(signer, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, name := range names {
		d, _, err := z.Authorize(ctx, auth.Attributes{
			User: req.Attributes.User, Verb: verb, ResourceRequest: true,
			APIGroup: "certificates.k8s.io", APIVersion: "*", Resource: "signers", Name: name,
		})
		if err == nil && d == auth.Allow {
			return nil
		}
	}
	return apierrors.NewForbidden(req.GroupResource(), objectName(req), fmt.Errorf("user not permitted to %s requests with signerName %q", verb, signer))
}
