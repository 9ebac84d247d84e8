package endpointslice

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// EndpointsConfig holds what an EndpointsController needs; Client and the
// informers are required.
type EndpointsConfig struct {
	Client        kubernetes.Interface
	Services      coreinformers.ServiceInformer
	Pods          coreinformers.PodInformer
	Endpoints     coreinformers.EndpointsInformer
	Clock         clock.WithTicker
	Logger        *slog.Logger
	Workers       int
	MaxRetryDelay time.Duration
}

// EndpointsController keeps the legacy Endpoints of Services with selectors.
type EndpointsController struct {
	common
	client    kubernetes.Interface
	services  cache.SharedIndexInformer
	svcLister corelisters.ServiceLister
	pods      cache.SharedIndexInformer
	podLister corelisters.PodLister
	endpoints cache.SharedIndexInformer
	epLister  corelisters.EndpointsLister
}

// NewEndpoints builds an EndpointsController; it starts nothing.
func NewEndpoints(cfg EndpointsConfig) *EndpointsController {
	c := &EndpointsController{
		client:    cfg.Client,
		services:  cfg.Services.Informer(),
		svcLister: cfg.Services.Lister(),
		pods:      cfg.Pods.Informer(),
		podLister: cfg.Pods.Lister(),
		endpoints: cfg.Endpoints.Informer(),
		epLister:  cfg.Endpoints.Lister(),
	}
	c.init("endpoints", cfg.Clock, cfg.Logger, cfg.Workers, cfg.MaxRetryDelay)
	return c
}

// Run runs the controller until ctx ends.
func (c *EndpointsController) Run(ctx context.Context) error {
	q := ctrlutil.NewQueue[string](c.name, c.clock, minimumRetryBase, c.maxDelay)
	return c.run(ctx, q, serviceHandlers(q, c.services, c.pods, c.svcLister, c.endpoints), c.Sync)
}

// serviceHandlers enqueue a Service for its own events, its pods' and
// (if eps is not nil) its same-named Endpoints'/slices' events.
func serviceHandlers(q interface{ Add(string) }, svcs, pods cache.SharedIndexInformer, lister corelisters.ServiceLister, owned cache.SharedIndexInformer) []handler {
	hs := []handler{
		{svcs, func(o any) {
			if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
				q.Add(k)
			}
		}},
		{pods, func(o any) {
			pod, ok := o.(*corev1.Pod)
			if !ok {
				return
			}
			list, _ := lister.Services(pod.Namespace).List(labels.Everything())
			for _, k := range servicesForPod(list, pod) {
				q.Add(k)
			}
		}},
	}
	if owned != nil {
		hs = append(hs, handler{owned, func(o any) {
			m, err := metaOf(o)
			if err != nil {
				return
			}
			if n := m.GetLabels()[serviceNameLabel]; n != "" {
				q.Add(m.GetNamespace() + "/" + n)
				return
			}
			// Endpoints of a Service that is gone are not ours to
			// delete unless the Service's own deletion says so.
			if _, ok := o.(*corev1.Endpoints); ok {
				if _, err := lister.Services(m.GetNamespace()).Get(m.GetName()); err == nil {
					q.Add(m.GetNamespace() + "/" + m.GetName())
				}
			}
		}})
	}
	return hs
}

func metaOf(o any) (metav1.Object, error) {
	if m, ok := o.(metav1.Object); ok {
		return m, nil
	}
	return nil, apierrors.NewBadRequest("not an object")
}

// Sync makes the Endpoints of the Service named key match its pods.
func (c *EndpointsController) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return ctrlutil.Result{}, err
		}
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		// Someone else (or nobody) manages these Endpoints.
		return ctrlutil.Result{}, nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return ctrlutil.Result{}, err
	}
	subsets, truncated := BuildSubsets(svc, pods)
	want := serviceLabels(svc)
	cur, err := c.epLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, err
	}
	trigger := triggerTime(svc, pods)
	if cur != nil {
		sameLabels := apiequality.Semantic.DeepEqual(nonNil(cur.Labels), want)
		_, wasTruncated := cur.Annotations[OverCapacityAnno]
		if sameLabels && wasTruncated == truncated && apiequality.Semantic.DeepEqual(cur.Subsets, subsets) {
			return ctrlutil.Result{}, nil
		}
		ep := cur.DeepCopy()
		ep.Labels = want
		ep.Subsets = subsets
		setAnnotations(&ep.ObjectMeta, trigger, truncated)
		_, err := c.client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return ctrlutil.Result{Requeue: true}, nil
		}
		return ctrlutil.Result{}, err
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: want}, Subsets: subsets}
	setAnnotations(&ep.ObjectMeta, trigger, truncated)
	_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return ctrlutil.Result{Requeue: true}, nil
	}
	return ctrlutil.Result{}, err
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func setAnnotations(m *metav1.ObjectMeta, trigger time.Time, truncated bool) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	if !trigger.IsZero() {
		m.Annotations[TriggerTimeAnno] = trigger.UTC().Format(triggerTimeFormat)
	}
	if truncated {
		m.Annotations[OverCapacityAnno] = endpointsTruncated
	} else {
		delete(m.Annotations, OverCapacityAnno)
	}
}

// BuildSubsets computes the Endpoints subsets of svc from pods: addresses
// grouped by their resolved port lists, sorted, at most
// MaxEndpointsAddrs in all (truncated reports whether some were left out).
func BuildSubsets(svc *corev1.Service, pods []*corev1.Pod) (subsets []corev1.EndpointSubset, truncated bool) {
	type group struct {
		ports    []corev1.EndpointPort
		ready    []corev1.EndpointAddress
		notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, pod := range pods {
		if !includePod(pod, false) {
			continue
		}
		ips := podIPs(pod)
		ip := ips[0]
		// The legacy object has one address per pod, of the Service's
		// primary family.
		if fams := svc.Spec.IPFamilies; len(fams) > 0 {
			for _, cand := range ips {
				if string(addressType(cand)) == string(fams[0]) {
					ip = cand
					break
				}
			}
		}
		addr := corev1.EndpointAddress{IP: ip, Hostname: hostnameFor(pod, svc), TargetRef: podRef(pod)}
		if pod.Spec.NodeName != "" {
			n := pod.Spec.NodeName
			addr.NodeName = &n
		}
		var ports []corev1.EndpointPort
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
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: p, Protocol: proto, AppProtocol: sp.AppProtocol})
		}
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		if len(svc.Spec.Ports) == 0 && !headless(svc) {
			continue
		}
		sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
		k := endpointPortsKey(ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
		}
		if svc.Spec.PublishNotReadyAddresses || podReady(pod) && pod.DeletionTimestamp == nil {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	budget := MaxEndpointsAddrs
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		sortAddrs(g.ready)
		sortAddrs(g.notReady)
		if n := len(g.ready); n > budget {
			g.ready, truncated = g.ready[:budget], true
		}
		budget -= len(g.ready)
		if n := len(g.notReady); n > budget {
			g.notReady, truncated = g.notReady[:budget], true
		}
		budget -= len(g.notReady)
		if len(g.ready)+len(g.notReady) == 0 {
			continue
		}
		s := corev1.EndpointSubset{Ports: g.ports}
		if len(g.ready) > 0 {
			s.Addresses = g.ready
		}
		if len(g.notReady) > 0 {
			s.NotReadyAddresses = g.notReady
		}
		subsets = append(subsets, s)
	}
	return subsets, truncated
}

func sortAddrs(a []corev1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].IP != a[j].IP {
			return a[i].IP < a[j].IP
		}
		return a[i].TargetRef.Name < a[j].TargetRef.Name
	})
}

func endpointPortsKey(ports []corev1.EndpointPort) string {
	s := ""
	for _, p := range ports {
		s += p.Name + "/" + string(p.Protocol) + "/" + itoa(p.Port) + ";"
	}
	return s
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
