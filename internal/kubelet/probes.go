package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// probeSet runs the probes of one pod's containers, one goroutine per
// probe, and keeps their results. The worker reads results; probe
// goroutines write them and wake the worker when one changes.
type probeSet struct {
	wake func()
	// podIP holds the pod's address (string), set by the worker.
	podIP atomic.Value
	// cancel stops every probe goroutine; wg waits for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the maps; keys are container IDs.
	mu        sync.Mutex
	isStarted map[string]bool
	isReady   map[string]bool
	liveFail  map[string]bool
	// running holds a cancel func per container whose probes run.
	running map[string]context.CancelFunc
}

func newProbeSet(wake func()) *probeSet {
	ctx, cancel := context.WithCancel(context.Background())
	return &probeSet{
		wake: wake, ctx: ctx, cancel: cancel,
		isStarted: map[string]bool{}, isReady: map[string]bool{}, liveFail: map[string]bool{}, running: map[string]context.CancelFunc{},
	}
}

// stop ends every probe and waits for them. Safe to call twice.
func (p *probeSet) stop() {
	p.cancel()
	p.wg.Wait()
}

func (p *probeSet) started(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.isStarted[id]
	return !ok || s
}

func (p *probeSet) ready(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.isReady[id]
	return !ok || r
}

func (p *probeSet) livenessFailed(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.liveFail[id]
}

// nextRequeue: probes wake the worker themselves.
func (p *probeSet) nextRequeue() time.Duration { return 0 }

// startProbes starts the probes of a container that just started; it
// also registers its initial results (not started, not ready) so status
// is right before the first probe runs.
func (w *podWorker) startProbes(pod *corev1.Pod, c *corev1.Container, id string) {
	if c.StartupProbe == nil && c.ReadinessProbe == nil && c.LivenessProbe == nil {
		return
	}
	if w.probes == nil {
		w.probes = newProbeSet(w.signal)
	}
	p := w.probes
	p.mu.Lock()
	if _, ok := p.running[id]; ok {
		p.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.running[id] = cancel
	if c.StartupProbe != nil {
		p.isStarted[id] = false
	}
	if c.ReadinessProbe != nil {
		p.isReady[id] = false
	}
	p.mu.Unlock()
	pr := w.k.prober(pod, c, id)
	pr.ip = func() string { s, _ := p.podIP.Load().(string); return s }
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.runContainer(ctx, pr, c)
	}()
}

// forget stops the probes of containers not in alive and drops their
// results.
func (p *probeSet) forget(alive map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, cancel := range p.running {
		if !alive[id] {
			cancel()
			delete(p.running, id)
			delete(p.isStarted, id)
			delete(p.isReady, id)
			delete(p.liveFail, id)
		}
	}
}

// runContainer drives one container's probes: the startup probe until it
// succeeds, then liveness and readiness, each on its own period.
func (p *probeSet) runContainer(ctx context.Context, pr *prober, c *corev1.Container) {
	set := func(m map[string]bool, v bool) {
		p.mu.Lock()
		old, ok := m[pr.id]
		m[pr.id] = v
		p.mu.Unlock()
		if !ok || old != v {
			p.wake()
		}
	}
	if c.StartupProbe != nil {
		ok := p.loop(ctx, pr, c.StartupProbe, func(success bool) bool {
			if success {
				set(p.isStarted, true)
				return false
			}
			return true
		}, func() { set(p.liveFail, true) })
		if !ok {
			return
		}
	}
	var wg sync.WaitGroup
	if c.ReadinessProbe != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, pr, c.ReadinessProbe, func(success bool) bool { set(p.isReady, success); return true }, func() { set(p.isReady, false) })
		}()
	}
	if c.LivenessProbe != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, pr, c.LivenessProbe, func(success bool) bool { return success }, func() { set(p.liveFail, true) })
		}()
	}
	wg.Wait()
}

// loop runs probe every period after the initial delay. onResult gets each
// result that crossed its threshold (success after successThreshold,
// failure after failureThreshold) and returns whether to continue;
// onFailure is called at the failure threshold. loop returns false when
// stopped or after onFailure for a startup probe.
func (p *probeSet) loop(pctx context.Context, pr *prober, probe *corev1.Probe, onResult func(bool) bool, onFailure func()) bool {
	period := time.Duration(max(probe.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(probe.TimeoutSeconds, 1)) * time.Second
	successNeeded, failureNeeded := max(probe.SuccessThreshold, 1), max(probe.FailureThreshold, 1)
	select {
	case <-pctx.Done():
		return false
	case <-time.After(time.Duration(probe.InitialDelaySeconds) * time.Second):
	}
	var successes, failures int32
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		ctx, cancel := context.WithTimeout(pctx, timeout)
		err := pr.run(ctx, &probe.ProbeHandler, timeout)
		cancel()
		if pctx.Err() != nil {
			return false
		}
		if err == nil {
			successes, failures = successes+1, 0
			if successes >= successNeeded && !onResult(true) {
				return true
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= failureNeeded {
				onFailure()
				if !onResult(false) {
					return false
				}
				failures = 0
			}
		}
		select {
		case <-pctx.Done():
			return false
		case <-ticker.C:
		}
	}
}

// prober runs one container's probe and hook handlers.
type prober struct {
	k   *Kubelet
	pod *corev1.Pod
	c   *corev1.Container
	id  string
	ip  func() string
}

func (k *Kubelet) prober(pod *corev1.Pod, c *corev1.Container, id string) *prober {
	return &prober{k: k, pod: pod, c: c, id: id, ip: func() string { return pod.Status.PodIP }}
}

// run executes handler once; nil means success.
func (pr *prober) run(ctx context.Context, h *corev1.ProbeHandler, timeout time.Duration) error {
	switch {
	case h.Exec != nil:
		resp, err := pr.k.cfg.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: pr.id, Cmd: h.Exec.Command, Timeout: int64(timeout / time.Second)})
		if err != nil {
			return err
		}
		if resp.ExitCode != 0 {
			return fmt.Errorf("exit code %d", resp.ExitCode)
		}
		return nil
	case h.HTTPGet != nil:
		return pr.httpGet(ctx, h.HTTPGet)
	case h.TCPSocket != nil:
		port, err := pr.port(h.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = pr.ip()
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.GRPC != nil:
		conn, err := grpc.NewClient(net.JoinHostPort(pr.ip(), strconv.Itoa(int(h.GRPC.Port))), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		service := ""
		if h.GRPC.Service != nil {
			service = *h.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("service unhealthy (responded with %q)", resp.Status)
		}
		return nil
	}
	return fmt.Errorf("no probe handler")
}

// httpGet succeeds on a 2xx or 3xx answer.
func (pr *prober) httpGet(ctx context.Context, g *corev1.HTTPGetAction) error {
	port, err := pr.port(g.Port)
	if err != nil {
		return err
	}
	host := g.Host
	if host == "" {
		host = pr.ip()
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
	if u.Path == "" {
		u.Path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/"+"1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if h.Name == "Host" {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
		// Redirects to the same host are followed; others count as success.
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Hostname() != host || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// port resolves a numeric or named container port.
func (pr *prober) port(p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range pr.c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in container %q", p.StrVal, pr.c.Name)
}
