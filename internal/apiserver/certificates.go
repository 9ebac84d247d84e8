package apiserver

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/auth"
)

// CertificateSigningRequest writes, as upstream's registry strategies.

// setRequester records who asks for a new CSR in its spec (username, UID,
// groups, extra), replacing whatever the client sent, and starts it with
// an empty status: nobody creates a pre-approved request.
func setRequester(ctx context.Context, obj runtime.Object) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	if u := auth.UserFrom(ctx); u != nil {
		csr.Spec.Username, csr.Spec.UID = u.Name, u.UID
		csr.Spec.Groups = append([]string(nil), u.Groups...)
		if len(u.Extra) > 0 {
			csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
			for k, v := range u.Extra {
				csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
			}
		}
	}
	csr.Status = certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{}}
}

// prepareCSRUpdate carries over what a CSR write may not change and
// reports whether obj was a CSR. The spec never changes; the main resource
// changes only metadata; status keeps the Approved and Denied conditions
// (validation refuses adding or dropping them there); approval changes only
// the conditions. New conditions get their timestamps.
func prepareCSRUpdate(sub string, obj, cur runtime.Object, now metav1.Time) bool {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return false
	}
	old := cur.(*certificatesv1.CertificateSigningRequest)
	csr.Spec = *old.Spec.DeepCopy()
	switch sub {
	case "":
		csr.Status = *old.Status.DeepCopy()
	case "status":
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			keepConditions(csr, old, t)
		}
		stampConditions(csr, old, now)
	case "approval":
		stampConditions(csr, old, now)
		conds := csr.Status.Conditions
		csr.Status = *old.Status.DeepCopy()
		csr.Status.Conditions = conds
	}
	return true
}

// keepConditions puts old's conditions of type t, unchanged, where csr
// has them, as long as both have as many; a different count is left for
// validation to refuse.
func keepConditions(csr, old *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) {
	var was []certificatesv1.CertificateSigningRequestCondition
	for _, c := range old.Status.Conditions {
		if c.Type == t {
			was = append(was, c)
		}
	}
	n := 0
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			n++
		}
	}
	if n != len(was) {
		return
	}
	i := 0
	for j := range csr.Status.Conditions {
		if csr.Status.Conditions[j].Type == t {
			csr.Status.Conditions[j] = was[i]
			i++
		}
	}
}

// stampConditions sets a missing lastUpdateTime to now, and a missing
// lastTransitionTime to that of the same type and status before, else now.
func stampConditions(csr, old *certificatesv1.CertificateSigningRequest, now metav1.Time) {
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
			for _, oc := range old.Status.Conditions {
				if oc.Type == c.Type && oc.Status == c.Status && !oc.LastTransitionTime.IsZero() {
					c.LastTransitionTime = oc.LastTransitionTime
					break
				}
			}
		}
	}
}
