package endpointslice

import (
	"context"
	"log/slog"
	"sort"
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
)

// SliceConfig holds what a SliceController needs; all but Clock, Logger,
// Workers and MaxRetryDelay are required.
type SliceConfig struct {
	Client         kubernetes.Interface
	Services       coreinformers.ServiceInformer
	Pods           coreinformers.PodInformer
	Nodes          coreinformers.NodeInformer
	EndpointSlices discoveryinformers.EndpointSliceInformer
	Clock          clock.WithTicker
	Logger         *slog.Logger
	Workers        int
	MaxRetryDelay  time.Duration
}

// SliceController keeps the EndpointSlices of Services with selectors.
type SliceController struct {
	common
	client      kubernetes.Interface
	services    cache.SharedIndexInformer
	svcLister   corelisters.ServiceLister
	pods        cache.SharedIndexInformer
	podLister   corelisters.PodLister
	nodeLister  corelisters.NodeLister
	nodes       cache.SharedIndexInformer
	slices      cache.SharedIndexInformer
	sliceLister discoverylisters.EndpointSliceLister
}

// NewSlices builds a SliceController; it starts nothing.
func NewSlices(cfg SliceConfig) *SliceController {
	c := &SliceController{
		client:      cfg.Client,
		services:    cfg.Services.Informer(),
		svcLister:   cfg.Services.Lister(),
		pods:        cfg.Pods.Informer(),
		podLister:   cfg.Pods.Lister(),
		nodes:       cfg.Nodes.Informer(),
		nodeLister:  cfg.Nodes.Lister(),
		slices:      cfg.EndpointSlices.Informer(),
		sliceLister: cfg.EndpointSlices.Lister(),
	}
	c.init("endpointslice", cfg.Clock, cfg.Logger, cfg.Workers, cfg.MaxRetryDelay)
	return c
}

// Run runs the controller until ctx ends.
func (c *SliceController) Run(ctx context.Context) error {
	q := ctrlutil.NewQueue[string](c.name, c.clock, minimumRetryBase, c.maxDelay)
	hs := serviceHandlers(q, c.services, c.pods, c.svcLister, c.slices)
	// Node zones only matter through pods; the node cache just has to be
	// there when a pod is synced.
	hs = append(hs, handler{c.nodes, func(any) {}})
	return c.run(ctx, q, hs, c.Sync)
}

// Sync makes the EndpointSlices of the Service named key match its pods.
func (c *SliceController) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector removes the slices the Service owned.
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if svc.DeletionTimestamp != nil || svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return ctrlutil.Result{}, nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return ctrlutil.Result{}, err
	}
	existing, err := c.sliceLister.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		serviceNameLabel: name, managedByLabel: ManagedBy,
	}))
	if err != nil {
		return ctrlutil.Result{}, err
	}
	want := BuildSlices(svc, pods, c.zoneOf)
	return ctrlutil.Result{}, c.apply(ctx, svc, want, existing, triggerTime(svc, pods))
}

func (c *SliceController) zoneOf(node string) string {
	n, err := c.nodeLister.Get(node)
	if err != nil {
		return ""
	}
	return n.Labels[zoneLabel]
}

// DesiredSlice is the content of one wanted slice.
type DesiredSlice struct {
	AddressType discoveryv1.AddressType
	Ports       []discoveryv1.EndpointPort
	Endpoints   []discoveryv1.Endpoint
}

func (d DesiredSlice) groupKey() string { return string(d.AddressType) + "|" + portsKey(d.Ports) }

// BuildSlices computes the slices svc should have: per address type and
// port set, chunks of at most MaxEndpointsPerSl endpoints. With no
// endpoints at all it returns one empty placeholder slice.
func BuildSlices(svc *corev1.Service, pods []*corev1.Pod, zoneOf func(string) string) []DesiredSlice {
	fams := svc.Spec.IPFamilies
	if len(fams) == 0 {
		fams = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	type group struct {
		DesiredSlice
		eps []discoveryv1.Endpoint
	}
	groups := map[string]*group{}
	for _, pod := range pods {
		if !includePod(pod, true) {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			p, ok := resolvePort(pod, sp)
			if !ok {
				continue
			}
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(p), Protocol: ptr.To(proto), AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		sort.Slice(ports, func(i, j int) bool { return *ports[i].Name < *ports[j].Name })
		ready := podReady(pod)
		terminating := pod.DeletionTimestamp != nil
		cond := discoveryv1.EndpointConditions{
			Ready:       ptr.To(ready && !terminating || svc.Spec.PublishNotReadyAddresses),
			Serving:     ptr.To(ready || svc.Spec.PublishNotReadyAddresses),
			Terminating: ptr.To(terminating),
		}
		for _, ip := range podIPs(pod) {
			at := addressType(ip)
			if !hasFamily(fams, at) {
				continue
			}
			ep := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: cond, TargetRef: podRef(pod)}
			if h := hostnameFor(pod, svc); h != "" {
				ep.Hostname = ptr.To(h)
			}
			if pod.Spec.NodeName != "" {
				ep.NodeName = ptr.To(pod.Spec.NodeName)
				if z := zoneOf(pod.Spec.NodeName); z != "" {
					ep.Zone = ptr.To(z)
				}
			}
			ep.Hints = trafficHints(svc, &ep)
			d := DesiredSlice{AddressType: at, Ports: ports}
			g := groups[d.groupKey()]
			if g == nil {
				g = &group{DesiredSlice: d}
				groups[d.groupKey()] = g
			}
			g.eps = append(g.eps, ep)
		}
	}
	var out []DesiredSlice
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		sort.Slice(g.eps, func(i, j int) bool { return g.eps[i].Addresses[0] < g.eps[j].Addresses[0] })
		for len(g.eps) > 0 {
			n := min(len(g.eps), MaxEndpointsPerSl)
			out = append(out, DesiredSlice{AddressType: g.AddressType, Ports: g.Ports, Endpoints: g.eps[:n:n]})
			g.eps = g.eps[n:]
		}
	}
	if len(out) == 0 {
		out = append(out, DesiredSlice{AddressType: discoveryv1.AddressType(fams[0])})
	}
	return out
}

// trafficHints are the topology hints an endpoint carries under the
// Service's trafficDistribution, as upstream's trafficdist heuristics set
// them: PreferClose (PreferSameZone) hints the endpoint's own zone,
// PreferSameNode hints its node as well. An endpoint without a zone gets
// no hints, which makes proxies ignore topology for the whole Service.
func trafficHints(svc *corev1.Service, ep *discoveryv1.Endpoint) *discoveryv1.EndpointHints {
	if svc.Spec.TrafficDistribution == nil || ep.Zone == nil || *ep.Zone == "" {
		return nil
	}
	zones := []discoveryv1.ForZone{{Name: *ep.Zone}}
	switch *svc.Spec.TrafficDistribution {
	case corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone:
		return &discoveryv1.EndpointHints{ForZones: zones}
	case corev1.ServiceTrafficDistributionPreferSameNode:
		h := &discoveryv1.EndpointHints{ForZones: zones}
		if ep.NodeName != nil {
			h.ForNodes = []discoveryv1.ForNode{{Name: *ep.NodeName}}
		}
		return h
	}
	return nil
}

func hasFamily(fams []corev1.IPFamily, at discoveryv1.AddressType) bool {
	for _, f := range fams {
		if string(f) == string(at) {
			return true
		}
	}
	return false
}

// apply writes the difference between want and existing: a slice of the
// same address type and port set is updated in place, extra slices are
// deleted and missing ones created.
func (c *SliceController) apply(ctx context.Context, svc *corev1.Service, want []DesiredSlice, existing []*discoveryv1.EndpointSlice, trigger time.Time) error {
	lbls := serviceLabels(svc)
	lbls[serviceNameLabel] = svc.Name
	lbls[managedByLabel] = ManagedBy
	free := map[string][]*discoveryv1.EndpointSlice{}
	sort.Slice(existing, func(i, j int) bool { return existing[i].Name < existing[j].Name })
	for _, s := range existing {
		k := DesiredSlice{AddressType: s.AddressType, Ports: s.Ports}.groupKey()
		free[k] = append(free[k], s)
	}
	var unmatched []DesiredSlice
	client := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	for _, d := range want {
		k := d.groupKey()
		if len(free[k]) == 0 {
			unmatched = append(unmatched, d)
			continue
		}
		cur := free[k][0]
		free[k] = free[k][1:]
		if apiequality.Semantic.DeepEqual(cur.Endpoints, d.Endpoints) && labelsMatch(cur.Labels, lbls) && ownedBy(cur, svc) {
			continue
		}
		s := cur.DeepCopy()
		s.Endpoints = d.Endpoints
		s.Labels = copyMap(lbls)
		s.OwnerReferences = []metav1.OwnerReference{serviceOwner(svc)}
		setTrigger(&s.ObjectMeta, trigger)
		if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	// Slices left over of another shape are reused before new ones are
	// created, as upstream does, to keep churn low.
	var leftovers []*discoveryv1.EndpointSlice
	for _, k := range sortedKeys(free) {
		leftovers = append(leftovers, free[k]...)
	}
	for _, d := range unmatched {
		if len(leftovers) > 0 {
			s := leftovers[0].DeepCopy()
			leftovers = leftovers[1:]
			if s.AddressType == d.AddressType {
				s.Ports, s.Endpoints = d.Ports, d.Endpoints
				s.Labels = copyMap(lbls)
				s.OwnerReferences = []metav1.OwnerReference{serviceOwner(svc)}
				setTrigger(&s.ObjectMeta, trigger)
				if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
				continue
			}
			// addressType is immutable: replace the slice.
			leftovers = append(leftovers, s)
		}
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName:    svc.Name + "-",
				Namespace:       svc.Namespace,
				Labels:          copyMap(lbls),
				OwnerReferences: []metav1.OwnerReference{serviceOwner(svc)},
			},
			AddressType: d.AddressType,
			Ports:       d.Ports,
			Endpoints:   d.Endpoints,
		}
		setTrigger(&s.ObjectMeta, trigger)
		if _, err := client.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, s := range leftovers {
		err := client.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

func serviceOwner(svc *corev1.Service) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	return len(s.OwnerReferences) == 1 && s.OwnerReferences[0].UID == svc.UID
}

func labelsMatch(have, want map[string]string) bool {
	return apiequality.Semantic.DeepEqual(nonNil(have), want)
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func setTrigger(m *metav1.ObjectMeta, t time.Time) {
	if t.IsZero() {
		return
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[TriggerTimeAnno] = t.UTC().Format(triggerTimeFormat)
}
