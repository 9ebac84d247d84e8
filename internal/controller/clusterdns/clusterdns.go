package clusterdns

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
	"github.com/skiff-sh/skiff/internal/network"
)

// Names the cluster DNS is known by, as in Kubernetes.
const (
	Namespace   = metav1.NamespaceSystem
	ServiceName = "kube-dns"
	// ManagedBy is the endpointslice.kubernetes.io/managed-by value of our
	// slices, so upstream's and Skiff's EndpointSlice controllers leave
	// them alone.
	ManagedBy = "cluster-dns.skiff.sh"
	// slicePrefix names our slices: kube-dns-skiff-0, -1, ...
	slicePrefix = ServiceName + "-skiff-"
	// maxPerSlice is the API's limit of endpoints in one slice.
	maxPerSlice = 1000
)

// Config holds what a Controller needs; every field but Clock, Logger and
// MaxRetryDelay is required.
type Config struct {
	Client         kubernetes.Interface
	Services       coreinformers.ServiceInformer
	Nodes          coreinformers.NodeInformer
	EndpointSlices discoveryinformers.EndpointSliceInformer
	Clock          clock.WithTicker
	Logger         *slog.Logger
	MaxRetryDelay  time.Duration
}

// Controller keeps kube-dns's EndpointSlices equal to the nodes' DNS
// addresses.
type Controller struct {
	client      kubernetes.Interface
	svcLister   corelisters.ServiceLister
	nodeLister  corelisters.NodeLister
	sliceLister discoverylisters.EndpointSliceLister
	informers   []cache.SharedIndexInformer
	clock       clock.WithTicker
	log         *slog.Logger
	maxDelay    time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:      cfg.Client,
		svcLister:   cfg.Services.Lister(),
		nodeLister:  cfg.Nodes.Lister(),
		sliceLister: cfg.EndpointSlices.Lister(),
		informers:   []cache.SharedIndexInformer{cfg.Services.Informer(), cfg.Nodes.Informer(), cfg.EndpointSlices.Informer()},
		clock:       cfg.Clock,
		log:         cfg.Logger,
		maxDelay:    cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "cluster-dns-endpoints")
	return c
}

// relevant reports whether an informer event can change our slices.
func relevant(obj any) bool {
	switch o := obj.(type) {
	case *corev1.Node:
		return true
	case *corev1.Service:
		return o.Namespace == Namespace && o.Name == ServiceName
	case *discoveryv1.EndpointSlice:
		return o.Namespace == Namespace && o.Labels[discoveryv1.LabelManagedBy] == ManagedBy
	}
	return false
}

// Run syncs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return ctrlutil.RunWhole(ctx, c.log, c.clock, c.maxDelay, "cluster-dns-endpoints", c.informers, relevant, c.Sync)
}

// Sync writes the slices the nodes call for and deletes the others.
func (c *Controller) Sync(ctx context.Context, _ string) (ctrlutil.Result, error) {
	have, err := c.sliceLister.EndpointSlices(Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelManagedBy: ManagedBy}))
	if err != nil {
		return ctrlutil.Result{}, err
	}
	var want []*discoveryv1.EndpointSlice
	svc, err := c.svcLister.Services(Namespace).Get(ServiceName)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrlutil.Result{}, err
	case len(svc.Spec.Selector) == 0:
		nodes, err := c.nodeLister.List(labels.Everything())
		if err != nil {
			return ctrlutil.Result{}, err
		}
		want = Slices(svc, nodes)
	}
	byName := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range have {
		byName[s.Name] = s
	}
	api := c.client.DiscoveryV1().EndpointSlices(Namespace)
	for _, w := range want {
		old := byName[w.Name]
		delete(byName, w.Name)
		switch {
		case old == nil:
			if _, err := api.Create(ctx, w, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return ctrlutil.Result{}, err
			}
			c.log.Info("created cluster DNS endpoints", "slice", w.Name, "endpoints", len(w.Endpoints))
		case !sameContent(old, w):
			up := old.DeepCopy()
			up.Labels, up.OwnerReferences = w.Labels, w.OwnerReferences
			up.AddressType, up.Endpoints, up.Ports = w.AddressType, w.Endpoints, w.Ports
			if _, err := api.Update(ctx, up, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return ctrlutil.Result{}, err
			}
			c.log.Info("updated cluster DNS endpoints", "slice", w.Name, "endpoints", len(w.Endpoints))
		}
	}
	for name := range byName {
		if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return ctrlutil.Result{}, err
		}
	}
	return ctrlutil.Result{}, nil
}

func sameContent(a, b *discoveryv1.EndpointSlice) bool {
	return a.AddressType == b.AddressType &&
		apiequality.Semantic.DeepEqual(a.Endpoints, b.Endpoints) &&
		apiequality.Semantic.DeepEqual(a.Ports, b.Ports) &&
		apiequality.Semantic.DeepEqual(a.OwnerReferences, b.OwnerReferences) &&
		a.Labels[discoveryv1.LabelServiceName] == ServiceName
}

// Slices are the EndpointSlices svc should have for nodes: IPv4 gateway
// addresses of every node with a pod CIDR, in node-name order, at most
// maxPerSlice a slice.
func Slices(svc *corev1.Service, nodes []*corev1.Node) []*discoveryv1.EndpointSlice {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	var eps []discoveryv1.Endpoint
	for _, n := range sorted {
		gw, ok := gateway(n)
		if !ok {
			continue
		}
		ep := discoveryv1.Endpoint{
			Addresses: []string{gw.String()},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ctrlutil.NodeReady(n)), Serving: ptr.To(ctrlutil.NodeReady(n)), Terminating: ptr.To(false),
			},
			NodeName: ptr.To(n.Name),
		}
		if z, ok := n.Labels[corev1.LabelTopologyZone]; ok {
			ep.Zone = ptr.To(z)
		}
		eps = append(eps, ep)
	}
	var ports []discoveryv1.EndpointPort
	for _, p := range svc.Spec.Ports {
		port := p.Port
		if p.TargetPort.IntValue() > 0 {
			port = int32(p.TargetPort.IntValue())
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Protocol: ptr.To(proto), Port: ptr.To(port)})
	}
	var out []*discoveryv1.EndpointSlice
	for i := 0; i == 0 || i*maxPerSlice < len(eps); i++ {
		chunk := eps[i*maxPerSlice : min(len(eps), (i+1)*maxPerSlice)]
		out = append(out, &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: Namespace,
				Name:      fmt.Sprintf("%s%d", slicePrefix, i),
				Labels: map[string]string{
					discoveryv1.LabelServiceName: ServiceName,
					discoveryv1.LabelManagedBy:   ManagedBy,
				},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
				}},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   slices.Clip(chunk),
			Ports:       ports,
		})
	}
	return out
}

// gateway is the node's IPv4 DNS address, if it has an IPv4 pod CIDR.
func gateway(n *corev1.Node) (netip.Addr, bool) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if gw, err := network.Gateway(c); err == nil && gw.Is4() {
			return gw, true
		}
	}
	return netip.Addr{}, false
}
