// Package killall takes a node down to nothing, as k3s-killall.sh and
// k3s-uninstall.sh do: `skiff killall` and `skiff uninstall`.
//
// An agent leaves its pods' containers running when it stops (the next
// start adopts them) and a killed agent leaves everything. Run, with no
// skiff server or agent running on the node, removes in this order:
//
//  1. processes: the agent's containerd (its --config under
//     DATA-DIR/agent/containerd), every containerd shim serving that
//     containerd's socket with all their descendants (the containers),
//     and whatever is left in the pods' cgroups; all with SIGKILL;
//  2. mounts at or under the data directory (containers' root
//     filesystems, sandboxes' /dev/shm, network namespace bind mounts:
//     the agent's containerd keeps its state, network namespaces
//     included, under DATA-DIR, so nothing of it is under /run);
//  3. the pod network (network.Cleanup): the veths on the CNI bridge, the
//     bridge, flannel.1, the router's routes inside the cluster CIDR and
//     table ip skiff-net; then the service proxy's table ip skiff-proxy
//     (proxy.Cleanup), and the pods' address reservations
//     (DATA-DIR/agent/cni/networks);
//  4. the pods' cgroups under the cgroup root, in every hierarchy.
//
// Each step is tried even when an earlier one failed; the errors are
// joined. The node's network is per network namespace, so Run acts on
// the caller's. It refuses (ErrRunning) while a skiff server or agent
// runs with the same data directory or in the same network namespace,
// unless Config.Force: a running agent would put back what Run removes.
//
// Uninstall runs Run, then deletes the data directory; it refuses to
// delete while anything is still mounted below it.
package killall
