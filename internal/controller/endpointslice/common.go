package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// Labels, annotations and limits, as in Kubernetes.
const (
	ManagedBy          = "endpointslice-controller.k8s.io"
	MirrorManagedBy    = "endpointslicemirroring-controller.k8s.io"
	SkipMirrorLabel    = "endpointslice.kubernetes.io/skip-mirror"
	HeadlessLabel      = "service.kubernetes.io/headless"
	TriggerTimeAnno    = "endpoints.kubernetes.io/last-change-trigger-time"
	OverCapacityAnno   = "endpoints.kubernetes.io/over-capacity"
	MaxEndpointsPerSl  = 100
	MaxEndpointsAddrs  = 1000
	zoneLabel          = "topology.kubernetes.io/zone"
	controllerWorkers  = 3
	defaultMaxDelay    = 30 * time.Second
	minimumRetryBase   = 5 * time.Millisecond
	serviceNameLabel   = discoveryv1.LabelServiceName
	managedByLabel     = discoveryv1.LabelManagedBy
	triggerTimeFormat  = time.RFC3339Nano
	endpointsTruncated = "truncated"
)

// common is what the three controllers share.
type common struct {
	name     string
	clock    clock.WithTicker
	log      *slog.Logger
	workers  int
	maxDelay time.Duration
}

func (c *common) init(name string, clk clock.WithTicker, log *slog.Logger, workers int, maxDelay time.Duration) {
	c.name = name
	c.clock, c.log, c.workers, c.maxDelay = clk, log, workers, maxDelay
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", name)
	if c.workers <= 0 {
		c.workers = controllerWorkers
	}
	if c.maxDelay <= 0 {
		c.maxDelay = defaultMaxDelay
	}
}

// handler is one informer and what to do with its events.
type handler struct {
	inf cache.SharedIndexInformer
	fn  func(obj any)
}

// run adds the handlers, waits for the caches and runs the workers.
func (c *common) run(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], hs []handler, sync ctrlutil.SyncFunc[string]) error {
	synced := []cache.InformerSynced{}
	for _, h := range hs {
		fn := h.fn
		reg, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    fn,
			UpdateFunc: func(_, o any) { fn(o) },
			DeleteFunc: func(o any) {
				if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
					o = tomb.Obj
				}
				fn(o)
			},
		})
		if err != nil {
			return err
		}
		defer func(inf cache.SharedIndexInformer) { _ = inf.RemoveEventHandler(reg) }(h.inf)
		synced = append(synced, h.inf.HasSynced, reg.HasSynced)
	}
	if !cache.WaitForNamedCacheSync(c.name, ctx.Done(), synced...) {
		return ctx.Err()
	}
	c.log.Info("started", "workers", c.workers)
	ctrlutil.RunWorkers(ctx, c.log, q, c.workers, sync)
	return nil
}

// servicesForPod lists the keys of the Services in the pod's namespace
// whose selector matches it.
func servicesForPod(svcs []*corev1.Service, pod *corev1.Pod) []string {
	var out []string
	for _, s := range svcs {
		if s.Namespace != pod.Namespace || s.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			out = append(out, s.Namespace+"/"+s.Name)
		}
	}
	return out
}

// includePod reports whether pod belongs in a Service's endpoints at all:
// it has an IP, has not finished, and (unless terminating pods are
// included) is not being deleted.
func includePod(pod *corev1.Pod, includeTerminating bool) bool {
	if len(podIPs(pod)) == 0 {
		return false
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// podReady reports whether the pod's Ready condition is True.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIPs lists the pod's IPs.
func podIPs(pod *corev1.Pod) []string {
	var out []string
	for _, ip := range pod.Status.PodIPs {
		if ip.IP != "" {
			out = append(out, ip.IP)
		}
	}
	if len(out) == 0 && pod.Status.PodIP != "" {
		out = append(out, pod.Status.PodIP)
	}
	return out
}

// addressType is the EndpointSlice address type of ip ("" if unparsable).
func addressType(ip string) discoveryv1.AddressType {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ""
	case a.Is4() || a.Is4In6():
		return discoveryv1.AddressTypeIPv4
	default:
		return discoveryv1.AddressTypeIPv6
	}
}

// resolvePort finds the container port a Service port targets on pod: a
// number is used as is, a name is looked up among the containers' ports
// with the same protocol. ok is false when a name does not resolve.
func resolvePort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				want := sp.Protocol
				if want == "" {
					want = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && proto == want {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return tp.IntVal, true
	}
	return sp.Port, true
}

// hostnameFor is the DNS hostname a pod gets under svc: its
// spec.hostname when its subdomain is the Service.
func hostnameFor(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

func headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// serviceLabels are the labels a Service's endpoints objects carry: the
// Service's own, plus the headless marker.
func serviceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		out[k] = v
	}
	if headless(svc) {
		out[HeadlessLabel] = ""
	} else {
		delete(out, HeadlessLabel)
	}
	return out
}

// triggerTime is the newest change among svc and pods that the endpoints
// reflect: creation times, deletion times and Ready transitions.
func triggerTime(svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t := svc.CreationTimestamp.Time
	for _, p := range pods {
		if p.CreationTimestamp.After(t) {
			t = p.CreationTimestamp.Time
		}
		if p.DeletionTimestamp != nil && p.DeletionTimestamp.After(t) {
			t = p.DeletionTimestamp.Time
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.LastTransitionTime.After(t) {
				t = c.LastTransitionTime.Time
			}
		}
	}
	return t
}

func podRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// portsKey names a resolved port list for grouping.
func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		name, proto, port := "", "", int32(0)
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		if p.Port != nil {
			port = *p.Port
		}
		fmt.Fprintf(&b, "%s/%s/%d;", name, proto, port)
	}
	return b.String()
}
