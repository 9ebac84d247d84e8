package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/knftables"
)

// Defaults of RouterConfig.
const (
	DefaultVNI    = 1
	DefaultPort   = 8472
	DefaultDevice = "flannel.1"
	// VXLANOverhead is what vxlan encapsulation takes from the underlay
	// MTU (outer IPv4 20 + UDP 8 + vxlan 8 + inner Ethernet 14).
	VXLANOverhead = 50
	// resyncPeriod re-syncs every node this often, which also repairs
	// entries someone removed from the kernel.
	resyncPeriod = 5 * time.Minute
	// tearDownTimeout bounds the clean-up after Run's context ends.
	tearDownTimeout = 15 * time.Second
)

// Errors returned by NewRouter and Run.
var (
	ErrBadConfig  = errors.New("network: bad router config")
	ErrRunTwice   = errors.New("network: Router.Run called twice")
	errNoNodeName = fmt.Errorf("%w: no node name", ErrBadConfig)
)

// RouterConfig holds what a Router needs. Client, NodeName, NodeIP and
// ClusterCIDR are required unless Backend is "none".
type RouterConfig struct {
	// Client is the node's API client (user system:node:NAME). It must
	// be allowed to list and watch Nodes and to patch its own Node.
	Client kubernetes.Interface
	// NodeName is this node's Node object.
	NodeName string
	// NodeIP is the node's IPv4 address on the network between nodes;
	// some local interface must hold it. It is published as public-ip,
	// and is the vxlan source and the host-gw next hop others use.
	NodeIP net.IP
	// Backend is "vxlan" (default), "host-gw" or "none" (Run does
	// nothing; another network plugin routes between nodes).
	Backend string
	// ClusterCIDR holds every node's pod CIDR, e.g. "10.42.0.0/16".
	ClusterCIDR string
	// VNI is the vxlan network identifier (default 1).
	VNI int
	// Port is the vxlan UDP port (default 8472, flannel's on Linux).
	Port int
	// Device is the vxlan device's name (default "flannel.1").
	Device string
	// Logger defaults to slog.Default() with component=network.
	Logger *slog.Logger
}

// Router connects this node's pods to every other node's, as flannel
// does: it publishes this node's flannel annotations, then keeps one route
// (and, for vxlan, one ARP and one FDB entry) per other Node in the
// kernel, following Node add, update and delete. It also owns the pods'
// masquerade (nftables table "ip skiff-net") and IP forwarding.
//
// One Router per network namespace: at start and stop it removes every
// route it finds with its route protocol inside the cluster CIDR.
type Router struct {
	client    kubernetes.Interface
	nodeName  string
	nodeIP    netip.Addr
	backend   string
	cluster   netip.Prefix
	vni, port int
	dev       string
	log       *slog.Logger
	mtu       int
	underlay  int // ifindex of the link holding nodeIP; 0 for "none"
	mac       net.HardwareAddr
	annots    map[string]string // what this node publishes

	k      kernel
	newNFT func() (knftables.Interface, error)

	factory informers.SharedInformerFactory
	nodes   cache.SharedIndexInformer
	lister  corelisters.NodeLister

	// ready is closed by the worker once this node's own setup is done.
	ready     chan struct{}
	readyOnce sync.Once
	ran       atomic.Bool

	// recorder is set by Run (tests may set it before); nil drops events.
	recorder record.EventRecorder

	// queue is built by Run; handlers drop keys until then (tests call
	// sync directly).
	queue workqueue.TypedRateLimitingInterface[string]

	// Owned by the goroutine running sync (one worker; tests call sync
	// from one goroutine): no lock.
	programmed map[string]entries // peer node name → what is in the kernel
	refused    map[string]string  // peer node name → why it is not routed (event sent)
	ownCIDR    netip.Prefix
	self       string // this node's state as last reported
}

// NewRouter checks cfg and reads the node's underlay MTU; it starts
// nothing and changes nothing.
func NewRouter(cfg RouterConfig) (*Router, error) {
	return newRouter(cfg, &netlinkKernel{h: &netlink.Handle{}}, newNFT)
}

func newRouter(cfg RouterConfig, k kernel, nft func() (knftables.Interface, error)) (*Router, error) {
	r := &Router{
		client:     cfg.Client,
		nodeName:   cfg.NodeName,
		backend:    cfg.Backend,
		vni:        cfg.VNI,
		port:       cfg.Port,
		dev:        cfg.Device,
		log:        cfg.Logger,
		k:          k,
		newNFT:     nft,
		ready:      make(chan struct{}),
		programmed: map[string]entries{},
		refused:    map[string]string{},
	}
	if r.backend == "" {
		r.backend = BackendVXLAN
	}
	if r.vni == 0 {
		r.vni = DefaultVNI
	}
	if r.port == 0 {
		r.port = DefaultPort
	}
	if r.dev == "" {
		r.dev = DefaultDevice
	}
	if r.log == nil {
		r.log = slog.Default().With("component", "network")
	}
	r.log = r.log.With("backend", r.backend)
	if ip, ok := netip.AddrFromSlice(cfg.NodeIP); ok {
		r.nodeIP = ip.Unmap()
	}
	switch r.backend {
	case BackendNone:
		// Report the underlay MTU when it can be found; 0 lets the CNI
		// plugin choose.
		if r.nodeIP.IsValid() {
			if _, mtu, err := k.Underlay(r.nodeIP); err == nil {
				r.mtu = mtu
			}
		}
		return r, nil
	case BackendVXLAN, BackendHostGW:
	default:
		return nil, fmt.Errorf("%w: backend %q (want %s, %s or %s)", ErrBadConfig, r.backend, BackendVXLAN, BackendHostGW, BackendNone)
	}
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: no client", ErrBadConfig)
	}
	if r.nodeName == "" {
		return nil, errNoNodeName
	}
	if !r.nodeIP.Is4() || !usable(r.nodeIP) {
		return nil, fmt.Errorf("%w: node IP %v is not a usable IPv4 address", ErrBadConfig, cfg.NodeIP)
	}
	cluster, err := netip.ParsePrefix(cfg.ClusterCIDR)
	if err != nil || !cluster.Addr().Is4() {
		return nil, fmt.Errorf("%w: cluster CIDR %q is not an IPv4 prefix", ErrBadConfig, cfg.ClusterCIDR)
	}
	r.cluster = cluster.Masked()
	if r.vni < 0 || r.vni >= 1<<24 || r.port < 0 || r.port > 65535 {
		return nil, fmt.Errorf("%w: VNI %d or port %d out of range", ErrBadConfig, r.vni, r.port)
	}
	if len(r.dev) > 15 {
		return nil, fmt.Errorf("%w: device name %q longer than 15 bytes", ErrBadConfig, r.dev)
	}
	if r.underlay, r.mtu, err = k.Underlay(r.nodeIP); err != nil {
		return nil, err
	}
	if r.backend == BackendVXLAN {
		r.mtu -= VXLANOverhead
		r.mac = vtepMAC(r.nodeName)
	}
	if r.annots, err = ownAnnotations(r.backend, r.nodeIP, r.vni, r.mac); err != nil {
		return nil, err
	}
	r.factory = informers.NewSharedInformerFactory(cfg.Client, resyncPeriod)
	nodes := r.factory.Core().V1().Nodes()
	r.nodes, r.lister = nodes.Informer(), nodes.Lister()
	return r, nil
}

// MTU is the MTU pods should use: the underlay's (the link holding
// NodeIP) less VXLANOverhead for vxlan; for "none", the underlay's or 0
// when unknown.
func (r *Router) MTU() int { return r.mtu }

// Ready is closed once this node's own part is in place: forwarding and
// masquerade on, annotations published, the node's pod CIDR seen (and,
// for vxlan, the device up with its address). Routes to other nodes keep
// following their Nodes after that. For "none" it closes when Run starts.
// It never closes if Run fails first.
func (r *Router) Ready() <-chan struct{} { return r.ready }

func (r *Router) markReady() { r.readyOnce.Do(func() { close(r.ready) }) }

// Run sets the node up, then keeps routes to the other nodes until ctx
// ends. It then removes what it added: the routes, the vxlan device (with
// its ARP and FDB entries) and the nftables table, and returns. IP
// forwarding stays on: other parts of the node (Services) need it too.
// An error from set-up is returned at once, after the same clean-up.
func (r *Router) Run(ctx context.Context) error {
	if r.ran.Swap(true) {
		return ErrRunTwice
	}
	if r.backend == BackendNone {
		r.log.Info("routing between nodes disabled")
		r.markReady()
		<-ctx.Done()
		return nil
	}
	if r.recorder == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: r.client.CoreV1().Events("")})
		defer b.Shutdown()
		r.recorder = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "skiff-network", Host: r.nodeName})
	}
	nft, err := r.setUp(ctx)
	if err == nil {
		err = r.watch(ctx)
	}
	return errors.Join(err, r.tearDown(nft))
}

// setUp does what does not depend on Nodes. The returned nft is non-nil
// once the table may exist.
func (r *Router) setUp(ctx context.Context) (knftables.Interface, error) {
	if err := r.k.EnableForwarding(); err != nil {
		return nil, err
	}
	nft, err := r.newNFT()
	if err != nil {
		return nil, err
	}
	if err := ensureMasq(ctx, nft, r.cluster); err != nil {
		return nft, err
	}
	if err := r.k.DeleteOwnRoutes(r.cluster); err != nil {
		r.log.Warn("could not remove routes left by an earlier run", "err", err)
	}
	if r.backend == BackendVXLAN {
		if err := r.k.EnsureVXLAN(vxlanLink{
			Name: r.dev, VNI: r.vni, Port: r.port, Local: r.nodeIP,
			Underlay: r.underlay, MTU: r.mtu, MAC: r.mac,
		}); err != nil {
			return nft, err
		}
	}
	return nft, nil
}

// watch runs the Node informer and the worker until ctx ends.
func (r *Router) watch(ctx context.Context) error {
	r.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "network-router"})
	defer r.queue.ShutDown()
	reg, err := r.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    r.enqueue,
		UpdateFunc: func(_, cur any) { r.enqueue(cur) },
		DeleteFunc: r.enqueue,
	})
	if err != nil {
		return err
	}
	defer func() { _ = r.nodes.RemoveEventHandler(reg) }()

	ctx, cancel := context.WithCancel(ctx)
	r.factory.Start(ctx.Done())
	defer func() {
		cancel() // stops the informer, which Shutdown waits for
		r.factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), r.nodes.HasSynced) {
		return nil // ctx ended
	}
	r.log.Info("routing between nodes", "node", r.nodeName, "nodeIP", r.nodeIP, "clusterCIDR", r.cluster, "mtu", r.mtu)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r.processNext(ctx) {
		}
	}()
	<-ctx.Done()
	r.queue.ShutDown()
	wg.Wait()
	return nil
}

func (r *Router) enqueue(obj any) {
	if r.queue == nil {
		return
	}
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	r.queue.Add(key)
}

// processNext syncs one key; false once the queue shuts down.
func (r *Router) processNext(ctx context.Context) bool {
	key, quit := r.queue.Get()
	if quit {
		return false
	}
	defer r.queue.Done(key)
	err := r.safeSync(ctx, key)
	switch {
	case err == nil:
		r.queue.Forget(key)
	case ctx.Err() != nil:
		// Stopping: the error is the cancellation's.
	default:
		r.log.Warn("sync failed; retrying", "node", key, "err", err)
		r.queue.AddRateLimited(key)
	}
	return true
}

func (r *Router) safeSync(ctx context.Context, key string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("network: panic syncing node %s: %v", key, p)
		}
	}()
	return r.sync(ctx, key)
}

// sync makes the kernel match Node name as the cache has it now. An error
// means retry; nodes that cannot be routed to are logged and left alone
// until they change.
func (r *Router) sync(ctx context.Context, name string) error {
	if name == r.nodeName {
		return r.syncSelf(ctx)
	}
	n, err := r.lister.Get(name)
	if apierrors.IsNotFound(err) {
		if _, ok := r.programmed[name]; ok {
			r.log.Info("node gone; removing its routes", "node", name)
		}
		delete(r.refused, name)
		return r.program(name, entries{})
	}
	if err != nil {
		return err
	}
	p, err := parsePeer(n, r.backend, r.cluster)
	if err == nil && r.ownCIDR.IsValid() && p.podCIDR.Overlaps(r.ownCIDR) {
		err = fmt.Errorf("%w: pod CIDR %s overlaps this node's %s", ErrBadPeer, p.podCIDR, r.ownCIDR)
	}
	if err == nil && r.backend == BackendHostGW {
		ok, rerr := r.k.Reachable(p.ip)
		if rerr != nil {
			return rerr
		}
		if !ok {
			err = fmt.Errorf("%w: host-gw needs node IP %s on a directly connected network, and it is not (use vxlan across routed networks)", ErrBadPeer, p.ip)
		}
	}
	if err != nil {
		r.refuse(n, err)
		return r.program(name, entries{})
	}
	delete(r.refused, name)
	want := desiredEntries(r.backend, r.dev, p)
	if have := r.programmed[name]; !equalEntries(have, want) {
		r.log.Info("routing to node", "node", name, "podCIDR", p.podCIDR, "via", p.ip, "vtepMAC", p.vtepMAC)
	}
	return r.program(name, want)
}

// refuse reports once per reason that n is not routed to: a pending node
// (no pod CIDR or annotations yet) quietly, anything else as a warning
// and a Warning event on n, since it needs someone to fix the Node.
func (r *Router) refuse(n *corev1.Node, why error) {
	reason := why.Error()
	if r.refused[n.Name] == reason {
		return
	}
	r.refused[n.Name] = reason
	if errors.Is(why, errPending) {
		r.log.Info("not routing to node yet", "node", n.Name, "reason", reason)
		return
	}
	r.log.Warn("not routing to node", "node", n.Name, "reason", reason)
	r.event(n, corev1.EventTypeWarning, "RouteRefused", fmt.Sprintf("node %s does not route to this node's pods: %s", r.nodeName, reason))
}

func (r *Router) event(obj *corev1.Node, typ, reason, msg string) {
	if r.recorder == nil {
		return
	}
	// As kubelet: a Node's events carry its name as the UID.
	ref := &corev1.ObjectReference{Kind: "Node", Name: obj.Name, UID: types.UID(obj.Name)}
	r.recorder.Event(ref, typ, reason, msg)
}

// syncSelf publishes this node's annotations and sets up the vxlan
// device's address from its pod CIDR.
func (r *Router) syncSelf(ctx context.Context) error {
	n, err := r.lister.Get(r.nodeName)
	if apierrors.IsNotFound(err) {
		r.selfState("no Node", func() { r.log.Info("waiting for this node's Node object", "node", r.nodeName) })
		return nil
	}
	if err != nil {
		return err
	}
	if diff := changedAnnotations(n.Annotations, r.annots); len(diff) > 0 {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": diff}})
		if err != nil {
			return err
		}
		if _, err := r.client.CoreV1().Nodes().Patch(ctx, r.nodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("network: publish annotations on node %s: %w", r.nodeName, err)
		}
		// The update event brings the patched Node back; the rest of
		// the set-up needs nothing from it.
	}
	cidr, err := nodePodCIDR(n)
	if err != nil {
		r.selfState(err.Error(), func() { r.log.Info("waiting for this node's pod CIDR", "node", r.nodeName, "reason", err) })
		return nil
	}
	if !r.cluster.Contains(cidr.Addr()) || cidr.Bits() < r.cluster.Bits() {
		// Terminal until the Node changes: routing it would break the
		// cluster's pods.
		r.selfState("outside "+cidr.String(), func() {
			r.log.Error("this node's pod CIDR is outside the cluster CIDR; not routing", "podCIDR", cidr, "clusterCIDR", r.cluster)
			r.event(n, corev1.EventTypeWarning, "PodCIDROutsideCluster",
				fmt.Sprintf("pod CIDR %s is outside the cluster CIDR %s: pods on this node are not routed", cidr, r.cluster))
		})
		return nil
	}
	if r.backend == BackendVXLAN {
		// As flannel: the device holds the first address of the node's
		// range as a /32, which peers route to on-link.
		if err := r.k.SetAddress(r.dev, netip.PrefixFrom(cidr.Addr(), 32)); err != nil {
			return err
		}
	}
	r.ownCIDR = cidr
	r.selfState("set up "+cidr.String(), func() { r.log.Info("node network set up", "node", r.nodeName, "podCIDR", cidr) })
	r.markReady()
	return nil
}

// selfState runs report when this node's state differs from the last
// one reported, so Node updates (heartbeats) do not repeat the same log.
func (r *Router) selfState(state string, report func()) {
	if r.self != state {
		r.self = state
		report()
	}
}

// changedAnnotations returns the entries of want that have differs in.
func changedAnnotations(have, want map[string]string) map[string]string {
	diff := map[string]string{}
	for k, v := range want {
		if have[k] != v {
			diff[k] = v
		}
	}
	return diff
}

// program moves the kernel from what was programmed for node name to
// want: stale routes go first, then stale neighbor and FDB entries; then
// every wanted neighbor, FDB entry and route is (re)applied, which also
// repairs entries removed behind the router's back. What could not be
// deleted stays recorded, to be retried.
func (r *Router) program(name string, want entries) error {
	have := r.programmed[name]
	var errs []error
	var left entries
	left.Routes = deleteStale(have.Routes, want.Routes, r.k.DeleteRoute, &errs)
	left.Neighbors = deleteStale(have.Neighbors, want.Neighbors, r.k.DeleteNeighbor, &errs)
	left.FDB = deleteStale(have.FDB, want.FDB, r.k.DeleteFDB, &errs)
	// Recorded before adding: a half-applied add is still ours to remove.
	left.Routes = append(left.Routes, want.Routes...)
	left.Neighbors = append(left.Neighbors, want.Neighbors...)
	left.FDB = append(left.FDB, want.FDB...)
	if left.empty() {
		delete(r.programmed, name)
	} else {
		r.programmed[name] = left
	}
	applyAll(want.Neighbors, r.k.SetNeighbor, &errs)
	applyAll(want.FDB, r.k.SetFDB, &errs)
	if len(errs) == 0 {
		// Routes last: their gateway must already resolve.
		applyAll(want.Routes, r.k.ReplaceRoute, &errs)
	}
	return errors.Join(errs...)
}

// deleteStale deletes the entries of have not in want and returns those
// whose delete failed.
func deleteStale[T comparable](have, want []T, del func(T) error, errs *[]error) []T {
	var failed []T
	for _, e := range have {
		if slices.Contains(want, e) {
			continue
		}
		if err := del(e); err != nil {
			*errs = append(*errs, err)
			failed = append(failed, e)
		}
	}
	return failed
}

func applyAll[T any](want []T, add func(T) error, errs *[]error) {
	for _, e := range want {
		if err := add(e); err != nil {
			*errs = append(*errs, err)
		}
	}
}

func equalEntries(a, b entries) bool {
	return slices.Equal(a.Routes, b.Routes) && slices.Equal(a.Neighbors, b.Neighbors) && slices.Equal(a.FDB, b.FDB)
}

// tearDown removes everything of the router's from the kernel; nft is
// nil when the table was never touched.
func (r *Router) tearDown(nft knftables.Interface) error {
	ctx, cancel := context.WithTimeout(context.Background(), tearDownTimeout)
	defer cancel()
	var errs []error
	for name, e := range r.programmed {
		// The device's deletion takes neighbor and FDB entries with it;
		// host-gw routes are on the underlay and go one by one.
		for _, rt := range e.Routes {
			if err := r.k.DeleteRoute(rt); err != nil {
				errs = append(errs, err)
			}
		}
		delete(r.programmed, name)
	}
	if err := r.k.DeleteOwnRoutes(r.cluster); err != nil {
		errs = append(errs, err)
	}
	if r.backend == BackendVXLAN {
		if err := r.k.DeleteLink(r.dev); err != nil {
			errs = append(errs, err)
		}
	}
	if nft != nil {
		if err := deleteMasq(ctx, nft); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		r.log.Error("clean-up incomplete", "err", err)
	} else {
		r.log.Info("node network removed")
	}
	return err
}
