package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Health runs the checks behind /healthz, /livez and /readyz. Checks may be
// added while serving.
type Health struct {
	mu sync.Mutex // guards checks
	// checks in the order they were added.
	checks []healthCheck
	// shuttingDown fails /readyz once shutdown starts, so load balancers
	// stop sending new requests.
	shuttingDown atomic.Bool
}

type healthCheck struct {
	name string
	// ready checks appear only in /readyz (and /healthz); live checks in all.
	readyOnly bool
	fn        func(ctx context.Context) error
}

// NewHealth returns a Health with upstream's always-passing ping check.
func NewHealth() *Health {
	h := &Health{}
	h.Add("ping", false, func(context.Context) error { return nil })
	return h
}

// Add registers a check; readyOnly checks are left out of /livez.
func (h *Health) Add(name string, readyOnly bool, fn func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, healthCheck{name: name, readyOnly: readyOnly, fn: fn})
}

// ShuttingDown makes /readyz fail from now on.
func (h *Health) ShuttingDown() { h.shuttingDown.Store(true) }

func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.Trim(r.URL.Path, "/"), "/", 2)
	endpoint := parts[0]
	h.mu.Lock()
	checks := append([]healthCheck(nil), h.checks...)
	h.mu.Unlock()
	if endpoint == "readyz" {
		checks = append(checks, healthCheck{name: "shutdown", readyOnly: true, fn: func(context.Context) error {
			if h.shuttingDown.Load() {
				return fmt.Errorf("process is shutting down")
			}
			return nil
		}})
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if len(parts) == 2 {
		for _, c := range checks {
			if c.name == parts[1] {
				if err := c.fn(ctx); err != nil {
					http.Error(w, fmt.Sprintf("internal server error: %v", err), http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				fmt.Fprint(w, "ok")
				return
			}
		}
		writeError(w, r, apierrors.NewGenericServerResponse(http.StatusNotFound, "", schemaGR(), "", "the server could not find the requested resource", 0, false))
		return
	}
	exclude := map[string]bool{}
	for _, e := range r.URL.Query()["exclude"] {
		exclude[e] = true
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if exclude[c.name] || (endpoint == "livez" && c.readyOnly) {
			continue
		}
		if err := c.fn(ctx); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", c.name)
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), endpoint)
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), endpoint)
		return
	}
	fmt.Fprint(w, "ok")
}

func methodNotAllowed() error {
	return apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schemaGR(), "", "the server does not allow this method on the requested resource", 0, false)
}
