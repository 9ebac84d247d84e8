package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Labels that choose the nodes whose addresses are handed out.
const (
	// EnableLBLabel, set to "true" on some nodes, restricts the load
	// balancer to those nodes (k3s's label).
	EnableLBLabel = "svccontroller.k3s.cattle.io/enablelb"
	// ExcludeLabel leaves a node out, as upstream's service controller.
	ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"
)

// Config holds what a Controller needs; Client, Services and Nodes are
// required.
type Config struct {
	Client   kubernetes.Interface
	Services coreinformers.ServiceInformer
	Nodes    coreinformers.NodeInformer
	// Recorder records PortConflict events; nil makes one of its own.
	Recorder      events.EventRecorder
	Clock         clock.WithTicker
	Logger        *slog.Logger
	MaxRetryDelay time.Duration
}

// Controller keeps LoadBalancer Services' ingress equal to the nodes'
// addresses.
type Controller struct {
	client     kubernetes.Interface
	svcLister  corelisters.ServiceLister
	nodeLister corelisters.NodeLister
	informers  []cache.SharedIndexInformer
	events     ctrlutil.Events
	clock      clock.WithTicker
	log        *slog.Logger
	maxDelay   time.Duration
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client:     cfg.Client,
		svcLister:  cfg.Services.Lister(),
		nodeLister: cfg.Nodes.Lister(),
		informers:  []cache.SharedIndexInformer{cfg.Services.Informer(), cfg.Nodes.Informer()},
		events:     ctrlutil.NewEvents(cfg.Client, cfg.Recorder, "service-lb-controller"),
		clock:      cfg.Clock,
		log:        cfg.Logger,
		maxDelay:   cfg.MaxRetryDelay,
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "service-lb")
	return c
}

// Run syncs until ctx ends. Conflicts make every LoadBalancer Service
// depend on the others, so each sync looks at all of them (they are few).
func (c *Controller) Run(ctx context.Context) error {
	defer c.events.Start(ctx)()
	return ctrlutil.RunWhole(ctx, c.log, c.clock, c.maxDelay, "service-lb", c.informers, nil, c.Sync)
}

// Sync brings every Service's load-balancer ingress up to date.
func (c *Controller) Sync(ctx context.Context, _ string) (ctrlutil.Result, error) {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	services, err := c.svcLister.List(labels.Everything())
	if err != nil {
		return ctrlutil.Result{}, err
	}
	ingress := NodeIngress(nodes)
	want := Assign(services, ingress)
	var errs []error
	for _, svc := range services {
		w, managed := want[svc]
		if !managed {
			continue
		}
		if w.Conflict != "" && len(svc.Status.LoadBalancer.Ingress) == 0 {
			c.events.Eventf(svc, nil, corev1.EventTypeWarning, "PortConflict", "AssignIngress", "%s", w.Conflict)
		}
		if ingressEqual(svc.Status.LoadBalancer.Ingress, w.Ingress) {
			continue
		}
		up := svc.DeepCopy()
		up.Status.LoadBalancer.Ingress = w.Ingress
		_, err := c.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, up, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.log.Info("load balancer ingress set", "service", svc.Namespace+"/"+svc.Name, "ingress", ingressIPs(w.Ingress))
			if len(w.Ingress) > 0 {
				c.events.Eventf(svc, nil, corev1.EventTypeNormal, "UpdatedLoadBalancer", "AssignIngress", "Updated LoadBalancer with new IPs: %v -> %v",
					ingressIPs(svc.Status.LoadBalancer.Ingress), ingressIPs(w.Ingress))
			}
		case apierrors.IsNotFound(err):
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return ctrlutil.Result{}, fmt.Errorf("servicelb: %d of the status updates failed, first: %w", len(errs), errs[0])
	}
	return ctrlutil.Result{}, nil
}

// Want is what one Service's ingress should be.
type Want struct {
	Ingress []corev1.LoadBalancerIngress
	// Conflict, when not empty, says why the Service gets no ingress.
	Conflict string
}

// Assign returns, for every Service this load balancer is responsible for
// (LoadBalancer Services without a class, and any other Service that
// still has an ingress it should lose), the ingress it should have.
func Assign(services []*corev1.Service, ingress []corev1.LoadBalancerIngress) map[*corev1.Service]Want {
	lbs := make([]*corev1.Service, 0)
	out := map[*corev1.Service]Want{}
	for _, svc := range services {
		switch {
		case svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil:
			lbs = append(lbs, svc)
		case svc.Spec.Type != corev1.ServiceTypeLoadBalancer && len(svc.Status.LoadBalancer.Ingress) > 0:
			out[svc] = Want{}
		}
	}
	slices.SortFunc(lbs, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	type portKey struct {
		port  int32
		proto corev1.Protocol
	}
	owner := map[portKey]*corev1.Service{}
	for _, svc := range lbs {
		conflict := ""
		for _, p := range svc.Spec.Ports {
			if o := owner[portKey{p.Port, protocolOf(p)}]; o != nil {
				conflict = fmt.Sprintf("port %d/%s is already used by LoadBalancer Service %s/%s on the same node addresses", p.Port, protocolOf(p), o.Namespace, o.Name)
				break
			}
		}
		if conflict != "" {
			out[svc] = Want{Conflict: conflict}
			continue
		}
		for _, p := range svc.Spec.Ports {
			owner[portKey{p.Port, protocolOf(p)}] = svc
		}
		out[svc] = Want{Ingress: ingress}
	}
	return out
}

func protocolOf(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// NodeIngress is the ingress every LoadBalancer Service gets: the
// addresses of the chosen nodes, sorted.
func NodeIngress(nodes []*corev1.Node) []corev1.LoadBalancerIngress {
	restricted := slices.ContainsFunc(nodes, func(n *corev1.Node) bool { return n.Labels[EnableLBLabel] == "true" })
	var ips []string
	for _, n := range nodes {
		if restricted && n.Labels[EnableLBLabel] != "true" {
			continue
		}
		if _, excluded := n.Labels[ExcludeLabel]; excluded || !ctrlutil.NodeReady(n) {
			continue
		}
		ips = append(ips, nodeAddresses(n)...)
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	out := make([]corev1.LoadBalancerIngress, 0, len(ips))
	for _, ip := range ips {
		out = append(out, corev1.LoadBalancerIngress{IP: ip, IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
	}
	return out
}

func nodeAddresses(n *corev1.Node) []string {
	var ext, in []string
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeExternalIP:
			ext = append(ext, a.Address)
		case corev1.NodeInternalIP:
			in = append(in, a.Address)
		}
	}
	if len(ext) > 0 {
		return ext
	}
	return in
}

func ingressEqual(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && ptr.Deref(x.IPMode, "") == ptr.Deref(y.IPMode, "")
	})
}

func ingressIPs(in []corev1.LoadBalancerIngress) []string {
	out := make([]string, 0, len(in))
	for _, i := range in {
		out = append(out, i.IP)
	}
	return out
}
