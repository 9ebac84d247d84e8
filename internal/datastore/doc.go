// Package datastore provides the etcd Skiff keeps its objects in.
//
// It owns two ways of getting an etcd client:
//
//   - StartEmbedded runs a single-member etcd inside the process, with its data
//     in a directory, listening only on loopback (random ports by default). As
//     k3s and kubeadm run it, both ports serve TLS from a CA of etcd's own
//     (pki.EnsureEtcd) and demand a client certificate it signed, so no other
//     local process can read or write the store. It starts the etcd server
//     goroutines; Close stops them, closes the client and waits for the server
//     to exit. Close is safe to call more than once. Any other client of the
//     embedded etcd dials Endpoint with ClientTLS.
//   - ConnectExternal dials an existing etcd cluster (--datastore-endpoint),
//     optionally over TLS. The caller closes the returned client.
//
// Durability: the embedded server keeps fsync on, so a write that etcd has
// acknowledged survives a kill -9 of the process.
package datastore
