package validation

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CertificateSigningRequest rules, as upstream's certificates.k8s.io/v1:
// the request must be a PEM CSR with a valid signature; usages are
// required, known and unique; the signer name is domain/path and never
// kubernetes.io/legacy-unknown; expirationSeconds is at least 600;
// Approved, Denied and Failed conditions are True, unique, and Approved and
// Denied exclude each other; status.certificate holds only CERTIFICATE
// blocks. Updates may not remove Approved, Denied or Failed conditions;
// only the approval subresource adds or changes Approved and Denied, and
// only the status subresource sets the certificate, once.

func init() {
	register(typedRules[*certificatesv1.CertificateSigningRequest]{
		// Upstream does not care what CSRs are called beyond path safety.
		name: func(string, bool) []string { return nil },
		create: func(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
			return validateCSR(csr, csrOptionsFor(nil))
		},
		update: func(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
			return validateCSRUpdate(csr, old, csrOptionsFor(old))
		},
		status: func(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
			o := csrOptionsFor(old)
			o.setCertificate = true
			return append(validateCSR(csr, o), validateCSRUpdate(csr, old, o)...)
		},
	})
}

// ValidateCSRApprovalUpdate validates a write to a CSR's approval
// subresource, the one way to add Approved and Denied conditions.
func ValidateCSRApprovalUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	o := csrOptionsFor(old)
	o.setApproval = true
	errs := validateMetaUpdate(csr, old)
	errs = append(errs, validateCSR(csr, o)...)
	return append(errs, validateCSRUpdate(csr, old, o)...)
}

// LegacyUnknownSigner is refused by the v1 API for new requests.
const LegacyUnknownSigner = "kubernetes.io/legacy-unknown"

// csrOptions relax the rules for what an old object already holds (so an
// object valid under older rules stays updatable) and say which
// subresource is writing.
type csrOptions struct {
	legacySigner, unknownUsages, duplicateUsages, duplicateConditions bool
	bothApprovedAndDenied, emptyConditionType, arbitraryCertificate   bool
	setApproval, setCertificate                                       bool
}

func csrOptionsFor(old *certificatesv1.CertificateSigningRequest) csrOptions {
	if old == nil {
		return csrOptions{}
	}
	o := csrOptions{legacySigner: old.Spec.SignerName == LegacyUnknownSigner}
	seen := map[certificatesv1.KeyUsage]bool{}
	for _, u := range old.Spec.Usages {
		o.unknownUsages = o.unknownUsages || !validUsages.Has(string(u))
		o.duplicateUsages = o.duplicateUsages || seen[u]
		seen[u] = true
	}
	types := map[certificatesv1.RequestConditionType]bool{}
	for _, c := range old.Status.Conditions {
		o.emptyConditionType = o.emptyConditionType || c.Type == ""
		o.duplicateConditions = o.duplicateConditions || types[c.Type]
		types[c.Type] = true
	}
	o.bothApprovedAndDenied = types[certificatesv1.CertificateApproved] && types[certificatesv1.CertificateDenied]
	o.arbitraryCertificate = validateCertificatePEM(old.Status.Certificate) != nil
	return o
}

var validUsages = sets.New(
	"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
	"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
	"server auth", "client auth", "code signing", "email protection", "s/mime",
	"ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
	"microsoft sgc", "netscape sgc",
)

// trueOnlyConditions may only be present with status True.
var trueOnlyConditions = sets.New(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed)

func validateCSR(csr *certificatesv1.CertificateSigningRequest, o csrOptions) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if err := checkCSRRequest(csr.Spec.Request); err != nil {
		errs = append(errs, field.Invalid(spec.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), ""))
	}
	seen := map[certificatesv1.KeyUsage]bool{}
	for i, u := range csr.Spec.Usages {
		if !o.unknownUsages && !validUsages.Has(string(u)) {
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, sets.List(validUsages)))
		}
		if !o.duplicateUsages && seen[u] {
			errs = append(errs, field.Duplicate(spec.Child("usages").Index(i), u))
		}
		seen[u] = true
	}
	if csr.Spec.SignerName == LegacyUnknownSigner && !o.legacySigner {
		errs = append(errs, field.Invalid(spec.Child("signerName"), csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else if csr.Spec.SignerName != LegacyUnknownSigner {
		errs = append(errs, validateSignerName(spec.Child("signerName"), csr.Spec.SignerName)...)
	}
	if s := csr.Spec.ExpirationSeconds; s != nil && *s < 600 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *s, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	errs = append(errs, validateCSRConditions(field.NewPath("status", "conditions"), csr, o)...)
	if !o.arbitraryCertificate {
		if err := validateCertificatePEM(csr.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("status", "certificate"), "<certificate data>", err.Error()))
		}
	}
	return errs
}

func validateCSRConditions(p *field.Path, csr *certificatesv1.CertificateSigningRequest, o csrOptions) field.ErrorList {
	var errs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	for i, c := range csr.Status.Conditions {
		if !o.emptyConditionType && c.Type == "" {
			errs = append(errs, field.Required(p.Index(i).Child("type"), ""))
		}
		allowed := []string{string(corev1.ConditionFalse), string(corev1.ConditionTrue), string(corev1.ConditionUnknown)}
		if trueOnlyConditions.Has(c.Type) {
			allowed = []string{string(corev1.ConditionTrue)}
		}
		switch {
		case c.Status == "":
			errs = append(errs, field.Required(p.Index(i).Child("status"), ""))
		case !sets.New(allowed...).Has(string(c.Status)):
			errs = append(errs, field.NotSupported(p.Index(i).Child("status"), c.Status, allowed))
		}
		if !o.bothApprovedAndDenied {
			if c.Type == certificatesv1.CertificateApproved && seen[certificatesv1.CertificateDenied] ||
				c.Type == certificatesv1.CertificateDenied && seen[certificatesv1.CertificateApproved] {
				errs = append(errs, field.Invalid(p, c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		}
		if !o.duplicateConditions && seen[c.Type] {
			errs = append(errs, field.Duplicate(p.Index(i).Child("type"), c.Type))
		}
		seen[c.Type] = true
	}
	return errs
}

func validateCSRUpdate(csr, old *certificatesv1.CertificateSigningRequest, o csrOptions) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("status", "conditions")
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		was, is := conditionsOf(old, t), conditionsOf(csr, t)
		switch {
		case len(is) < len(was):
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		case o.setApproval || t == certificatesv1.CertificateFailed:
		case len(is) > len(was):
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not add a condition of type %q", t)))
		case !equality.Semantic.DeepEqual(was, is):
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("updates may not modify a condition of type %q", t)))
		}
	}
	if !bytes.Equal(csr.Status.Certificate, old.Status.Certificate) {
		switch {
		case !o.setCertificate:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not set certificate content"))
		case len(old.Status.Certificate) > 0:
			errs = append(errs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not modify existing certificate content"))
		}
	}
	return errs
}

func conditionsOf(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

// checkCSRRequest parses a PEM CERTIFICATE REQUEST and checks its
// signature.
func checkCSRRequest(b []byte) error {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	return csr.CheckSignature()
}

// validateCertificatePEM accepts empty data or one or more CERTIFICATE
// blocks without headers, each parsing as X.509.
func validateCertificatePEM(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	blocks := 0
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) != 0 {
			return errors.New("no PEM block headers are permitted")
		}
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return errors.New("found CERTIFICATE PEM block containing 0 certificates")
		}
		blocks++
		b = rest
	}
	if blocks == 0 {
		return errors.New("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// validateSignerName checks "<domain>/<path>": the domain made of DNS
// labels with at least one dot, the path of DNS subdomains.
func validateSignerName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	segs := strings.Split(name, "/")
	if len(segs) != 2 {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	if len(segs[0]) > utilvalidation.DNS1123SubdomainMaxLength {
		errs = append(errs, field.TooLong(p, "", utilvalidation.DNS1123SubdomainMaxLength))
	}
	labels := strings.Split(segs[0], ".")
	for _, l := range labels {
		if msgs := utilvalidation.IsDNS1123Label(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, segs[0], fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	if len(labels) < 2 {
		errs = append(errs, field.Invalid(p, segs[0], "should be a domain with at least two segments separated by dots"))
	}
	for _, l := range strings.Split(segs[1], ".") {
		if msgs := utilvalidation.IsDNS1123Subdomain(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, segs[1], fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	maxLen := 2*utilvalidation.DNS1123SubdomainMaxLength + utilvalidation.DNS1123LabelMaxLength + 2
	if len(name) > maxLen {
		errs = append(errs, field.TooLong(p, "", maxLen))
	}
	return errs
}
