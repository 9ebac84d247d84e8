// Package network owns pod networking on one node.
//
// # CNI configuration
//
// WriteCNIConfig writes the network configuration containerd's CRI plugin
// reads: a bridge with host-local addresses from the node's pod CIDR, and
// portmap for hostPort. containerd adds the loopback interface itself.
// EnsureBridge creates that bridge (cni0) with the node's gateway address
// before the first pod, so the address exists early; the bridge plugin
// then reuses it. RemoveBridge deletes it.
//
// # Routes between nodes
//
// Router does flannel's job with flannel's conventions, so the cluster
// looks the same to tools that know flannel:
//
//   - It publishes on its own Node (a merge patch, as the node's identity)
//     the annotations flannel.alpha.coreos.com/backend-type,
//     backend-data ({"VNI":1,"VtepMAC":"…"} for vxlan, null for host-gw),
//     public-ip and kube-subnet-manager "true".
//   - vxlan (default): device flannel.1 (VNI 1, UDP 8472, local = node IP,
//     learning off, MTU = underlay - 50) holding the first address of the
//     node's pod CIDR as a /32. For every other Node with a pod CIDR and
//     an address: route podCIDR via <its first address> dev flannel.1
//     onlink, a permanent ARP entry for that address → its VtepMAC, and an
//     FDB entry VtepMAC → its public IP. The VtepMAC is derived from the
//     node name, so it survives restarts.
//   - host-gw: route podCIDR via the node's IP; refused (logged) when that
//     IP is not on a directly connected network.
//   - none: Run does nothing until its context ends.
//
// Nodes come from an informer; handlers only enqueue names and one worker
// syncs each name level-based (what the cache says now → what the kernel
// must hold), so add, update, delete and resync are the same code. A Node
// without a pod CIDR or address, or with unreadable annotations, is logged
// and skipped until it changes. The kernel side sits behind the small
// kernel interface (netlink in production, a recording fake in tests).
//
// The router also owns pod masquerade: nftables table "ip skiff-net"
// masquerades (fully random) traffic from the cluster CIDR to anything
// outside it except multicast, so pod → pod across nodes keeps its source
// address, and accepts cluster traffic in its forward chain. It turns on
// net.ipv4.ip_forward.
//
// Lifecycle: NewRouter reads the underlay MTU (MTU, for the CNI config)
// and changes nothing. Run sets up, closes Ready once the node's own part
// is done, and blocks until its context ends; it then removes the routes
// (every route it tagged with its route protocol inside the cluster CIDR),
// the vxlan device with its ARP and FDB entries, and the nftables table,
// and returns. IP forwarding is left on. One Router per network namespace.
//
// Cleanup removes what an agent that was stopped or killed leaves in the
// namespace (veths on the bridge, the bridge, the vxlan device, the
// router's routes and table), for `skiff killall`.
//
// The node's client must be allowed to list and watch Nodes and patch its
// own Node.
package network
