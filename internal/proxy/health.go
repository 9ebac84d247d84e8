package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// healthServer answers the health check node ports of
// externalTrafficPolicy Local Services, as upstream's service health
// server: JSON naming the Service and its local endpoint count, 200 when
// there is at least one local endpoint and 503 when there is none. Load
// balancers use it to send traffic only to nodes with endpoints.
type healthServer struct {
	log *slog.Logger

	mu      sync.Mutex // guards servers and their state
	servers map[int]*healthListener
}

// healthListener is one port, on every node port address.
type healthListener struct {
	addrs []netip.Addr
	srvs  []*http.Server
	state healthPort // guarded by healthServer.mu
}

func newHealthServer(log *slog.Logger) *healthServer {
	return &healthServer{log: log, servers: map[int]*healthListener{}}
}

// sync opens the ports in want (on addrs), closes the others and updates
// the counts. A port that cannot be opened is logged and retried on the
// next sync.
func (h *healthServer) sync(want map[int]healthPort, addrs []netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, l := range h.servers {
		if _, ok := want[port]; !ok || !sameAddrs(l.addrs, addrs) {
			l.close()
			delete(h.servers, port)
		}
	}
	for port, st := range want {
		if l, ok := h.servers[port]; ok {
			l.state = st
			continue
		}
		l := &healthListener{addrs: addrs, state: st}
		if err := l.open(port, h); err != nil {
			h.log.Error("could not open health check node port", "port", port, "service", st.namespace+"/"+st.name, "err", err)
			l.close()
			continue
		}
		h.servers[port] = l
	}
}

func (l *healthListener) open(port int, h *healthServer) error {
	for _, a := range l.addrs {
		ln, err := net.Listen("tcp4", net.JoinHostPort(a.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h.mu.Lock()
			st := l.state
			h.mu.Unlock()
			h.serve(w, st)
		}), ReadHeaderTimeout: 10 * time.Second}
		l.srvs = append(l.srvs, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error("health check server stopped", "port", port, "err", err)
			}
		}()
	}
	return nil
}

func (l *healthListener) close() {
	for _, s := range l.srvs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	l.srvs = nil
}

func (h *healthServer) serve(w http.ResponseWriter, st healthPort) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(st.localEndpoints))
	if st.localEndpoints > 0 {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintf(w, "{\n\t\"service\": {\n\t\t\"namespace\": %q,\n\t\t\"name\": %q\n\t},\n\t\"localEndpoints\": %d,\n\t\"serviceProxyHealthy\": true\n}",
		st.namespace, st.name, st.localEndpoints)
}

// stop closes every port; safe to call twice.
func (h *healthServer) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, l := range h.servers {
		l.close()
		delete(h.servers, port)
	}
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
