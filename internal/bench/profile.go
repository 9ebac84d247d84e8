package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// ProfileControl lets a benchmark start and stop CPU profiles inside a
// server process, one file per phase: POST /start?file=PATH, POST /stop;
// POST /heap answers with a heap profile.
// Only for loopback use by `skiff bench --profile-dir`.
type ProfileControl struct {
	mu sync.Mutex // guards f
	// f is the profile being written; nil when none is running.
	f *os.File
}

func (c *ProfileControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.URL.Path {
	case "/start":
		if c.f != nil {
			http.Error(w, "a profile is running", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		c.f = f
	case "/stop":
		if c.f == nil {
			http.Error(w, "no profile is running", http.StatusConflict)
			return
		}
		pprof.StopCPUProfile()
		err := c.f.Close()
		c.f = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	case "/heap":
		// Written to the response: a live-heap profile right now.
		w.Header().Set("Content-Type", "application/octet-stream")
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	default:
		http.NotFound(w, r)
	}
}

// ProfileClient drives a ProfileControl at base (http://HOST:PORT).
type ProfileClient struct {
	Base string
	// Dir receives cpu-PHASE.pprof files.
	Dir string
}

// Hook is an Options.OnPhase that profiles each phase into its own file.
// Failures are reported through logf and do not stop the run.
func (p *ProfileClient) Hook(logf func(string, ...any)) func(phase string, start bool) {
	hc := &http.Client{Timeout: 30 * time.Second}
	return func(phase string, start bool) {
		u := p.Base + "/stop"
		if start {
			u = p.Base + "/start?file=" + url.QueryEscape(fmt.Sprintf("%s/cpu-%s.pprof", p.Dir, phase))
		}
		resp, err := hc.Post(u, "", nil)
		if err != nil {
			logf("profile %s: %v", phase, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			logf("profile %s: %s", phase, resp.Status)
		}
	}
}

// Heap writes a heap profile of the server to Dir/heap-NAME.pprof.
func (p *ProfileClient) Heap(name string) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Post(p.Base+"/heap", "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(fmt.Sprintf("%s/heap-%s.pprof", p.Dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
