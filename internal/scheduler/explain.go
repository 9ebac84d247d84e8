package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
)

// ExplainFromAPI dry-runs the scheduler for pod in a process that is not
// the scheduler: it builds a scheduler on client with cfg (nil: defaults),
// fills its cache from the API (nodes, pods, namespaces, PVCs, PVs, PDBs),
// runs ExplainPod and stops the informers again. Nothing is written to the
// API. A pod already bound is explained as if it were pending (its own
// resources taken off its node).
func ExplainFromAPI(ctx context.Context, client kubernetes.Interface, cfg *Config, pod *corev1.Pod) (*Explanation, error) {
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(client, 0)
	defer factory.Shutdown()
	defer cancel() // runs before Shutdown, which waits for the informers
	s, err := New(client, factory, Options{
		Config:   cfg,
		Logger:   slog.New(slog.DiscardHandler),
		Recorder: &events.FakeRecorder{},
		Identity: "explain",
	})
	if err != nil {
		return nil, err
	}
	if err := s.WaitForCacheSync(ctx); err != nil {
		return nil, err
	}
	return s.ExplainPod(ctx, pod)
}

// WriteExplanation prints e as a table for people: a summary line, then one
// row per node — the feasible ones first, best score first, then the
// rejected ones by name — with columns NODE, RESULT (Feasible or the filter
// that rejected the node), REASON and SCORE (the weighted total). With wide
// it adds one column per score plugin, headed PLUGIN*WEIGHT, holding the
// plugin's normalized score (0-100) before weighting.
func WriteExplanation(w io.Writer, e *Explanation, boundTo string, wide bool) error {
	var feasible, rejected []NodeExplanation
	for _, n := range e.Nodes {
		if n.Filter != "" {
			rejected = append(rejected, n)
		} else {
			feasible = append(feasible, n)
		}
	}
	sort.SliceStable(feasible, func(i, j int) bool { return feasible[i].Total > feasible[j].Total })
	sort.SliceStable(rejected, func(i, j int) bool { return rejected[i].Node < rejected[j].Node })

	fmt.Fprintf(w, "Pod:       %s\n", e.Pod)
	if boundTo != "" {
		fmt.Fprintf(w, "Bound to:  %s\n", boundTo)
	}
	if e.Node != "" {
		fmt.Fprintf(w, "Best node: %s (%d feasible of %d nodes)\n", e.Node, len(feasible), e.Total)
	} else {
		fmt.Fprintf(w, "Best node: none: %s\n", e.Message)
	}
	if e.Examined < e.Total && e.Node != "" && len(e.Nodes) == 1 {
		fmt.Fprintf(w, "(the pod's nominated node fits, so no other node was examined)\n")
	}
	if len(e.Nodes) == 0 {
		return nil
	}
	fmt.Fprintln(w)

	// The plugin columns, in the order of the first scored node.
	var plugins []PluginScore
	for _, n := range feasible {
		if len(n.Scores) > 0 {
			plugins = n.Scores
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := []string{"NODE", "RESULT", "REASON", "SCORE"}
	if wide {
		for _, p := range plugins {
			header = append(header, p.Plugin+"*"+strconv.FormatInt(p.Weight, 10))
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, n := range feasible {
		result := "Feasible"
		if n.Node == e.Node {
			result = "Feasible (best)"
		}
		row := []string{n.Node, result, "", strconv.FormatInt(n.Total, 10)}
		if wide {
			for i := range plugins {
				cell := "-"
				if i < len(n.Scores) {
					cell = strconv.FormatInt(n.Scores[i].Score, 10)
				}
				row = append(row, cell)
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	for _, n := range rejected {
		reason := strings.Join(n.Reasons, "; ")
		if reason == "" {
			reason = n.Code
		}
		fmt.Fprintln(tw, strings.Join([]string{n.Node, n.Filter, reason, "-"}, "\t"))
	}
	return tw.Flush()
}
