// Package kubelet is Skiff's node agent: it registers its Node, keeps the
// node's Lease and status fresh, and runs the pods bound to the node
// through CRI.
//
// # Shape
//
// Kubelet.Run starts three loops and an informer:
//   - the lease loop renews kube-node-lease/NODE every 10 s;
//   - the status loop recomputes the Node's status every 10 s and posts it
//     when it changed or 5 min passed;
//   - the relist loop lists the runtime every second and wakes the worker
//     of each pod whose sandboxes or containers changed state (this is how
//     container exits are seen), including pods the API no longer has;
//   - a pod informer restricted to spec.nodeName=NODE (the only form the
//     Node authorizer allows) wakes the pod's worker on every change.
//
// Each pod has one worker goroutine (worker.go). A sync pass is level-based
// and reads only the informer cache and the runtime: a pod being deleted
// is stopped (preStop, SIGTERM, SIGKILL at the grace period), its final
// status posted and the pod deleted with grace 0; a gone pod's sandboxes,
// containers, volumes and cgroups are removed; otherwise the sandbox is
// created if none is ready, volumes set up, init containers run in order
// (a restartable sidecar must be running and past its startup probe before
// the next one starts; sidecars are stopped once the app containers are
// done for good) and app containers started or restarted by the restart policy with
// upstream's back-off (CrashLoopBackOff), and the status is computed
// (status.go) and posted when it differs. The runtime is the source of
// truth: sandboxes and containers carry the pod's UID and container name
// as CRI labels, so an agent restart finds and adopts what runs.
//
// Before a pod's first sandbox, admit.go refuses it under node pressure
// (reason Evicted, as upstream) and checks its requests against the node's
// allocatable minus the admitted pods' (OutOfcpu, OutOfmemory, OutOfpods
// rejections); allocatable leaves room for the hard eviction thresholds.
// ephemeral.go runs ephemeral containers (`kubectl debug`, once each, in
// the target container's process namespace); resize.go keeps each pod's
// allocated resources in a checkpoint and resizes running containers in
// place through CRI (pods/resize, PodResizePending/PodResizeInProgress).
// static.go runs static pods from StaticPodDir with
// mirror pods in the API; pvc.go resolves persistentVolumeClaim volumes to
// hostPath/local PVs; stats.go builds /stats/summary from CRI stats
// (StatsSummary, StatsHandler); eviction.go evicts pods under memory or
// disk pressure (--eviction-hard signals) or over their own local storage
// limits (eviction_local.go) and garbage-collects images. Admission rejections and
// evictions are stop orders the pod's worker carries out (phase Failed).
//
// RunAgent (agent.go) assembles a node: CNI configuration (package
// network), a supervised containerd (package runtime) configured with
// registries.yaml's mirrors and credentials, the pause image and air-gap
// image imports, then a Kubelet.
//
// # Seams for later work
//
// The agent's HTTPS server (server.go; RunAgent starts it on
// AgentConfig.KubeletPort and publishes the port in the Node's
// daemonEndpoints) serves /containerLogs (logs.go, read back from the CRI
// log files under RootDir/logs/pods/NS_NAME_UID/C/N.log) and /exec,
// /attach, /portForward (streaming.go, proxied to the runtime's streaming
// URLs), to client certificates of the cluster CA authorized by
// SubjectAccessReviews.
//
// Cluster DNS is Config.ClusterDNS. Multi-node routes take
// the pod CIDR from Config.PodCIDRChanged.
//
// # Concurrency
//
// Kubelet.mu guards the worker map only; each worker owns its own state.
// Workers publish their pods' allocated resources in Kubelet.allocations
// (its own lock, taken inside the admission lock, never the reverse).
// Probe goroutines (probes.go) write results under probeSet.mu and wake
// their worker. Run returns after every goroutine it started has stopped.
package kubelet
