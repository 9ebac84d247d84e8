package certificates

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Conditions and reasons the controllers write.
const (
	ReasonSignerValidationFailure = "SignerValidationFailure"
	ReasonAutoApproved            = "AutoApproved"
)

// ParseRequest decodes a CSR's PEM CERTIFICATE REQUEST.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// approval reports whether csr carries an Approved or a Denied condition.
func approval(csr *certificatesv1.CertificateSigningRequest) (approved, denied bool) {
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		}
	}
	return approved, denied
}

func hasTrue(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func usageSet(us []certificatesv1.KeyUsage) sets.Set[string] {
	s := sets.New[string]()
	for _, u := range us {
		s.Insert(string(u))
	}
	return s
}

// NodeUserPrefix starts the user name, and certificate common name, of a
// node.
const NodeUserPrefix = "system:node:"

var (
	kubeletClientUsages       = sets.New("digital signature", "key encipherment", "client auth")
	kubeletClientUsagesNoRSA  = sets.New("digital signature", "client auth")
	kubeletServingUsages      = sets.New("digital signature", "key encipherment", "server auth")
	kubeletServingUsagesNoRSA = sets.New("digital signature", "server auth")
)

// ValidateKubeletClient checks a node client certificate request: subject
// O=system:nodes, CN=system:node:<name>, no subject alternative names, and
// usages digital signature and client auth (key encipherment optional).
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return errors.New("subject organization is not system:nodes")
	}
	switch {
	case len(req.DNSNames) > 0:
		return errors.New("DNS subjectAltNames are not allowed")
	case len(req.EmailAddresses) > 0:
		return errors.New("Email subjectAltNames are not allowed")
	case len(req.IPAddresses) > 0:
		return errors.New("IP subjectAltNames are not allowed")
	case len(req.URIs) > 0:
		return errors.New("URI subjectAltNames are not allowed")
	}
	if !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix) {
		return errors.New("subject common name does not begin with system:node:")
	}
	if u := usageSet(usages); !u.Equal(kubeletClientUsages) && !u.Equal(kubeletClientUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sets.List(kubeletClientUsages))
	}
	return nil
}

// ValidateKubeletServing checks a node serving certificate request:
// subject O=system:nodes, CN=system:node:<name>, at least one DNS or IP
// name and no others, and usages digital signature and server auth (key
// encipherment optional).
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return errors.New("subject organization is not system:nodes")
	}
	switch {
	case len(req.DNSNames) == 0 && len(req.IPAddresses) == 0:
		return errors.New("DNS or IP subjectAltName is required")
	case len(req.EmailAddresses) > 0:
		return errors.New("Email subjectAltNames are not allowed")
	case len(req.URIs) > 0:
		return errors.New("URI subjectAltNames are not allowed")
	}
	if u := usageSet(usages); !u.Equal(kubeletServingUsages) && !u.Equal(kubeletServingUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sets.List(kubeletServingUsages))
	}
	if !strings.HasPrefix(req.Subject.CommonName, NodeUserPrefix) {
		return errors.New("subject common name does not begin with system:node:")
	}
	return nil
}

// validateAPIServerClient checks the usages of a kube-apiserver-client
// request: client auth, optionally digital signature and key encipherment.
func validateAPIServerClient(usages []certificatesv1.KeyUsage) error {
	client := false
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			client = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !client {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

// checkForSigner validates a request for one of the built-in signers;
// known is false for any other signer, which the signer leaves alone.
func checkForSigner(signer string, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) (known bool, err error) {
	switch signer {
	case certificatesv1.KubeAPIServerClientSignerName:
		return true, validateAPIServerClient(usages)
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return true, ValidateKubeletClient(req, usages)
	case certificatesv1.KubeletServingSignerName:
		return true, ValidateKubeletServing(req, usages)
	}
	return false, nil
}

// keyUsages maps spec.usages to X.509 key usages and extended key usages.
func keyUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var ku x509.KeyUsage
	var eku []x509.ExtKeyUsage
	for _, u := range usages {
		if k, ok := keyUsageMap[u]; ok {
			ku |= k
		} else if e, ok := extKeyUsageMap[u]; ok {
			if !slices.Contains(eku, e) {
				eku = append(eku, e)
			}
		} else {
			return 0, nil, fmt.Errorf("unrecognized usage %q", u)
		}
	}
	slices.Sort(eku)
	return ku, eku, nil
}

var keyUsageMap = map[certificatesv1.KeyUsage]x509.KeyUsage{
	"signing":            x509.KeyUsageDigitalSignature,
	"digital signature":  x509.KeyUsageDigitalSignature,
	"content commitment": x509.KeyUsageContentCommitment,
	"key encipherment":   x509.KeyUsageKeyEncipherment,
	"key agreement":      x509.KeyUsageKeyAgreement,
	"data encipherment":  x509.KeyUsageDataEncipherment,
	"cert sign":          x509.KeyUsageCertSign,
	"crl sign":           x509.KeyUsageCRLSign,
	"encipher only":      x509.KeyUsageEncipherOnly,
	"decipher only":      x509.KeyUsageDecipherOnly,
}

var extKeyUsageMap = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	"any":              x509.ExtKeyUsageAny,
	"server auth":      x509.ExtKeyUsageServerAuth,
	"client auth":      x509.ExtKeyUsageClientAuth,
	"code signing":     x509.ExtKeyUsageCodeSigning,
	"email protection": x509.ExtKeyUsageEmailProtection,
	"s/mime":           x509.ExtKeyUsageEmailProtection,
	"ipsec end system": x509.ExtKeyUsageIPSECEndSystem,
	"ipsec tunnel":     x509.ExtKeyUsageIPSECTunnel,
	"ipsec user":       x509.ExtKeyUsageIPSECUser,
	"timestamping":     x509.ExtKeyUsageTimeStamping,
	"ocsp signing":     x509.ExtKeyUsageOCSPSigning,
	"microsoft sgc":    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape sgc":     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// parseCertificate decodes the first certificate of a PEM bundle.
func parseCertificate(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}
