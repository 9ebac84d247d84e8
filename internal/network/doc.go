// Package network owns pod networking on one node: it writes the CNI
// network configuration containerd's CRI plugin reads (WriteCNIConfig):
// a bridge with host-local addresses from the node's pod CIDR, and
// portmap for hostPort. containerd adds the loopback interface itself.
//
// Routes between nodes, Services and DNS are later layers; they take the
// node's pod CIDR from the Node object as this package does.
package network
