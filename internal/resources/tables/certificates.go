package tables

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// CertificateSigningRequest columns and cells, as upstream prints them.

func init() {
	columnSets[gk("certificates.k8s.io", "CertificateSigningRequest")] = csrColumns
}

func csrColumns() []metav1.TableColumnDefinition {
	spec := certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		ageCol(),
		col("SignerName", "string", spec["signerName"], 0),
		col("Requestor", "string", spec["request"], 0),
		col("RequestedDuration", "string", spec["expirationSeconds"], 0),
		col("Condition", "string", certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"], 0),
	}
}

func csrCells(o *certificatesv1.CertificateSigningRequest, now time.Time) []interface{} {
	signer := "<none>"
	if o.Spec.SignerName != "" {
		signer = o.Spec.SignerName
	}
	requested := "<none>"
	if o.Spec.ExpirationSeconds != nil {
		requested = duration.HumanDuration(time.Duration(*o.Spec.ExpirationSeconds) * time.Second)
	}
	return []interface{}{o.Name, since(o.CreationTimestamp, now), signer, o.Spec.Username, requested, csrCondition(o)}
}

// csrCondition is Denied, Approved or Pending (in that precedence), then
// ",Failed" and ",Issued" when they apply.
func csrCondition(o *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range o.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	s := "Pending"
	switch {
	case denied:
		s = "Denied"
	case approved:
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(o.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}
