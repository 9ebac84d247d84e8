// Package certificates runs the certificates.k8s.io controllers of the
// controller manager, as upstream's csrsigning, csrapproving and
// csrcleaner:
//
//   - Signer issues certificates for approved CertificateSigningRequests
//     of the built-in signers kubernetes.io/kube-apiserver-client,
//     kubernetes.io/kube-apiserver-client-kubelet and
//     kubernetes.io/kubelet-serving with the cluster CA. A request whose
//     subject or usages its signer does not allow gets a Failed condition
//     (reason SignerValidationFailure). kubernetes.io/legacy-unknown and
//     other signers are left alone. spec.expirationSeconds shortens the
//     default duration (one year), never below 10 minutes; no certificate
//     outlives the CA.
//   - Approver approves node client certificate requests
//     (kube-apiserver-client-kubelet) after a SubjectAccessReview of
//     certificatesigningrequests/selfnodeclient (a node renewing its own
//     certificate) or certificatesigningrequests/nodeclient, as upstream.
//     Skiff adds one recognizer upstream does not have: a node's own
//     kubelet-serving request is approved when every name and address it
//     asks for is one of its Node's (spec name, status addresses), after a
//     SubjectAccessReview of certificatesigningrequests/selfnodeserving.
//     Upstream leaves these to an external approver; Skiff's agents ask for
//     their serving certificates this way.
//   - Cleaner deletes requests that are done with, at upstream's ages:
//     approved or denied or failed for an hour, pending for a day, or
//     whose issued certificate has expired.
//
// Each controller's New builds it and starts nothing; Run waits for the
// informer cache and works until its context ends, returning once every
// worker it started has stopped.
package certificates
