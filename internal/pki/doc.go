// Package pki owns the cluster's certificate authority and the certificates
// signed by it: the API server's serving certificate, the admin client
// certificate, client certificates for in-process components, and the
// kubeconfig files that carry them.
//
// Ensure is called once at server start with the TLS directory (DATA/tls).
// On the first start it creates everything; on later starts it reuses the
// files it finds and only re-issues what is missing, broken, close to expiry
// or (for the serving certificate) issued for a different set of names. The
// CA is never replaced while its key is readable, so kubeconfigs written
// earlier keep working.
//
// Files in the directory:
//
//	ca.crt, ca.key                 cluster CA (ECDSA P-256, 10 years)
//	serving.crt, serving.key       API server serving certificate (1 year)
//	client-admin.crt, client-admin.key
//	                               CN=system:admin, O=system:masters (1 year)
//
// EnsureEtcd does the same for the embedded etcd in DATA/tls/etcd, with a
// CA of its own (so API clients' certificates are worthless to etcd):
//
//	ca.crt, ca.key                 etcd CA
//	server.crt, server.key         client port, loopback names
//	peer.crt, peer.key             peer port, loopback names
//	client.crt, client.key         the API server's etcd client
//
// Keys are written with mode 0600, certificates with 0644, each file
// atomically (temporary file + rename).
//
// Concurrency: a Bundle is safe for concurrent use once Ensure has returned.
// Ensure itself must not run concurrently on the same directory. The package
// starts no goroutines and holds no resources that need stopping.
package pki
