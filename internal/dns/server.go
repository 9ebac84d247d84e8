package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	miekg "github.com/miekg/dns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Server is one node's cluster DNS server.
type Server struct {
	cfg Config
	log *slog.Logger
	ix  *index
	res *resolver

	// ready is closed once the informers have synced and both sockets
	// serve. addr is set before ready closes.
	ready   chan struct{}
	addr    string
	started atomic.Bool // set by the first Run
}

// ErrRunTwice is returned by a second call to Run.
var ErrRunTwice = errors.New("dns: Server.Run called twice")

// New checks cfg and prepares a Server; it starts nothing.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	zone := cfg.ClusterDomain + "."
	ix := newIndex(zone, cfg.Clock)
	res := &resolver{zone: zone, ttl: cfg.TTL, ix: ix, log: cfg.Logger}
	for _, p := range cfg.ReverseCIDRs {
		res.reverseZones = append(res.reverseZones, reverseZone{prefix: p.Masked(), zone: reverseZoneOf(p)})
	}
	if len(cfg.Upstreams) > 0 {
		res.fwd = newForwarder(cfg.Upstreams, cfg.ForwardTimeout)
		if cfg.CacheSize > 0 {
			res.fwd = newCache(res.fwd, cfg.Clock, cfg.CacheSize)
		}
	}
	return &Server{cfg: cfg, log: cfg.Logger, ix: ix, res: res, ready: make(chan struct{})}, nil
}

// Ready is closed once the Server answers from synced informers.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the host:port both sockets are bound to (port 0 in
// Config.ListenAddr resolved), or "" before Ready is closed.
func (s *Server) Addr() string {
	select {
	case <-s.ready:
		return s.addr
	default:
		return ""
	}
}

// Run serves until ctx ends, then stops everything it started. It
// returns an error if the sockets cannot be bound or ctx ends before the
// informers sync; nil after a normal stop. A Server runs once: a second
// call returns ErrRunTwice.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(s.cfg.Upstreams) == 0 {
		s.log.Warn("cluster DNS has no upstream resolvers: names outside the cluster domain will get SERVFAIL",
			"resolvConf", s.cfg.ResolvConf)
	}
	pc, ln, err := listen(ctx, s.cfg.ListenAddr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()

	factory := informers.NewSharedInformerFactory(s.cfg.Client, 0)
	defer factory.Shutdown()
	if err := s.watch(factory); err != nil {
		pc.Close()
		ln.Close()
		return err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			pc.Close()
			ln.Close()
			return fmt.Errorf("dns: %v informer did not sync: %w", typ, context.Cause(ctx))
		}
	}

	h := &handler{res: s.res, ctx: ctx}
	udp := &miekg.Server{PacketConn: pc, Handler: h, UDPSize: ednsSize}
	tcp := &miekg.Server{Listener: ln, Handler: h, IdleTimeout: func() time.Duration { return 10 * time.Second }}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, srv := range []*miekg.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				errc <- err
			}
		}()
		select {
		case <-started:
		case err := <-errc:
			cancel()
			wg.Wait()
			return fmt.Errorf("dns: serving on %s: %w", s.addr, err)
		}
	}
	s.log.Info("cluster DNS serving", "addr", s.addr, "zone", s.res.zone, "upstreams", s.cfg.Upstreams)
	close(s.ready)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		runErr = fmt.Errorf("dns: serving on %s: %w", s.addr, runErr)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	// Shutdown closes the sockets and waits for in-flight queries.
	errs := []error{runErr, udp.ShutdownContext(sctx), tcp.ShutdownContext(sctx)}
	wg.Wait()
	return errors.Join(errs...)
}

// watch registers the index's event handlers. Handlers update the index
// directly: an update is one Service's rebuild under the index lock, cheap
// and idempotent, so a queue would add latency and nothing else.
func (s *Server) watch(f informers.SharedInformerFactory) error {
	svcs := f.Core().V1().Services().Informer()
	if _, err := svcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onService(obj) },
		UpdateFunc: func(_, obj any) { s.onService(obj) },
		DeleteFunc: func(obj any) {
			if svc, ok := unwrap[*corev1.Service](obj); ok {
				s.ix.deleteService(svc.Namespace, svc.Name)
			}
		},
	}); err != nil {
		return err
	}
	eps := f.Discovery().V1().EndpointSlices().Informer()
	_, err := eps.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onSlice(obj) },
		UpdateFunc: func(_, obj any) { s.onSlice(obj) },
		DeleteFunc: func(obj any) {
			if es, ok := unwrap[*discoveryv1.EndpointSlice](obj); ok {
				s.ix.deleteSlice(es.Namespace, es.Name)
			}
		},
	})
	return err
}

func (s *Server) onService(obj any) {
	if svc, ok := obj.(*corev1.Service); ok {
		s.ix.setService(svc)
	}
}

func (s *Server) onSlice(obj any) {
	if es, ok := obj.(*discoveryv1.EndpointSlice); ok {
		s.ix.setSlice(es)
	}
}

// unwrap returns a deleted object, looking inside a tombstone.
func unwrap[T any](obj any) (T, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	v, ok := obj.(T)
	return v, ok
}

// handler adapts the resolver to miekg/dns: it truncates UDP answers to
// the client's buffer.
type handler struct {
	res *resolver
	ctx context.Context // the server's: cancelled at stop
}

func (h *handler) ServeDNS(w miekg.ResponseWriter, req *miekg.Msg) {
	// A bug answering one query must not take the node agent down with it.
	defer func() {
		if p := recover(); p != nil {
			h.res.log.Error("panic answering a query", "panic", p, "stack", string(debug.Stack()))
			_ = w.WriteMsg(reply(req, miekg.RcodeServerFailure))
		}
	}()
	_, tcp := w.LocalAddr().(*net.TCPAddr)
	resp := h.res.Resolve(h.ctx, req, tcp)
	if !tcp {
		resp.Truncate(udpSize(req))
	}
	_ = w.WriteMsg(resp) // a client gone away is not our error
}

// udpSize is the largest UDP answer req's sender accepts.
func udpSize(req *miekg.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return max(int(opt.UDPSize()), miekg.MinMsgSize)
	}
	return miekg.MinMsgSize
}

// listen binds UDP and TCP on addr with IP_FREEBIND. With port 0 both
// get the same free port.
func listen(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	lc := net.ListenConfig{Control: freebind}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: ListenAddr %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listening on %s/tcp: %w", addr, err)
		}
		p := port
		if port == "0" {
			p = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		}
		pc, err := lc.ListenPacket(ctx, "udp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		ln.Close()
		if port != "0" || attempt >= 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("dns: listening on %s/udp: %w", net.JoinHostPort(host, p), err)
		}
	}
}

// freebind sets IP_FREEBIND (or IPV6_FREEBIND) so the socket binds an
// address the host does not have yet.
func freebind(network, address string, c syscall.RawConn) error {
	v6 := false
	if ap, err := netip.ParseAddrPort(address); err == nil {
		v6 = ap.Addr().Is6() && !ap.Addr().Is4In6()
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
