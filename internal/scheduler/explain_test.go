package scheduler

import (
	"strings"
	"testing"
)

func TestWriteExplanation(t *testing.T) {
	scored := func(node string, total int64, fit, taint int64) NodeExplanation {
		return NodeExplanation{Node: node, Total: total, Scores: []PluginScore{
			{Plugin: "TaintToleration", Score: taint, Weight: 3},
			{Plugin: "NodeResourcesFit", Score: fit, Weight: 1},
		}}
	}
	placed := &Explanation{
		Pod: "default/web", Node: "b", Total: 4, Examined: 4,
		Nodes: []NodeExplanation{
			{Node: "d", Filter: "TaintToleration", Code: "UnschedulableAndUnresolvable", Reasons: []string{"node(s) had untolerated taint {k: v}"}},
			{Node: "c", Filter: "NodeResourcesFit", Code: "Unschedulable", Reasons: []string{"Insufficient cpu", "Insufficient memory"}},
			scored("a", 320, 20, 100),
			scored("b", 390, 90, 100),
		},
	}
	tests := []struct {
		name    string
		e       *Explanation
		boundTo string
		wide    bool
		want    string
	}{
		{"table", placed, "", false, `
Pod:       default/web
Best node: b (2 feasible of 4 nodes)

NODE  RESULT            REASON                                 SCORE
b     Feasible (best)                                          390
a     Feasible                                                 320
c     NodeResourcesFit  Insufficient cpu; Insufficient memory  -
d     TaintToleration   node(s) had untolerated taint {k: v}   -
`},
		{"wide and bound", placed, "a", true, `
Pod:       default/web
Bound to:  a
Best node: b (2 feasible of 4 nodes)

NODE  RESULT            REASON                                 SCORE  TaintToleration*3  NodeResourcesFit*1
b     Feasible (best)                                          390    100                90
a     Feasible                                                 320    100                20
c     NodeResourcesFit  Insufficient cpu; Insufficient memory  -
d     TaintToleration   node(s) had untolerated taint {k: v}   -
`},
		{"none fit", &Explanation{
			Pod: "ns/big", Total: 1, Examined: 1,
			Message: "0/1 nodes are available: 1 Insufficient cpu.",
			Nodes:   []NodeExplanation{{Node: "a", Filter: "NodeResourcesFit", Reasons: []string{"Insufficient cpu"}}},
		}, "", true, `
Pod:       ns/big
Best node: none: 0/1 nodes are available: 1 Insufficient cpu.

NODE  RESULT            REASON            SCORE
a     NodeResourcesFit  Insufficient cpu  -
`},
		{"rejected before any node", &Explanation{
			Pod: "ns/pvc", Total: 3, Message: `0/3 nodes are available: persistentvolumeclaim "data" not found.`,
		}, "", false, `
Pod:       ns/pvc
Best node: none: 0/3 nodes are available: persistentvolumeclaim "data" not found.
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteExplanation(&b, tt.e, tt.boundTo, tt.wide); err != nil {
				t.Fatal(err)
			}
			if got, want := b.String(), strings.TrimPrefix(tt.want, "\n"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
