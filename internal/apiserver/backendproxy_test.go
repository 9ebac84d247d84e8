package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// fakeStore is a read-only storage.Resource over fixed objects.
type fakeStore struct {
	gr   schema.GroupResource
	objs []runtime.Object
}

var _ storage.Resource = (*fakeStore)(nil)

var errFakeReadOnly = errors.New("fakeStore is read-only")

func (f *fakeStore) Get(_ context.Context, ns, name string, _ storage.GetOptions) (runtime.Object, error) {
	for _, o := range f.objs {
		m := o.(metav1.Object)
		if m.GetNamespace() == ns && m.GetName() == name {
			return o, nil
		}
	}
	return nil, apierrors.NewNotFound(f.gr, name)
}

func (f *fakeStore) List(_ context.Context, ns string, opts storage.ListOptions) (*storage.ListResult, error) {
	out := &storage.ListResult{}
	for _, o := range f.objs {
		m := o.(metav1.Object)
		if (ns == "" || m.GetNamespace() == ns) && (opts.Label == nil || opts.Label.Matches(labels.Set(m.GetLabels()))) {
			out.Items = append(out.Items, o)
		}
	}
	return out, nil
}

func (f *fakeStore) Create(context.Context, string, string, runtime.Object) (runtime.Object, error) {
	return nil, errFakeReadOnly
}

func (f *fakeStore) Update(context.Context, string, string, storage.UpdateFunc) (runtime.Object, error) {
	return nil, errFakeReadOnly
}

func (f *fakeStore) Delete(context.Context, string, string, func(runtime.Object) error) (runtime.Object, error) {
	return nil, errFakeReadOnly
}

func (f *fakeStore) Watch(context.Context, string, storage.WatchOptions) (watch.Interface, error) {
	return nil, errFakeReadOnly
}

// bearerUser authenticates "Authorization: Bearer NAME" as user NAME.
type bearerUser struct{}

func (bearerUser) AuthenticateRequest(r *http.Request) (*auth.User, bool, error) {
	name, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false, nil
	}
	return &auth.User{Name: name, Groups: []string{auth.AllAuthenticated}}, true, nil
}

// verbAuthorizer allows the verbs in allow on every resource and records
// what it was asked.
type verbAuthorizer struct {
	allow map[string]bool

	mu  sync.Mutex // guards got
	got []auth.Attributes
}

func (a *verbAuthorizer) Authorize(_ context.Context, attrs auth.Attributes) (auth.Decision, string, error) {
	a.mu.Lock()
	a.got = append(a.got, attrs)
	a.mu.Unlock()
	if a.allow[attrs.Verb] {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// backendRequest is what a test backend saw.
type backendRequest struct {
	Method, Path, Query, Body  string
	Authorization, Impersonate string
	ForwardedURI, ForwardedFor string
	TLS                        bool
	Addr                       string // the pod or endpoint address dialled
}

// proxyFixture is an API server serving pods, services and endpoint
// slices from fixed objects, whose proxy transport dials the backends
// named by address ("10.0.0.5:8080") instead of those addresses.
type proxyFixture struct {
	api   *httptest.Server
	authz *verbAuthorizer

	mu       sync.Mutex // guards backends
	backends map[string]*httptest.Server
}

func newProxyFixture(t *testing.T, objs ...runtime.Object) *proxyFixture {
	t.Helper()
	f := &proxyFixture{backends: map[string]*httptest.Server{}, authz: &verbAuthorizer{allow: map[string]bool{"get": true, "create": true, "update": true, "patch": true, "delete": true, "": true, "impersonate": true}}}
	var infos []resources.Info
	stores := map[schema.GroupVersionKind]storage.Resource{}
	for _, info := range resources.All() {
		if info.GVK != podGVK && info.GVK != serviceGVK && info.GVK != endpointSliceGVK {
			continue
		}
		fs := &fakeStore{gr: info.GroupResource()}
		for _, o := range objs {
			if kindOf(o) == info.GVK.Kind {
				fs.objs = append(fs.objs, o)
			}
		}
		infos = append(infos, info)
		stores[info.Storage()] = fs
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		f.mu.Lock()
		b := f.backends[addr]
		f.mu.Unlock()
		if b == nil {
			return nil, fmt.Errorf("dial %s: connection refused", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, b.Listener.Addr().String())
	}
	s, err := New(Config{
		Resources: infos, Stores: stores,
		Authenticator: bearerUser{}, Authorizer: f.authz,
		ProxyTransport: &http.Transport{DialContext: dial, TLSClientConfig: proxyTLSConfig()},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.api = httptest.NewServer(s)
	t.Cleanup(f.api.Close)
	return f
}

func kindOf(o runtime.Object) string {
	switch o.(type) {
	case *corev1.Pod:
		return "Pod"
	case *corev1.Service:
		return "Service"
	case *discoveryv1.EndpointSlice:
		return "EndpointSlice"
	}
	return ""
}

// echoBackend serves at addr and answers each request with what it saw.
func (f *proxyFixture) echoBackend(t *testing.T, addr string, useTLS bool) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(backendRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
			Authorization: r.Header.Get("Authorization"), Impersonate: r.Header.Get("Impersonate-User"),
			ForwardedURI: r.Header.Get("X-Forwarded-Uri"), ForwardedFor: r.Header.Get("X-Forwarded-For"),
			TLS: r.TLS != nil, Addr: addr,
		})
	})
	f.backend(t, addr, h, useTLS)
}

func (f *proxyFixture) backend(t *testing.T, addr string, h http.Handler, useTLS bool) {
	t.Helper()
	var b *httptest.Server
	if useTLS {
		b = httptest.NewTLSServer(h)
	} else {
		b = httptest.NewServer(h)
	}
	t.Cleanup(b.Close)
	f.mu.Lock()
	f.backends[addr] = b
	f.mu.Unlock()
}

// do sends a request to the API server as user "alice".
func (f *proxyFixture) do(t *testing.T, method, path, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.api.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer alice")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// seen decodes an echo backend's answer.
func seen(t *testing.T, resp *http.Response) backendRequest {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var got backendRequest
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// statusOf decodes an API error.
func statusOf(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	var st metav1.Status
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("status %d, not a Status: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, st.Message
}

func testPod(name, ip string, ports ...int32) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	c := corev1.Container{Name: "c"}
	for _, port := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port})
	}
	p.Spec.Containers = []corev1.Container{c}
	if ip != "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	return p
}

func TestPodProxy(t *testing.T) {
	f := newProxyFixture(t,
		testPod("web", "10.0.0.5", 8080),
		testPod("noports", "10.0.0.6"),
		testPod("pending", ""),
		testPod("loop", "127.0.0.1", 8080),
	)
	f.echoBackend(t, "10.0.0.5:8080", false)
	f.echoBackend(t, "10.0.0.5:8443", true)
	f.echoBackend(t, "10.0.0.6:80", false)

	for _, tc := range []struct {
		name, method, path, body string
		want                     backendRequest
	}{
		{"path and query", "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/a/b?x=1&y=two", "",
			backendRequest{Method: "GET", Path: "/a/b", Query: "x=1&y=two", Addr: "10.0.0.5:8080"}},
		{"trailing slash kept", "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/dir/", "",
			backendRequest{Method: "GET", Path: "/dir/", Addr: "10.0.0.5:8080"}},
		{"root", "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/", "",
			backendRequest{Method: "GET", Path: "/", Addr: "10.0.0.5:8080"}},
		{"port omitted: the first container port", "GET", "/api/v1/namespaces/ns/pods/web/proxy/x", "",
			backendRequest{Method: "GET", Path: "/x", Addr: "10.0.0.5:8080"}},
		{"empty port: the first container port", "GET", "/api/v1/namespaces/ns/pods/web:/proxy/x", "",
			backendRequest{Method: "GET", Path: "/x", Addr: "10.0.0.5:8080"}},
		{"no container port: no port", "GET", "/api/v1/namespaces/ns/pods/noports/proxy/x", "",
			backendRequest{Method: "GET", Path: "/x", Addr: "10.0.0.6:80"}},
		{"https", "GET", "/api/v1/namespaces/ns/pods/https:web:8443/proxy/s", "",
			backendRequest{Method: "GET", Path: "/s", TLS: true, Addr: "10.0.0.5:8443"}},
		{"http scheme", "GET", "/api/v1/namespaces/ns/pods/http:web:8080/proxy/s", "",
			backendRequest{Method: "GET", Path: "/s", Addr: "10.0.0.5:8080"}},
		{"post body", "POST", "/api/v1/namespaces/ns/pods/web:8080/proxy/submit", "hello",
			backendRequest{Method: "POST", Path: "/submit", Body: "hello", Addr: "10.0.0.5:8080"}},
		{"put", "PUT", "/api/v1/namespaces/ns/pods/web:8080/proxy/p", "x", backendRequest{Method: "PUT", Path: "/p", Body: "x", Addr: "10.0.0.5:8080"}},
		{"patch", "PATCH", "/api/v1/namespaces/ns/pods/web:8080/proxy/p", "y", backendRequest{Method: "PATCH", Path: "/p", Body: "y", Addr: "10.0.0.5:8080"}},
		{"delete", "DELETE", "/api/v1/namespaces/ns/pods/web:8080/proxy/p", "", backendRequest{Method: "DELETE", Path: "/p", Addr: "10.0.0.5:8080"}},
		{"options", "OPTIONS", "/api/v1/namespaces/ns/pods/web:8080/proxy/p", "", backendRequest{Method: "OPTIONS", Path: "/p", Addr: "10.0.0.5:8080"}},
		{"escaped path", "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/a%20b", "", backendRequest{Method: "GET", Path: "/a b", Addr: "10.0.0.5:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := seen(t, f.do(t, tc.method, tc.path, tc.body))
			got.ForwardedURI, got.ForwardedFor, got.Authorization = "", "", ""
			if got != tc.want {
				t.Errorf("backend saw %+v; want %+v", got, tc.want)
			}
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		resp := f.do(t, "HEAD", "/api/v1/namespaces/ns/pods/web:8080/proxy/x", "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %d %q; want 200 from the backend", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("no path redirects to the root", func(t *testing.T) {
		resp := f.do(t, "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy?q=1", "")
		if got, want := resp.Header.Get("Location"), "/api/v1/namespaces/ns/pods/web:8080/proxy/?q=1"; resp.StatusCode != http.StatusMovedPermanently || got != want {
			t.Errorf("got %d Location %q; want 301 %q", resp.StatusCode, got, want)
		}
	})

	t.Run("forwarded headers, no credentials", func(t *testing.T) {
		got := seen(t, f.do(t, "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/x", "", "Impersonate-User", "alice"))
		if got.Authorization != "" || got.Impersonate != "" {
			t.Errorf("backend saw Authorization %q, Impersonate-User %q; want neither", got.Authorization, got.Impersonate)
		}
		if want := "/api/v1/namespaces/ns/pods/web:8080/proxy/x"; got.ForwardedURI != want {
			t.Errorf("X-Forwarded-Uri %q; want %q", got.ForwardedURI, want)
		}
		if got.ForwardedFor == "" {
			t.Error("no X-Forwarded-For")
		}
	})

	for _, tc := range []struct {
		name, method, path string
		code               int
		msg                string
	}{
		{"no pod IP", "GET", "/api/v1/namespaces/ns/pods/pending/proxy/", 400, "address not allowed"},
		{"loopback pod IP", "GET", "/api/v1/namespaces/ns/pods/loop/proxy/", 400, "address not allowed"},
		{"invalid id", "GET", "/api/v1/namespaces/ns/pods/a:b:c:d/proxy/", 400, `invalid pod request "a:b:c:d"`},
		{"invalid scheme", "GET", "/api/v1/namespaces/ns/pods/ftp:web:21/proxy/", 400, `invalid pod request "ftp:web:21"`},
		{"unknown pod", "GET", "/api/v1/namespaces/ns/pods/nope/proxy/", 404, `pods "nope" not found`},
		{"nothing listening", "GET", "/api/v1/namespaces/ns/pods/web:9999/proxy/", 503, "error trying to reach service: dial 10.0.0.5:9999: connection refused"},
		{"dry run", "POST", "/api/v1/namespaces/ns/pods/web:8080/proxy/?dryRun=All", 400, "dryRun is not supported"},
		{"TRACE", "TRACE", "/api/v1/namespaces/ns/pods/web:8080/proxy/", 405, `trace is not supported on resources of kind "pods"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := statusOf(t, f.do(t, tc.method, tc.path, ""))
			if code != tc.code || msg != tc.msg {
				t.Errorf("got %d %q; want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}

func testService(name string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.ServiceSpec{Type: typ, Ports: ports}}
}

type sliceEndpoint struct {
	ip    string
	pod   string // targetRef; "" for none
	ready *bool
}

func testSlice(name, service string, ports map[string]int32, eps ...sliceEndpoint) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for n, p := range ports {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(n), Port: ptr.To(p)})
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.pod != "" {
			ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: e.pod}
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

func TestServiceProxy(t *testing.T) {
	f := newProxyFixture(t,
		testPod("web-1", "10.0.0.5"),
		testPod("web-2", "10.0.0.7"),
		testService("web", corev1.ServiceTypeClusterIP,
			corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Name: "https", Port: 443}),
		testSlice("web-abc", "web", map[string]int32{"http": 8080, "https": 8443},
			sliceEndpoint{ip: "10.0.0.5", pod: "web-1"}),
		testService("single", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80}),
		testSlice("single-abc", "single", map[string]int32{"": 8080}, sliceEndpoint{ip: "10.0.0.5", pod: "web-1", ready: ptr.To(true)}),
		testService("notready", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80}),
		testSlice("notready-abc", "notready", map[string]int32{"": 8080}, sliceEndpoint{ip: "10.0.0.5", pod: "web-1", ready: ptr.To(false)}),
		testService("noref", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80}),
		testSlice("noref-abc", "noref", map[string]int32{"": 8080}, sliceEndpoint{ip: "10.0.0.5"}),
		testService("stale", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80}),
		testSlice("stale-abc", "stale", map[string]int32{"": 8080}, sliceEndpoint{ip: "10.0.0.9", pod: "web-1"}),
		testService("empty", corev1.ServiceTypeClusterIP, corev1.ServicePort{Port: 80}),
		testService("external", corev1.ServiceTypeExternalName),
	)
	f.echoBackend(t, "10.0.0.5:8080", false)
	f.echoBackend(t, "10.0.0.5:8443", true)

	for _, tc := range []struct {
		name, path string
		want       backendRequest
	}{
		{"port name", "/api/v1/namespaces/ns/services/web:http/proxy/a/b?x=1", backendRequest{Method: "GET", Path: "/a/b", Query: "x=1", Addr: "10.0.0.5:8080"}},
		{"port number", "/api/v1/namespaces/ns/services/web:80/proxy/a", backendRequest{Method: "GET", Path: "/a", Addr: "10.0.0.5:8080"}},
		{"https", "/api/v1/namespaces/ns/services/https:web:https/proxy/", backendRequest{Method: "GET", Path: "/", TLS: true, Addr: "10.0.0.5:8443"}},
		{"https by number", "/api/v1/namespaces/ns/services/https:web:443/proxy/", backendRequest{Method: "GET", Path: "/", TLS: true, Addr: "10.0.0.5:8443"}},
		{"port omitted: the unnamed one", "/api/v1/namespaces/ns/services/single/proxy/x", backendRequest{Method: "GET", Path: "/x", Addr: "10.0.0.5:8080"}},
		{"port number of the unnamed one", "/api/v1/namespaces/ns/services/single:80/proxy/x", backendRequest{Method: "GET", Path: "/x", Addr: "10.0.0.5:8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := seen(t, f.do(t, "GET", tc.path, ""))
			got.ForwardedURI, got.ForwardedFor = "", ""
			if got != tc.want {
				t.Errorf("backend saw %+v; want %+v", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, path string
		code       int
		msg        string
	}{
		{"no endpoints", "/api/v1/namespaces/ns/services/empty/proxy/", 503, `no endpoints available for service "empty"`},
		{"none ready", "/api/v1/namespaces/ns/services/notready/proxy/", 503, `no endpoints available for service "notready"`},
		{"no target pod", "/api/v1/namespaces/ns/services/noref/proxy/", 503, `no endpoints available for service "noref"`},
		{"pod no longer at the address", "/api/v1/namespaces/ns/services/stale/proxy/", 503, `no endpoints available for service "stale"`},
		{"ExternalName", "/api/v1/namespaces/ns/services/external/proxy/", 503, `no endpoints available for service "external"`},
		{"port name no slice serves", "/api/v1/namespaces/ns/services/web:metrics/proxy/", 503, `no endpoints available for service "web"`},
		{"port omitted, all named", "/api/v1/namespaces/ns/services/web/proxy/", 503, `no endpoints available for service "web"`},
		{"unknown port number", "/api/v1/namespaces/ns/services/web:81/proxy/", 503, `no service port 81 found for service "web"`},
		{"unknown service by number", "/api/v1/namespaces/ns/services/nope:80/proxy/", 404, `services "nope" not found`},
		{"unknown service by name", "/api/v1/namespaces/ns/services/nope/proxy/", 503, `no endpoints available for service "nope"`},
		{"invalid id", "/api/v1/namespaces/ns/services/a:b:c:d/proxy/", 400, `invalid service request "a:b:c:d"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := statusOf(t, f.do(t, "GET", tc.path, ""))
			if code != tc.code || msg != tc.msg {
				t.Errorf("got %d %q; want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}

func TestRandomEndpoint(t *testing.T) {
	all := func(*discoveryv1.Endpoint) bool { return true }
	ready, notReady := ptr.To(true), ptr.To(false)
	v4 := testSlice("a", "s", map[string]int32{"http": 80}, sliceEndpoint{ip: "10.0.0.1", ready: notReady}, sliceEndpoint{ip: "10.0.0.2"}, sliceEndpoint{ip: "10.0.0.3", ready: ready})
	v6 := testSlice("b", "s", map[string]int32{"http": 80}, sliceEndpoint{ip: "fd00::1"})
	v6.AddressType = discoveryv1.AddressTypeIPv6
	for _, tc := range []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		pick   int // what intn returns, modulo n
		want   string
	}{
		{"skips not ready from the first pick", []*discoveryv1.EndpointSlice{v4}, 0, "10.0.0.2:80"},
		{"a random start", []*discoveryv1.EndpointSlice{v4}, 2, "10.0.0.3:80"},
		{"wraps past the end", []*discoveryv1.EndpointSlice{v4}, 3, "10.0.0.2:80"},
		{"IPv4 before IPv6", []*discoveryv1.EndpointSlice{v6, v4}, 1, "10.0.0.2:80"},
		{"IPv6 when alone", []*discoveryv1.EndpointSlice{v6}, 0, "[fd00::1]:80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			intn := func(n int) int { return tc.pick % n }
			got, err := randomEndpoint("s", append([]*discoveryv1.EndpointSlice(nil), tc.slices...), "http", all, intn)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := randomEndpoint("s", []*discoveryv1.EndpointSlice{v4}, "http", func(*discoveryv1.Endpoint) bool { return false }, func(int) int { return 0 }); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("no valid endpoint: err %v; want ServiceUnavailable", err)
	}
}

func TestProxyAuthorization(t *testing.T) {
	f := newProxyFixture(t, testPod("web", "10.0.0.5", 8080),
		testService("svc", corev1.ServiceTypeClusterIP, corev1.ServicePort{Name: "http", Port: 80}),
		testSlice("svc-abc", "svc", map[string]int32{"http": 8080}, sliceEndpoint{ip: "10.0.0.5", pod: "web"}))
	f.echoBackend(t, "10.0.0.5:8080", false)
	f.authz.allow = map[string]bool{"get": true} // alice may get pods/proxy and services/proxy, nothing else

	for _, tc := range []struct {
		method, path string
		code         int
		verb, name   string
		msg          string
	}{
		{"GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/x", 200, "get", "web:8080", ""},
		{"HEAD", "/api/v1/namespaces/ns/pods/web:8080/proxy/x", 200, "get", "web:8080", ""},
		{"GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/x?watch=true", 200, "get", "web:8080", ""},
		{"POST", "/api/v1/namespaces/ns/pods/web:8080/proxy/x", 403, "create", "web:8080",
			`pods "web:8080" is forbidden: User "alice" cannot create resource "pods/proxy" in API group "" in the namespace "ns"`},
		{"PUT", "/api/v1/namespaces/ns/pods/web/proxy/x", 403, "update", "web", ""},
		{"PATCH", "/api/v1/namespaces/ns/pods/web/proxy/x", 403, "patch", "web", ""},
		{"DELETE", "/api/v1/namespaces/ns/pods/web/proxy/x", 403, "delete", "web", ""},
		{"OPTIONS", "/api/v1/namespaces/ns/pods/web/proxy/x", 403, "", "web", ""},
		{"GET", "/api/v1/namespaces/ns/services/https:svc:http/proxy/", 503, "get", "https:svc:http", ""},
		{"POST", "/api/v1/namespaces/ns/services/svc:http/proxy/", 403, "create", "svc:http",
			`services "svc:http" is forbidden: User "alice" cannot create resource "services/proxy" in API group "" in the namespace "ns"`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			f.authz.mu.Lock()
			f.authz.got = nil
			f.authz.mu.Unlock()
			resp := f.do(t, tc.method, tc.path, "")
			if resp.StatusCode != tc.code {
				t.Errorf("status %d; want %d", resp.StatusCode, tc.code)
			}
			if tc.msg != "" {
				if _, msg := statusOf(t, resp); msg != tc.msg {
					t.Errorf("message %q; want %q", msg, tc.msg)
				}
			}
			f.authz.mu.Lock()
			defer f.authz.mu.Unlock()
			if len(f.authz.got) != 1 {
				t.Fatalf("authorized %d times; want once", len(f.authz.got))
			}
			a := f.authz.got[0]
			if a.Verb != tc.verb || a.Subresource != "proxy" || a.Name != tc.name || a.Namespace != "ns" {
				t.Errorf("authorized %s %s/%s %q in %q; want %s %q", a.Verb, a.Resource, a.Subresource, a.Name, a.Namespace, tc.verb, tc.name)
			}
		})
	}
}

// TestProxyStreams checks that the response reaches the client while the
// backend is still writing it.
func TestProxyStreams(t *testing.T) {
	f := newProxyFixture(t, testPod("web", "10.0.0.5", 8080))
	release := make(chan struct{}) // closed when the client has read the first line
	f.backend(t, "10.0.0.5:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "second")
	}), false)
	resp := f.do(t, "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/stream", "")
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Errorf("rest %q, %v; want %q", rest, err, "second\n")
	}
}

// TestProxyUpgrade checks that an upgrade request becomes a connection
// to the backend both ways.
func TestProxyUpgrade(t *testing.T) {
	f := newProxyFixture(t, testPod("web", "10.0.0.5", 8080))
	f.backend(t, "10.0.0.5:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" || r.URL.Path != "/ws" || r.Header.Get("Authorization") != "" {
			http.Error(w, "bad upgrade request", http.StatusBadRequest)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = rw.WriteString("echo: " + line)
		_ = rw.Flush()
	}), false)

	conn, err := net.Dial("tcp", f.api.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/namespaces/ns/pods/web:8080/proxy/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	fmt.Fprintf(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Errorf("got %q, %v; want %q", line, err, "echo: hello\n")
	}
}

func TestProxyRewritesRedirects(t *testing.T) {
	f := newProxyFixture(t, testPod("web", "10.0.0.5", 8080))
	f.backend(t, "10.0.0.5:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/login/", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "https://example.com/x", http.StatusFound)
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><body><a href="/docs">docs</a></body></html>`)
		}
	}), false)
	for _, tc := range []struct{ path, want string }{
		{"/old", "/api/v1/namespaces/ns/pods/web:8080/proxy/login/"},
		{"/away", "https://example.com/x"},
	} {
		resp := f.do(t, "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy"+tc.path, "")
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || got != tc.want {
			t.Errorf("%s: got %d Location %q; want 302 %q", tc.path, resp.StatusCode, got, tc.want)
		}
	}
	b, _ := io.ReadAll(f.do(t, "GET", "/api/v1/namespaces/ns/pods/web:8080/proxy/page", "").Body)
	if want := `href="/api/v1/namespaces/ns/pods/web:8080/proxy/docs"`; !strings.Contains(string(b), want) {
		t.Errorf("page %s; want a link rewritten to %s", b, want)
	}
}

func TestProxySubpath(t *testing.T) {
	for _, tc := range []struct {
		path string
		info requestInfo
		want string
	}{
		{"/api/v1/namespaces/ns/pods/p/proxy", requestInfo{Namespace: "ns"}, ""},
		{"/api/v1/namespaces/ns/pods/p/proxy/", requestInfo{Namespace: "ns"}, ""},
		{"/api/v1/namespaces/ns/pods/p/proxy/a/b/", requestInfo{Namespace: "ns"}, "/a/b/"},
		{"/api/v1/nodes/n/proxy/stats/summary", requestInfo{}, "/stats/summary"},
		{"/apis/g/v1/namespaces/ns/things/t/proxy/x", requestInfo{Group: "g", Namespace: "ns"}, "/x"},
	} {
		if got := proxySubpath(tc.path, tc.info); got != tc.want {
			t.Errorf("%s: got %q; want %q", tc.path, got, tc.want)
		}
	}
}
