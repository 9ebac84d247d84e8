package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// hostAddress returns a global unicast IPv4 address of this host. Pods
// and service endpoints are proxied to only at such addresses (as
// upstream, never loopback), so the test's backend, standing in for a
// pod, listens there.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no global unicast IPv4 address on this host for a stand-in pod to listen on")
	return ""
}

// TestProxySubresources reaches a stand-in pod through pods/proxy and
// services/proxy with `kubectl get --raw`. With no node agent, the test
// plays its part: it binds the pod to a Node it creates, sets the pod's
// IP to this host's address, and serves HTTP there; the Service has no
// selector and an EndpointSlice the test writes.
func TestProxySubresources(t *testing.T) {
	ctx := context.Background()
	ip := hostAddress(t)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		auth := "none"
		if r.Header.Get("Authorization") != "" || r.Header.Get("Impersonate-User") != "" {
			auth = "leaked"
		}
		fmt.Fprintf(w, "%s %s?%s credentials=%s\n", r.Method, r.URL.Path, r.URL.RawQuery, auth)
	}))
	backend.Listener.Close()
	backend.Listener = l
	backend.Start()
	t.Cleanup(backend.Close)
	port := int32(l.Addr().(*net.TCPAddr).Port)

	c, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	node := "proxy-" + ns
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	var pod *corev1.Pod
	// Until the namespace's default service account exists, admission
	// refuses pods.
	eventually(t, 20*time.Second, func() (err error) {
		pod, err = c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}}},
		}, metav1.CreateOptions{})
		return err
	})
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "empty"} {
		if _, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(port)}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web"}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	base := "/api/v1/namespaces/" + ns
	p := strconv.Itoa(int(port))
	for _, tc := range []struct{ version, path, want string }{
		{"", base + "/services/web:http/proxy/hello?x=1&y=2", "GET /hello?x=1&y=2 credentials=none\n"},
		{"", base + "/services/web:80/proxy/by/number/", "GET /by/number/? credentials=none\n"},
		{"", base + "/services/http:web:http/proxy/s", "GET /s? credentials=none\n"},
		{"", base + "/pods/web:" + p + "/proxy/hi?q=1&r=two", "GET /hi?q=1&r=two credentials=none\n"},
		{"", base + "/pods/web/proxy/first-port", "GET /first-port? credentials=none\n"},
		{"1.27", base + "/pods/http:web:" + p + "/proxy/old", "GET /old? credentials=none\n"},
		{"1.33", base + "/services/web:http/proxy/new", "GET /new? credentials=none\n"},
	} {
		if got := mustKubectl(t, tc.version, "get", "--raw", tc.path); got != tc.want {
			t.Errorf("kubectl%s get --raw %s: got %q; want %q", tc.version, tc.path, got, tc.want)
		}
	}

	for _, tc := range []struct{ path, want string }{
		{base + "/services/empty:http/proxy/", `Error from server (ServiceUnavailable): no endpoints available for service "empty"`},
		{base + "/services/web:81/proxy/", `Error from server (ServiceUnavailable): no service port 81 found for service "web"`},
		{base + "/pods/nope/proxy/", `Error from server (NotFound): pods "nope" not found`},
	} {
		r := kubectl(t, "", "get", "--raw", tc.path)
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("kubectl get --raw %s: %s; want it to fail with %q", tc.path, r, tc.want)
		}
	}

	// A user who may get pods/proxy but not create: GET goes through,
	// POST is refused, and the backend never sees who asked.
	mustKubectl(t, "", "create", "role", "proxy-get", "--verb=get", "--resource=pods/proxy", "-n", ns)
	mustKubectl(t, "", "create", "rolebinding", "proxy-get", "--role=proxy-get", "--user=proxy-reader", "-n", ns)
	path := base + "/pods/web:" + p + "/proxy/as-reader"
	if got, want := mustKubectl(t, "", "--as=proxy-reader", "get", "--raw", path), "GET /as-reader? credentials=none\n"; got != want {
		t.Errorf("get as proxy-reader: got %q; want %q", got, want)
	}
	r := kubectlWith(t, "", cmdOpts{stdin: "{}"}, "--as=proxy-reader", "create", "--raw", path, "-f", "-")
	want := fmt.Sprintf(`pods "web:%s" is forbidden: User "proxy-reader" cannot create resource "pods/proxy" in API group "" in the namespace %q`, p, ns)
	if r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("create as proxy-reader: %s; want it refused with %q", r, want)
	}
	if got, want := mustStdin(t, "", "{}", "create", "--raw", path), "POST /as-reader? credentials=none\n"; got != want {
		t.Errorf("create as admin: got %q; want %q", got, want)
	}
}
