// Package authn identifies the user behind an API request, as upstream's
// authenticators do: verified x509 client certificates (CN is the user, O
// the groups), bearer tokens from a static token file, bootstrap tokens
// (Secrets of type bootstrap.kubernetes.io/token in kube-system) and
// service-account JWTs signed by the server's key. Chain tries each in
// turn; a request without credentials is system:anonymous.
//
// Nothing here starts goroutines; lookups go through the small getter
// functions the caller supplies.
package authn
