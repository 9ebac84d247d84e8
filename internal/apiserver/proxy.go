package apiserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/skiff-sh/skiff/internal/storage"
)

// Subresources served by the node agent: the API server finds the pod's
// node and proxies the request to the agent's HTTPS server
// (status.daemonEndpoints.kubeletEndpoint on the node's address).
//
//	pods/log          GET  → /containerLogs/NS/POD/CONTAINER, streamed
//	pods/exec         GET, POST (upgrade) → /exec/NS/POD/CONTAINER
//	pods/attach       GET, POST (upgrade) → /attach/NS/POD/CONTAINER
//	pods/portforward  GET, POST (upgrade) → /portForward/NS/POD
//	nodes/NAME/proxy/PATH  any method → /PATH
//
// SPDY/3.1 upgrades are proxied as they are: the client and the container
// runtime's streaming server negotiate the protocol end to end. The
// WebSocket protocols of kubectl 1.30+ are bridged to SPDY by the API
// server (streamtranslate.go).
//
// The API server authenticates to agents with Config.KubeletClientCert
// and, like upstream without --kubelet-certificate-authority, does not
// verify agents' serving certificates.

// KubeletClient is how the API server reaches node agents.
type KubeletClient struct {
	// Cert is the API server's client certificate; agents authorize its
	// user through SubjectAccessReviews (nodes/proxy).
	Cert tls.Certificate
	// DefaultPort is used when a Node publishes no kubelet port (10250).
	DefaultPort int

	once sync.Once
	rt   *http.Transport // made once, shared by every request
}

// transport returns the transport to node agents.
func (c *KubeletClient) transport() *http.Transport {
	c.once.Do(func() { c.rt = c.newTransport() })
	return c.rt
}

func (c *KubeletClient) newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSClientConfig:       c.tlsConfig(),
	}
}

// tlsConfig is how the API server connects to agents.
func (c *KubeletClient) tlsConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.Cert},
		// Agents' serving certificates are self-signed; see above.
		InsecureSkipVerify: true, //nolint:gosec
		MinVersion:         tls.VersionTLS12,
	}
}

// connectSubresources are served by node agents, but for pods/proxy and
// services/proxy, which go to the pod or a service endpoint itself
// (backendproxy.go).
var connectSubresources = map[string]bool{"log": true, "exec": true, "attach": true, "portforward": true, "proxy": true}

var (
	podGVK  = corev1.SchemeGroupVersion.WithKind("Pod")
	nodeGVK = corev1.SchemeGroupVersion.WithKind("Node")
)

// connect serves the subresources proxied to node agents.
func (s *APIServer) connect(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	if info.Subresource == "proxy" && (res.info.GVK == podGVK || res.info.GVK == serviceGVK) {
		s.backendProxy(w, r, info, res)
		return
	}
	if s.cfg.Kubelet == nil {
		writeError(w, r, apierrors.NewServiceUnavailable("this API server has no client for node agents"))
		return
	}
	switch {
	case info.Subresource == "log" && info.Verb == "get":
		s.podLog(w, r, info, res)
	case (info.Subresource == "exec" || info.Subresource == "attach" || info.Subresource == "portforward") && (info.Verb == "get" || info.Verb == "create"):
		s.podStream(w, r, info, res)
	case info.Subresource == "proxy" && res.info.GVK == nodeGVK:
		s.nodeProxy(w, r, info)
	default:
		writeError(w, r, methodNotSupported(res, info.Verb))
	}
}

// getPod reads the pod named by info.
func (s *APIServer) getPod(r *http.Request, info requestInfo, res *resource) (*corev1.Pod, error) {
	obj, err := res.store.Get(r.Context(), info.Namespace, info.Name, storage.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// kubeletURL returns https://ADDRESS:PORT of the node's agent.
func (s *APIServer) kubeletURL(r *http.Request, nodeName string) (*url.URL, error) {
	nodes := s.resourceFor(nodeGVK)
	if nodes == nil {
		return nil, apierrors.NewServiceUnavailable("nodes are not served")
	}
	obj, err := nodes.store.Get(r.Context(), "", nodeName, storage.GetOptions{})
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	var host string
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", nodeName))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = s.cfg.Kubelet.DefaultPort
	}
	if port <= 0 {
		port = 10250
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// podContainer returns the container a pods/log, exec or attach request
// names, defaulting to the only one; upstream's messages otherwise.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch {
		case len(pod.Spec.Containers) == 1:
			return pod.Spec.Containers[0].Name, nil
		case pod.Annotations["kubectl.kubernetes.io/default-container"] != "":
			name = pod.Annotations["kubectl.kubernetes.io/default-container"]
		default:
			var names, inits []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
			for _, c := range pod.Spec.InitContainers {
				inits = append(inits, c.Name)
			}
			if len(inits) > 0 {
				msg += fmt.Sprintf(" or one of the init containers: %v", inits)
			}
			return "", apierrors.NewBadRequest(msg)
		}
	}
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == name {
				return name, nil
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// waitingMessage is upstream's refusal of the log of a container that has
// not started, or "".
func waitingMessage(pod *corev1.Pod, name string) string {
	all := append(append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...), pod.Status.EphemeralContainerStatuses...)
	for _, st := range all {
		if st.Name != name {
			continue
		}
		if st.State.Waiting != nil && st.State.Running == nil && st.State.Terminated == nil && st.LastTerminationState.Terminated == nil {
			return fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, pod.Name, st.State.Waiting.Reason)
		}
		return ""
	}
	return fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", name, pod.Name)
}

// logParams are the pods/log query parameters passed to the agent.
var logParams = []string{"follow", "previous", "timestamps", "tailLines", "limitBytes", "sinceSeconds", "sinceTime"}

// podLog serves GET pods/NAME/log: the container's output as text/plain,
// streamed while the agent writes it.
func (s *APIServer) podLog(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	q := r.URL.Query()
	if err := validateLogQuery(q); err != nil {
		writeError(w, r, err)
		return
	}
	pod, err := s.getPod(r, info, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	container, err := podContainer(pod, q.Get("container"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if pod.Spec.NodeName == "" {
		// Not scheduled: nothing has run, so there is no output.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		return
	}
	if previous, _ := strconv.ParseBool(q.Get("previous")); !previous {
		if msg := waitingMessage(pod, container); msg != "" {
			writeError(w, r, apierrors.NewBadRequest(msg))
			return
		}
	}
	loc, err := s.kubeletURL(r, pod.Spec.NodeName)
	if err != nil {
		writeError(w, r, err)
		return
	}
	loc.Path = "/containerLogs/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(container)
	out := url.Values{}
	for _, p := range logParams {
		if v := q.Get(p); v != "" {
			out.Set(p, v)
		}
	}
	loc.RawQuery = out.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := (&http.Client{Transport: s.cfg.Kubelet.transport()}).Do(req)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(fmt.Errorf("reading the log from node %s: %w", pod.Spec.NodeName, err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		writeError(w, r, kubeletError(resp.StatusCode, pod.Name, strings.TrimSpace(string(body))))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// kubeletError turns the agent's refusal of a log request into the API
// error upstream's response checker makes of it: the agent's message as
// is for 400 (kubectl shows `previous terminated container "c" in pod "p"
// not found`) and 500, a generic status naming the pod otherwise.
func kubeletError(code int, pod, body string) error {
	switch code {
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(body)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(body))
	}
	return apierrors.NewGenericServerResponse(code, "", schema.GroupResource{Resource: "pods/log"}, pod, body, 0, false)
}

// validateLogQuery checks pods/log parameters as upstream's validation.
func validateLogQuery(q url.Values) error {
	for _, p := range []string{"follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend"} {
		if v := q.Get(p); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				return apierrors.NewBadRequest(fmt.Sprintf("invalid %s parameter %q", p, v))
			}
		}
	}
	for p, min := range map[string]int64{"tailLines": 0, "limitBytes": 1, "sinceSeconds": 1} {
		if v := q.Get(p); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return apierrors.NewBadRequest(fmt.Sprintf("invalid %s parameter %q", p, v))
			}
			if n < min {
				return apierrors.NewBadRequest(fmt.Sprintf("%s: Invalid value: %d: must be greater than or equal to %d", p, n, min))
			}
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid sinceTime parameter %q", v))
		}
		if q.Get("sinceSeconds") != "" {
			return apierrors.NewBadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
		}
	}
	return nil
}

// podStream serves pods/exec, pods/attach and pods/portforward: the
// upgrade request is proxied to the pod's agent as it is.
func (s *APIServer) podStream(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	pod, err := s.getPod(r, info, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	var path string
	switch info.Subresource {
	case "portforward":
		path = "/portForward/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name)
	default:
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("cannot %s into a container in a completed pod; current phase is %s", info.Subresource, pod.Status.Phase)))
			return
		}
		container, err := podContainer(pod, q.Get("container"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if info.Subresource == "exec" && len(q["command"]) == 0 {
			writeError(w, r, apierrors.NewBadRequest("you must specify at least one command for the container"))
			return
		}
		path = "/" + info.Subresource + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(container)
	}
	if pod.Spec.NodeName == "" {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)))
		return
	}
	loc, err := s.kubeletURL(r, pod.Spec.NodeName)
	if err != nil {
		writeError(w, r, err)
		return
	}
	loc.Path = path
	q.Del("container")
	loc.RawQuery = q.Encode()
	if translatable(r, info.Subresource) {
		if info.Subresource == "portforward" {
			s.tunnelPortForward(w, r, loc)
		} else {
			s.translateRemoteCommand(w, r, loc)
		}
		return
	}
	h := proxy.NewUpgradeAwareHandler(loc, s.cfg.Kubelet.transport(), false, true, proxyResponder{})
	h.ServeHTTP(w, r)
}

// nodeProxy serves nodes/NAME/proxy/PATH: any request, proxied to the
// node agent's PATH.
func (s *APIServer) nodeProxy(w http.ResponseWriter, r *http.Request, info requestInfo) {
	loc, err := s.kubeletURL(r, info.Name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	prefix := "/api/v1/nodes/" + info.Name + "/proxy"
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	loc.Path = rest
	h := proxy.NewUpgradeAwareHandler(loc, s.cfg.Kubelet.transport(), false, false, proxyResponder{})
	h.ServeHTTP(w, r)
}

// proxyResponder reports a failed proxy as upstream's 503-like error
// Status.
type proxyResponder struct{}

func (proxyResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		err = apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach the node agent: %v", err))
	}
	writeError(w, r, err)
}
