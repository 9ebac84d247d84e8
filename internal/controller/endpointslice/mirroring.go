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

// MirroringConfig holds what a MirroringController needs; all but Clock,
// Logger, Workers and MaxRetryDelay are required.
type MirroringConfig struct {
	Client         kubernetes.Interface
	Services       coreinformers.ServiceInformer
	Endpoints      coreinformers.EndpointsInformer
	EndpointSlices discoveryinformers.EndpointSliceInformer
	Clock          clock.WithTicker
	Logger         *slog.Logger
	Workers        int
	MaxRetryDelay  time.Duration
}

// MirroringController mirrors custom Endpoints into EndpointSlices.
type MirroringController struct {
	common
	client      kubernetes.Interface
	services    cache.SharedIndexInformer
	svcLister   corelisters.ServiceLister
	endpoints   cache.SharedIndexInformer
	epLister    corelisters.EndpointsLister
	slices      cache.SharedIndexInformer
	sliceLister discoverylisters.EndpointSliceLister
}

// NewMirroring builds a MirroringController; it starts nothing.
func NewMirroring(cfg MirroringConfig) *MirroringController {
	c := &MirroringController{
		client:      cfg.Client,
		services:    cfg.Services.Informer(),
		svcLister:   cfg.Services.Lister(),
		endpoints:   cfg.Endpoints.Informer(),
		epLister:    cfg.Endpoints.Lister(),
		slices:      cfg.EndpointSlices.Informer(),
		sliceLister: cfg.EndpointSlices.Lister(),
	}
	c.init("endpointslice-mirroring", cfg.Clock, cfg.Logger, cfg.Workers, cfg.MaxRetryDelay)
	return c
}

// Run runs the controller until ctx ends.
func (c *MirroringController) Run(ctx context.Context) error {
	q := ctrlutil.NewQueue[string](c.name, c.clock, minimumRetryBase, c.maxDelay)
	byKey := func(o any) {
		if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			q.Add(k)
		}
	}
	bySlice := func(o any) {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok && s.Labels[managedByLabel] == MirrorManagedBy && s.Labels[serviceNameLabel] != "" {
			q.Add(s.Namespace + "/" + s.Labels[serviceNameLabel])
		}
	}
	return c.run(ctx, q, []handler{{c.services, byKey}, {c.endpoints, byKey}, {c.slices, bySlice}}, c.Sync)
}

// Sync mirrors the Endpoints named key, or removes its mirrored slices
// when it should no longer be mirrored.
func (c *MirroringController) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	existing, err := c.sliceLister.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		serviceNameLabel: name, managedByLabel: MirrorManagedBy,
	}))
	if err != nil {
		return ctrlutil.Result{}, err
	}
	var want []DesiredSlice
	ep, err := c.epLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, err
	}
	svc, serr := c.svcLister.Services(ns).Get(name)
	if serr != nil && !apierrors.IsNotFound(serr) {
		return ctrlutil.Result{}, serr
	}
	mirror := ep != nil && svc != nil && svc.Spec.Selector == nil && ep.Labels[SkipMirrorLabel] != "true" && svc.DeletionTimestamp == nil
	if mirror {
		want = MirrorSlices(ep)
	}
	client := c.client.DiscoveryV1().EndpointSlices(ns)
	sort.Slice(existing, func(i, j int) bool { return existing[i].Name < existing[j].Name })
	lbls := map[string]string{}
	if mirror {
		for k, v := range ep.Labels {
			lbls[k] = v
		}
		lbls[serviceNameLabel] = name
		lbls[managedByLabel] = MirrorManagedBy
	}
	used := 0
	for _, d := range want {
		var cur *discoveryv1.EndpointSlice
		for used < len(existing) && cur == nil {
			if existing[used].AddressType == d.AddressType {
				cur = existing[used]
			} else {
				// addressType is immutable: this one goes.
				if err := deleteSlice(ctx, client, existing[used]); err != nil {
					return ctrlutil.Result{}, err
				}
			}
			used++
		}
		if cur != nil {
			if apiequality.Semantic.DeepEqual(cur.Endpoints, d.Endpoints) && apiequality.Semantic.DeepEqual(cur.Ports, d.Ports) && labelsMatch(cur.Labels, lbls) {
				continue
			}
			s := cur.DeepCopy()
			s.Endpoints, s.Ports, s.Labels = d.Endpoints, d.Ports, copyMap(lbls)
			if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return ctrlutil.Result{}, err
			}
			continue
		}
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: name + "-",
				Namespace:    ns,
				Labels:       copyMap(lbls),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Endpoints", Name: ep.Name, UID: ep.UID,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
			},
			AddressType: d.AddressType, Ports: d.Ports, Endpoints: d.Endpoints,
		}
		if _, err := client.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return ctrlutil.Result{}, err
		}
	}
	for _, s := range existing[used:] {
		if err := deleteSlice(ctx, client, s); err != nil {
			return ctrlutil.Result{}, err
		}
	}
	return ctrlutil.Result{}, nil
}

type sliceDeleter interface {
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

func deleteSlice(ctx context.Context, client sliceDeleter, s *discoveryv1.EndpointSlice) error {
	err := client.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}

// MirrorSlices turns each subset of ep into slices per address type, at
// most MaxEndpointsPerSl endpoints each and MaxEndpointsAddrs in all.
func MirrorSlices(ep *corev1.Endpoints) []DesiredSlice {
	var out []DesiredSlice
	budget := MaxEndpointsAddrs
	for _, ss := range ep.Subsets {
		var ports []discoveryv1.EndpointPort
		for _, p := range ss.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.Port), Protocol: ptr.To(proto), AppProtocol: p.AppProtocol})
		}
		byType := map[discoveryv1.AddressType][]discoveryv1.Endpoint{}
		add := func(a corev1.EndpointAddress, ready bool) {
			at := addressType(a.IP)
			if at == "" || budget == 0 {
				return
			}
			budget--
			e := discoveryv1.Endpoint{Addresses: []string{a.IP}, Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false),
			}, NodeName: a.NodeName, TargetRef: a.TargetRef}
			if a.Hostname != "" {
				e.Hostname = ptr.To(a.Hostname)
			}
			byType[at] = append(byType[at], e)
		}
		for _, a := range ss.Addresses {
			add(a, true)
		}
		for _, a := range ss.NotReadyAddresses {
			add(a, false)
		}
		for _, at := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
			eps := byType[at]
			for len(eps) > 0 {
				n := min(len(eps), MaxEndpointsPerSl)
				out = append(out, DesiredSlice{AddressType: at, Ports: ports, Endpoints: eps[:n:n]})
				eps = eps[n:]
			}
		}
	}
	return out
}
