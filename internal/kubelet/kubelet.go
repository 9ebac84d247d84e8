package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// CRI labels the agent puts on every sandbox and container it creates;
// they are how it finds its pods again after a restart. The keys are the
// ones every Kubernetes node agent uses, so CRI tools show them as usual.
const (
	labelPodUID       = "io.kubernetes.pod.uid"
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelContainer    = "io.kubernetes.container.name"
	// labelManagedBy marks objects created by a Skiff agent, so another
	// agent's (or a human's) objects on the same runtime are left alone.
	labelManagedBy = "io.skiff.managed-by"
	managedByValue = "skiff-agent"
)

// Config is what a Kubelet needs. Client, Runtime, Images, NodeName and
// RootDir are required.
type Config struct {
	// NodeName is the Node this agent registers and runs pods for.
	NodeName string
	// NodeIP is the node's InternalIP (default: the host's first
	// non-loopback IPv4).
	NodeIP net.IP
	// NodeLabels are added to the Node at registration.
	NodeLabels map[string]string
	// Client talks to the API server as system:node:NodeName.
	Client kubernetes.Interface
	// Runtime and Images are the CRI services.
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	// RootDir holds per-pod directories (volumes, logs, /etc/hosts).
	RootDir string
	// CgroupRoot is the cgroup under which pod cgroups are made (cgroupfs
	// driver), default "/skiff".
	CgroupRoot string
	// ClusterDNS and ClusterDomain configure pods' resolv.conf for
	// dnsPolicy ClusterFirst; with no ClusterDNS pods use the host's.
	ClusterDNS    []string
	ClusterDomain string
	// PodCIDRChanged is called with the node's pod CIDR at start and
	// whenever spec.podCIDR changes; the network layer rewrites its CNI
	// configuration. Called from one goroutine at a time.
	PodCIDRChanged func(cidr string)
	// KubeletPort is the port of the agent's HTTPS server, published in
	// the Node's status.daemonEndpoints (default KubeletPort).
	KubeletPort int
	// RelistPeriod is how often the runtime is listed to notice container
	// exits (default 1 s).
	RelistPeriod time.Duration
	// Allocatable, if set, replaces the node's allocatable computed from
	// the machine (tests; admission checks against it).
	Allocatable corev1.ResourceList
	// StaticPodDir holds static pod manifests (default RootDir/pod-manifests).
	StaticPodDir string
	// Eviction sets the node-pressure thresholds (see EvictionConfig).
	Eviction EvictionConfig
	// Logger (default: discard) and Clock (default: real time).
	Logger *slog.Logger
	Clock  clock.WithTicker
}

// Kubelet runs the pods bound to one node. Create it with New; Run runs it.
type Kubelet struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.WithTicker

	podLister corelisters.PodLister
	podSynced cache.InformerSynced
	recorder  record.EventRecorder

	// runtimeName is "containerd" (from CRI Version), the prefix of
	// container IDs in pod status.
	runtimeName    string
	runtimeVersion string

	// admission records admitted pods and stop orders (admit.go).
	admission *admission
	// allocations holds each pod's allocated resources by UID, published
	// by its worker (resize.go), for admission and resize decisions.
	allocations allocations
	// static holds the static pods read from StaticPodDir (static.go).
	static *staticPods
	// eviction watches node pressure (eviction.go).
	eviction *evictionManager
	// cpu keeps the last node CPU reading, for rates (stats.go).
	cpu nodeCPU
	// nodeUID is the Node's UID, set once registered (mirror pods' owner).
	nodeUID types.UID

	// mu guards workers.
	mu      sync.Mutex
	workers map[types.UID]*podWorker
	// wg tracks worker goroutines.
	wg sync.WaitGroup
}

// ErrConfig is returned by New for a missing required field.
var ErrConfig = errors.New("kubelet: incomplete configuration")

// New checks cfg and returns a Kubelet; it starts nothing.
func New(cfg Config) (*Kubelet, error) {
	if cfg.Client == nil || cfg.Runtime == nil || cfg.Images == nil || cfg.NodeName == "" || cfg.RootDir == "" {
		return nil, ErrConfig
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/skiff"
	}
	if cfg.RelistPeriod == 0 {
		cfg.RelistPeriod = time.Second
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.NodeIP == nil {
		cfg.NodeIP = defaultNodeIP()
	}
	if cfg.StaticPodDir == "" {
		cfg.StaticPodDir = filepath.Join(cfg.RootDir, "pod-manifests")
	}
	k := &Kubelet{
		cfg:       cfg,
		client:    cfg.Client,
		log:       cfg.Logger.With("component", "kubelet", "node", cfg.NodeName),
		clock:     cfg.Clock,
		workers:   map[types.UID]*podWorker{},
		admission: newAdmission(),
	}
	k.static = newStaticPods(k)
	k.eviction = newEvictionManager(k, cfg.Eviction)
	return k, nil
}

// Run registers the node, keeps its lease and status fresh and runs the
// pods bound to it until ctx ends. On return every goroutine it started
// has stopped; containers keep running (a restarted agent adopts them).
func (k *Kubelet) Run(ctx context.Context) error {
	if err := os.MkdirAll(k.podsDir(), 0o750); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	v, err := k.cfg.Runtime.Version(ctx, &runtimeapi.VersionRequest{Version: "v1"})
	if err != nil {
		return fmt.Errorf("kubelet: container runtime: %w", err)
	}
	k.runtimeName, k.runtimeVersion = v.RuntimeName, v.RuntimeVersion

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})

	node, err := k.registerNode(ctx)
	if err != nil {
		return err
	}
	node = k.awaitPodCIDR(ctx, node)
	k.podCIDRSeen(node)
	k.nodeUID = node.UID

	// The Node authorizer lets a node list and watch only the pods bound
	// to it, and only with this field selector.
	factory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	podInformer := factory.Core().V1().Pods()
	k.podLister = podInformer.Lister()
	k.podSynced = podInformer.Informer().HasSynced
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(ctx, obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(ctx, obj) },
		DeleteFunc: func(obj any) { k.podChanged(ctx, obj) },
	}); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	// Static pods are known before the relist loop runs, so their
	// containers are adopted, never taken for a deleted pod's.
	cache.WaitForCacheSync(ctx.Done(), k.podSynced)
	k.syncStaticPods(ctx)

	var loops sync.WaitGroup
	loops.Add(5)
	go func() { defer loops.Done(); k.staticPodLoop(ctx) }()
	go func() { defer loops.Done(); k.eviction.run(ctx) }()
	go func() { defer loops.Done(); k.leaseLoop(ctx) }()
	go func() { defer loops.Done(); k.nodeStatusLoop(ctx) }()
	go func() { defer loops.Done(); k.relistLoop(ctx) }()
	k.log.Info("node agent running", "runtime", k.runtimeName+"://"+k.runtimeVersion)

	<-ctx.Done()
	loops.Wait()
	k.wg.Wait()
	return nil
}

// podChanged wakes (or starts) the worker of the pod in an informer event.
func (k *Kubelet) podChanged(ctx context.Context, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if isMirrorPod(pod) {
		// A mirror pod is run by its static pod's worker.
		if sp := k.static.get(types.UID(pod.Annotations[annotationConfigMirror])); sp != nil {
			k.wake(ctx, sp.UID, sp.Namespace, sp.Name)
		}
		return
	}
	k.wake(ctx, pod.UID, pod.Namespace, pod.Name)
}

// wake signals the worker for uid, starting one if there is none.
func (k *Kubelet) wake(ctx context.Context, uid types.UID, namespace, name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	w, ok := k.workers[uid]
	if !ok {
		w = newPodWorker(k, uid, namespace, name)
		k.workers[uid] = w
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			w.run(ctx)
			k.mu.Lock()
			delete(k.workers, uid)
			k.mu.Unlock()
		}()
	}
	w.signal()
}

// relistLoop lists the runtime every RelistPeriod and wakes the worker of
// every pod whose sandboxes or containers changed state: that is how
// container exits are noticed. Sandboxes of pods the API no longer has
// (deleted while the agent was down) get a worker that cleans them up.
func (k *Kubelet) relistLoop(ctx context.Context) {
	ticker := k.clock.NewTicker(k.cfg.RelistPeriod)
	defer ticker.Stop()
	last := map[types.UID]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		if !k.podSynced() {
			continue
		}
		fps, names, err := k.relist(ctx)
		if err != nil {
			k.log.Warn("relisting the runtime", "err", err)
			continue
		}
		for uid, fp := range fps {
			if last[uid] != fp {
				k.wake(ctx, uid, names[uid][0], names[uid][1])
			}
		}
		last = fps
	}
}

// relist returns a fingerprint of the runtime state of each pod, and its
// namespace and name from the CRI labels.
func (k *Kubelet) relist(ctx context.Context) (map[types.UID]string, map[types.UID][2]string, error) {
	filter := map[string]string{labelManagedBy: managedByValue}
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: filter}})
	if err != nil {
		return nil, nil, err
	}
	cs, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: filter}})
	if err != nil {
		return nil, nil, err
	}
	parts := map[types.UID][]string{}
	names := map[types.UID][2]string{}
	for _, s := range sbs.Items {
		uid := types.UID(s.Labels[labelPodUID])
		parts[uid] = append(parts[uid], s.Id+"="+s.State.String())
		names[uid] = [2]string{s.Labels[labelPodNamespace], s.Labels[labelPodName]}
	}
	for _, c := range cs.Containers {
		uid := types.UID(c.Labels[labelPodUID])
		parts[uid] = append(parts[uid], c.Id+"="+c.State.String())
		if _, ok := names[uid]; !ok {
			names[uid] = [2]string{c.Labels[labelPodNamespace], c.Labels[labelPodName]}
		}
	}
	fps := make(map[types.UID]string, len(parts))
	for uid, p := range parts {
		sort.Strings(p)
		fps[uid] = fmt.Sprint(p)
	}
	return fps, names, nil
}

// getPod returns the pod from the informer cache if it is still the one
// with uid; nil when it is gone. The result must not be modified.
func (k *Kubelet) getPod(uid types.UID, namespace, name string) *corev1.Pod {
	if sp := k.staticPodView(uid); sp != nil {
		return sp
	}
	pod, err := k.podLister.Pods(namespace).Get(name)
	if err != nil || pod.UID != uid || isMirrorPod(pod) {
		return nil
	}
	return pod
}

func (k *Kubelet) podsDir() string { return filepath.Join(k.cfg.RootDir, "pods") }

// podDir is the pod's directory: volumes, etc-hosts, termination logs.
func (k *Kubelet) podDir(uid types.UID) string { return filepath.Join(k.podsDir(), string(uid)) }

// podLogDir is the CRI log directory of the pod's containers.
func (k *Kubelet) podLogDir(namespace, name string, uid types.UID) string {
	return filepath.Join(k.cfg.RootDir, "logs", "pods", namespace+"_"+name+"_"+string(uid))
}

// defaultNodeIP returns the first non-loopback IPv4 address of the host,
// or 127.0.0.1.
func defaultNodeIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.To4()
			}
		}
	}
	return net.IPv4(127, 0, 0, 1).To4()
}
