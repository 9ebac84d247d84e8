package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is everything `skiff bench` prints.
type Report struct {
	Machine Machine       `json:"machine"`
	Server  *ServerReport `json:"server,omitempty"`
	Load    *Load         `json:"load,omitempty"`
	Targets []Target      `json:"targets"`
}

// ServerReport is what was measured of the server process itself.
type ServerReport struct {
	PID                 int     `json:"pid"`
	StartToReadyMs      float64 `json:"start_to_ready_ms,omitempty"`
	StartToKubeconfigMs float64 `json:"start_to_kubeconfig_ms,omitempty"`
	// Idle is read after start (and a settle pause), AfterLoad after the
	// load (and a settle pause).
	Idle      *Memory `json:"idle,omitempty"`
	AfterLoad *Memory `json:"after_load,omitempty"`
}

// Target compares one figure with upstream Kubernetes and Skiff's goal.
type Target struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
	Upstream float64 `json:"upstream"`
	Goal     float64 `json:"goal"`
	// HigherIsBetter is true for throughputs.
	HigherIsBetter bool `json:"higher_is_better,omitempty"`
	Met            bool `json:"met"`
}

// Upstream figures: Kubernetes v1.37 (etcd, kube-apiserver, scheduler,
// controller-manager) in kind on the 2-core reference machine. Watch was
// measured there with 50 watchers.
const (
	upstreamStartMs     = 5100
	upstreamIdleRSSMiB  = 517
	upstreamCreatesPerS = 459
	upstreamGetP99Ms    = 38
	upstreamListP99Ms   = 173
	upstreamWatchP99Ms  = 264
)

// FillTargets computes r.Targets from what r holds. Upstream's figures are
// for the default sizes: with other sizes the comparison is only indicative.
func (r *Report) FillTargets() {
	r.Targets = nil
	add := func(name, unit string, value, upstream, goal float64, higher bool) {
		met := value <= goal
		if higher {
			met = value >= goal
		}
		r.Targets = append(r.Targets, Target{Name: name, Unit: unit, Value: value, Upstream: upstream, Goal: goal, HigherIsBetter: higher, Met: met})
	}
	if s := r.Server; s != nil {
		if s.StartToReadyMs > 0 {
			add("start to /readyz", "ms", s.StartToReadyMs, upstreamStartMs, 500, false)
		}
		if s.Idle != nil {
			add("idle RSS after start", "MiB", s.Idle.RSSMiB, upstreamIdleRSSMiB, 100, false)
		}
		if s.AfterLoad != nil {
			add("idle RSS after load", "MiB", s.AfterLoad.RSSMiB, upstreamIdleRSSMiB, 100, false)
		}
	}
	if l := r.Load; l != nil {
		if l.Create != nil {
			add(fmt.Sprintf("creates/s (%d clients)", l.Create.Clients), "/s", l.Create.PerSec, upstreamCreatesPerS, 2*upstreamCreatesPerS, true)
		}
		if l.Get != nil {
			add("GET p99", "ms", l.Get.Latency.P99Ms, upstreamGetP99Ms, upstreamGetP99Ms/4.0, false)
		}
		if l.List != nil {
			add(fmt.Sprintf("LIST %d p99", l.List.Objects), "ms", l.List.Full.P99Ms, upstreamListP99Ms, upstreamListP99Ms/4.0, false)
		}
		if l.Watch != nil {
			add(fmt.Sprintf("watch delivery p99 (%d watchers)", l.Watch.Watchers), "ms", l.Watch.Delay.P99Ms, upstreamWatchP99Ms, upstreamWatchP99Ms/4.0, false)
		}
	}
}

// WriteTable writes r for people.
func (r *Report) WriteTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	m := r.Machine
	p("machine\t%d CPUs, %s\tload %s -> %s", m.CPUs, m.Model, m.LoadBefore, m.LoadAfter)
	if s := r.Server; s != nil {
		if s.StartToReadyMs > 0 {
			p("server start\t/readyz 200 after %.0f ms\tkubeconfig after %.0f ms", s.StartToReadyMs, s.StartToKubeconfigMs)
		}
		if s.Idle != nil {
			p("server RSS idle\t%.1f MiB\tanon %.1f MiB, file %.1f MiB", s.Idle.RSSMiB, s.Idle.AnonMiB, s.Idle.FileMiB)
		}
		if s.AfterLoad != nil {
			p("server RSS after load\t%.1f MiB\tanon %.1f MiB, file %.1f MiB, peak %.1f MiB", s.AfterLoad.RSSMiB, s.AfterLoad.AnonMiB, s.AfterLoad.FileMiB, s.AfterLoad.PeakRSSMiB)
		}
	}
	p("")
	p("phase\tops\trate\tp50\tp90\tp99\tmax\terrors\tCPU server/client")
	if l := r.Load; l != nil {
		tp := func(name string, t *Throughput) {
			if t == nil {
				return
			}
			p("%s\t%d\t%.0f/s\t%s\t%d\t%s", name, t.Ops, t.PerSec, lat(t.Latency), t.Errors, cpu(t.CPU))
		}
		tp(fmt.Sprintf("create (%d clients)", r.clients(l.Create)), l.Create)
		tp(fmt.Sprintf("get (%d clients)", r.clients(l.Get)), l.Get)
		if ls := l.List; ls != nil {
			p("list %d, no limit\t%d\t\t%s\t%d\t%s", ls.Objects, ls.Full.Count, lat(ls.Full), ls.Errors, cpu(ls.CPU))
			p("  same, not decoded by client\t%d\t\t%s\t\t", ls.FullRaw.Count, lat(ls.FullRaw))
			p("list %d, limit=%d (all pages)\t%d\t\t%s\t\t", ls.Objects, ls.Limit, ls.Paged.Count, lat(ls.Paged))
			p("  one page of %d\t%d\t\t%s\t\t", ls.Limit, ls.Page.Count, lat(ls.Page))
		}
		if wr := l.Watch; wr != nil {
			p("watch delivery (%d watchers)\t%d\t%.0f/s writes\t%s\t%d missing\t%s", wr.Watchers, wr.Deliveries, wr.RatePerSec, lat(wr.Delay), wr.Missing, cpu(wr.CPU))
			p("  writer's creates\t%d\t\t%s\t%d\t", wr.Events, lat(wr.Write), wr.Errors)
		}
	}
	p("")
	p("target\tskiff\tupstream\tgoal\tmet")
	for _, t := range r.Targets {
		cmp := "<="
		if t.HigherIsBetter {
			cmp = ">="
		}
		met := "yes"
		if !t.Met {
			met = "NO"
		}
		p("%s\t%s\t%s\t%s %s\t%s", t.Name, num(t.Value, t.Unit), num(t.Upstream, t.Unit), cmp, num(t.Goal, t.Unit), met)
	}
	return w.Flush()
}

func (r *Report) clients(t *Throughput) int {
	if t == nil {
		return 0
	}
	return t.Clients
}

func lat(l Latency) string {
	return strings.Join([]string{
		fmt.Sprintf("%.1fms", l.P50Ms), fmt.Sprintf("%.1fms", l.P90Ms),
		fmt.Sprintf("%.1fms", l.P99Ms), fmt.Sprintf("%.1fms", l.MaxMs),
	}, "\t")
}

func cpu(c CPU) string {
	if c.ServerSeconds == 0 {
		return fmt.Sprintf("-/%.1fs", c.ClientSeconds)
	}
	return fmt.Sprintf("%.1fs/%.1fs", c.ServerSeconds, c.ClientSeconds)
}

func num(v float64, unit string) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
