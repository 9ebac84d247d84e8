// Package datastore provides the etcd Skiff keeps its objects in.
//
// It owns two ways of getting an etcd client:
//
//   - StartEmbedded runs a single-member etcd inside the process, with its data
//     in a directory, listening only on loopback (random ports by default). It
//     starts the etcd server goroutines; Close stops them, closes the client and
//     waits for the server to exit. Close is safe to call more than once.
//   - ConnectExternal dials an existing etcd cluster (--datastore-endpoint),
//     optionally over TLS. The caller closes the returned client.
//
// Durability: the embedded server keeps fsync on, so a write that etcd has
// acknowledged survives a kill -9 of the process.
package datastore
