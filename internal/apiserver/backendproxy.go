package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	netutils "k8s.io/utils/net"

	"github.com/skiff-sh/skiff/internal/storage"
)

// pods/proxy and services/proxy: the API server as an HTTP proxy to a pod
// or to one endpoint of a Service, as upstream.
//
//	/api/v1/namespaces/NS/pods/[SCHEME:]NAME[:PORT]/proxy[/PATH]
//	/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy[/PATH]
//
// SCHEME is http (the default) or https; the backend's certificate is not
// verified, since it is reached by IP. Every method but CONNECT and TRACE
// is proxied; the verb authorized is the method's (requestinfo.go), on the
// name as written, port and scheme included.
//
// A pod is reached at its first status.podIPs address, which must be a
// global unicast address ("address not allowed" otherwise, as for a pod
// with no IP yet); an omitted port is the first declared container port,
// or none. A Service is reached at a random ready endpoint of its
// EndpointSlices (label kubernetes.io/service-name) that serves the port:
// PORT is a service port name, or a number, which names the service port
// with that number; omitted, it is the unnamed port. As upstream, only
// endpoints whose targetRef is a pod of the namespace holding that address
// are used, and a Service without such endpoints, ExternalName Services
// included, is 503 `no endpoints available for service "NAME"`.
//
// The handler is apimachinery's UpgradeAwareHandler, as upstream's: the
// response streams (flushed at once when chunked, every 200ms otherwise),
// hop-by-hop headers are dropped, X-Forwarded-* headers are set, Location
// headers and links in HTML bodies are rewritten to go through the proxy
// again, CORS headers of the backend are dropped, and upgrade requests
// (WebSocket) are proxied on a hijacked connection. A GET of .../proxy
// with no path is redirected to .../proxy/. The user's credentials never
// reach the backend: ServeHTTP drops them once used (authz.go).

// proxyMethods are the methods proxied by pods/proxy and services/proxy.
var proxyMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

var (
	serviceGVK       = corev1.SchemeGroupVersion.WithKind("Service")
	endpointSliceGVK = discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")
)

// newProxyTransport is the transport to pods and service endpoints. It
// does not verify certificates: backends are addressed by IP, as
// upstream's proxy transport does.
func newProxyTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSClientConfig:       proxyTLSConfig(),
		ExpectContinueTimeout: time.Second,
	}
}

func proxyTLSConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // backends are reached by IP; see above
}

// backendProxy serves pods/NAME/proxy and services/NAME/proxy.
func (s *APIServer) backendProxy(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	if !proxyMethods[r.Method] {
		writeError(w, r, methodNotSupported(res, strings.ToLower(r.Method)))
		return
	}
	if r.URL.Query().Has("dryRun") {
		writeError(w, r, apierrors.NewBadRequest("dryRun is not supported"))
		return
	}
	objs := storeObjects{s}
	var loc *url.URL
	var err error
	if res.info.GVK == podGVK {
		loc, err = podLocation(r.Context(), objs, info.Namespace, info.Name)
	} else {
		loc, err = serviceLocation(r.Context(), objs, info.Namespace, info.Name, rand.IntN)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	loc.Path = utilnet.JoinPreservingTrailingSlash(loc.Path, proxySubpath(r.URL.Path, info))
	h := proxy.NewUpgradeAwareHandler(loc, s.cfg.ProxyTransport, true, false, backendResponder{})
	h.ServeHTTP(w, r)
}

// proxySubpath returns the part of path after NAME/proxy: "" or "/PATH",
// with PATH's trailing slash kept.
func proxySubpath(path string, info requestInfo) string {
	n := 2 // api, v1
	if info.Group != "" {
		n = 3 // apis, group, version
	}
	if info.Namespace != "" {
		n += 2 // namespaces, NS
	}
	n += 3 // resource, NAME, proxy
	parts := splitPath(path)
	if len(parts) <= n {
		return ""
	}
	p := "/" + strings.Join(parts[n:], "/")
	if strings.HasSuffix(path, "/") && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// backendObjects reads what pods/proxy and services/proxy route by.
// Returned objects may be shared with the storage cache: callers must not
// mutate them.
type backendObjects interface {
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Service(ctx context.Context, namespace, name string) (*corev1.Service, error)
	// EndpointSlices returns the slices labelled
	// kubernetes.io/service-name=service; the returned slice is the
	// caller's own.
	EndpointSlices(ctx context.Context, namespace, service string) ([]*discoveryv1.EndpointSlice, error)
}

// storeObjects reads them from the API server's storage.
type storeObjects struct{ s *APIServer }

var _ backendObjects = storeObjects{}

func (o storeObjects) get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (runtime.Object, error) {
	res := o.s.resourceFor(gvk)
	if res == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("%s is not served", gvk.Kind))
	}
	return res.store.Get(ctx, namespace, name, storage.GetOptions{})
}

func (o storeObjects) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	obj, err := o.get(ctx, podGVK, namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

func (o storeObjects) Service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	obj, err := o.get(ctx, serviceGVK, namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Service), nil
}

func (o storeObjects) EndpointSlices(ctx context.Context, namespace, service string) ([]*discoveryv1.EndpointSlice, error) {
	res := o.s.resourceFor(endpointSliceGVK)
	if res == nil {
		return nil, nil
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service})
	list, err := res.store.List(ctx, namespace, storage.ListOptions{Label: sel})
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(list.Items))
	for _, item := range list.Items {
		if es, ok := item.(*discoveryv1.EndpointSlice); ok {
			out = append(out, es)
		}
	}
	return out, nil
}

// podLocation returns where pods/ID/proxy goes: SCHEME://PODIP[:PORT].
func podLocation(ctx context.Context, objs backendObjects, namespace, id string) (*url.URL, error) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(id)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	pod, err := objs.Pod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	var podIP string
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	// Only pod addresses: never the API server's own loopback or a
	// link-local metadata service.
	if ip := netutils.ParseIPSloppy(podIP); ip == nil || !ip.IsGlobalUnicast() {
		return nil, apierrors.NewBadRequest("address not allowed")
	}
	host := podIP
	if port != "" {
		host = net.JoinHostPort(podIP, port)
	} else if strings.Contains(podIP, ":") {
		host = "[" + podIP + "]"
	}
	return &url.URL{Scheme: scheme, Host: host}, nil
}

// serviceLocation returns where services/ID/proxy goes:
// SCHEME://ADDRESS:TARGETPORT of a random ready endpoint. intn is
// rand.IntN, or a fixed choice in tests.
func serviceLocation(ctx context.Context, objs backendObjects, namespace, id string, intn func(int) int) (*url.URL, error) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(id)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	if num, err := strconv.ParseInt(port, 10, 64); err == nil {
		// A number names the service port with that number; slices
		// name their ports as the Service does.
		svc, err := objs.Service(ctx, namespace, name)
		if err != nil {
			return nil, err
		}
		found := false
		for _, sp := range svc.Spec.Ports {
			if int64(sp.Port) == num {
				port, found = sp.Name, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", num, name))
		}
	}
	slices, err := objs.EndpointSlices(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	valid := func(ep *discoveryv1.Endpoint) bool { return podEndpoint(ctx, objs, namespace, ep) }
	hostPort, err := randomEndpoint(name, slices, port, valid, intn)
	if err != nil {
		return nil, err
	}
	return &url.URL{Scheme: scheme, Host: hostPort}, nil
}

// podEndpoint reports whether ep is a pod of namespace that holds ep's
// address: upstream proxies only to pods, never to an address an
// EndpointSlice writer chose.
func podEndpoint(ctx context.Context, objs backendObjects, namespace string, ep *discoveryv1.Endpoint) bool {
	ref := ep.TargetRef
	if ref == nil || ref.Namespace != namespace || len(ep.Addresses) == 0 {
		return false
	}
	pod, err := objs.Pod(ctx, namespace, ref.Name)
	if err != nil {
		return false
	}
	for _, ip := range pod.Status.PodIPs {
		if ip.IP == ep.Addresses[0] {
			return true
		}
	}
	return false
}

// randomEndpoint picks HOST:PORT of a ready endpoint serving the service
// port named portName: the slices in random order, IPv4 ones first (the
// cluster's primary family), then from a random endpoint of the first
// slice with one. slices is reordered. Not ready means
// conditions.ready=false; unset is ready.
func randomEndpoint(service string, slices []*discoveryv1.EndpointSlice, portName string, valid func(*discoveryv1.Endpoint) bool, intn func(int) int) (string, error) {
	for i := len(slices) - 1; i > 0; i-- {
		j := intn(i + 1)
		slices[i], slices[j] = slices[j], slices[i]
	}
	sort.SliceStable(slices, func(i, j int) bool {
		return slices[i].AddressType == discoveryv1.AddressTypeIPv4 && slices[j].AddressType != discoveryv1.AddressTypeIPv4
	})
	for _, es := range slices {
		for _, p := range es.Ports {
			if p.Name == nil || *p.Name != portName || p.Port == nil || len(es.Endpoints) == 0 {
				continue
			}
			start := intn(len(es.Endpoints))
			for k := range es.Endpoints {
				ep := &es.Endpoints[(start+k)%len(es.Endpoints)]
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 || !valid(ep) {
					continue
				}
				return net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(*p.Port))), nil
			}
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", service))
}

// backendResponder reports a failed proxy as upstream does: the proxy
// transport's errors are already 503 Status values ("error trying to
// reach service: ..."); others, from a failed upgrade, are 500.
type backendResponder struct{}

func (backendResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err)
}
