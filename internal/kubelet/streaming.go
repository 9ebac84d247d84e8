package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exec, attach and port-forward: the agent asks the runtime for a
// streaming URL (CRI Exec, Attach, PortForward) and proxies the client's
// upgraded connection to it, so SPDY or WebSocket is negotiated between
// the client and the runtime's streaming server end to end.

// errNotFound marks lookups of pods and containers the runtime does not
// have; it is answered with 404.
var errNotFound = errors.New("not found")

// sandboxFor returns the newest sandbox of pod namespace/name (of the
// given UID when uid is not empty), preferring a ready one.
func (s *Server) sandboxFor(ctx context.Context, namespace, name, uid string) (*runtimeapi.PodSandbox, error) {
	sel := map[string]string{labelManagedBy: managedByValue, labelPodNamespace: namespace, labelPodName: name}
	if uid != "" {
		sel[labelPodUID] = uid
	}
	resp, err := s.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, err
	}
	items := resp.Items
	if len(items) == 0 {
		return nil, fmt.Errorf("pod %q in namespace %q: %w", name, namespace, errNotFound)
	}
	sort.Slice(items, func(i, j int) bool {
		ri, rj := items[i].State == runtimeapi.PodSandboxState_SANDBOX_READY, items[j].State == runtimeapi.PodSandboxState_SANDBOX_READY
		if ri != rj {
			return ri
		}
		return items[i].CreatedAt > items[j].CreatedAt
	})
	return items[0], nil
}

// containersFor returns the pod's containers named container, newest
// first.
func (s *Server) containersFor(ctx context.Context, sb *runtimeapi.PodSandbox, container string) ([]*runtimeapi.Container, error) {
	resp, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{labelManagedBy: managedByValue, labelPodUID: sb.Labels[labelPodUID], labelContainer: container},
	}})
	if err != nil {
		return nil, err
	}
	cs := resp.Containers
	sort.Slice(cs, func(i, j int) bool {
		if ai, aj := cs[i].Metadata.GetAttempt(), cs[j].Metadata.GetAttempt(); ai != aj {
			return ai > aj
		}
		return cs[i].CreatedAt > cs[j].CreatedAt
	})
	return cs, nil
}

// runningContainer returns the ID of the running container named by the
// request's path.
func (s *Server) runningContainer(r *http.Request) (string, error) {
	ns, pod, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	sb, err := s.sandboxFor(r.Context(), ns, pod, r.PathValue("uid"))
	if err != nil {
		return "", err
	}
	cs, err := s.containersFor(r.Context(), sb, name)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 || cs[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return "", fmt.Errorf("container %q in pod %q is not running: %w", name, pod, errNotFound)
	}
	return cs[0].Id, nil
}

// streamOptions are the stdin, stdout, stderr and tty query parameters of
// exec and attach requests.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

func parseStreamOptions(q url.Values) (streamOptions, error) {
	var o streamOptions
	for name, p := range map[string]*bool{"stdin": &o.stdin, "stdout": &o.stdout, "stderr": &o.stderr, "tty": &o.tty} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("invalid %s parameter %q", name, v)
			}
			*p = b
		}
	}
	if o.tty {
		// A terminal merges stderr into stdout.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	opts, err := parseStreamOptions(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	id, err := s.runningContainer(r)
	if err != nil {
		s.lookupError(w, err)
		return
	}
	resp, err := s.cfg.Runtime.Exec(r.Context(), &runtimeapi.ExecRequest{
		ContainerId: id, Cmd: cmd, Tty: opts.tty, Stdin: opts.stdin, Stdout: opts.stdout, Stderr: opts.stderr,
	})
	if err != nil {
		http.Error(w, "exec: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	opts, err := parseStreamOptions(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, err := s.runningContainer(r)
	if err != nil {
		s.lookupError(w, err)
		return
	}
	resp, err := s.cfg.Runtime.Attach(r.Context(), &runtimeapi.AttachRequest{
		ContainerId: id, Tty: opts.tty, Stdin: opts.stdin, Stdout: opts.stdout, Stderr: opts.stderr,
	})
	if err != nil {
		http.Error(w, "attach: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	sb, err := s.sandboxFor(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("uid"))
	if err == nil && sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		err = fmt.Errorf("pod %q has no running sandbox: %w", r.PathValue("pod"), errNotFound)
	}
	if err != nil {
		s.lookupError(w, err)
		return
	}
	// The ports travel in stream headers (SPDY) or the "ports" query
	// parameter (WebSocket); the runtime needs none up front.
	var ports []int32
	for _, p := range r.URL.Query()["ports"] {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			http.Error(w, fmt.Sprintf("invalid port %q", p), http.StatusBadRequest)
			return
		}
		ports = append(ports, int32(n))
	}
	resp, err := s.cfg.Runtime.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sb.Id, Port: ports})
	if err != nil {
		http.Error(w, "port-forward: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

func (s *Server) lookupError(w http.ResponseWriter, err error) {
	if errors.Is(err, errNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// proxyStream proxies the upgrade request r to the runtime's streaming
// URL and copies the connection both ways until either side closes.
func (s *Server) proxyStream(w http.ResponseWriter, r *http.Request, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		http.Error(w, "streaming URL: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := proxy.NewUpgradeAwareHandler(u, nil, false, true, errorResponder{s})
	h.ServeHTTP(w, r)
}

// errorResponder answers a failed proxy with 500.
type errorResponder struct{ s *Server }

func (e errorResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	e.s.log.Warn("proxying a stream", "path", r.URL.Path, "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
