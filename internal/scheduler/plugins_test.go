package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

func mkNode(name string, cpu string, lbls map[string]string, taints ...corev1.Taint) *NodeInfo {
	l := map[string]string{corev1.LabelHostname: name}
	for k, v := range lbls {
		l[k] = v
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("4Gi"),
			corev1.ResourcePods: resource.MustParse("10"), "example.com/gpu": resource.MustParse("1"),
		}},
	}
	ni := &NodeInfo{}
	ni.SetNode(n)
	return ni
}

func mkPod(name, cpu string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: k8stypes.UID(name), Labels: map[string]string{}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withLabels(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func onNode(ni *NodeInfo, pods ...*corev1.Pod) *NodeInfo {
	for _, p := range pods {
		p.Spec.NodeName = ni.Node.Name
		ni.AddPod(newPodInfo(p))
	}
	return ni
}

// runFilter runs f's PreFilter (over nodes) and Filter on node.
func runFilter(t *testing.T, f Filter, pod *corev1.Pod, node *NodeInfo, nodes ...*NodeInfo) *Status {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []*NodeInfo{node}
	}
	state := newCycleState(newPodInfo(pod), nodes)
	if pf, ok := f.(PreFilter); ok {
		if st := pf.PreFilter(context.Background(), state, pod); !st.IsSuccess() {
			return st
		}
	}
	return f.Filter(context.Background(), state, pod, node)
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	c := func(cpu string) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}
	}
	sidecar := func(cpu string) corev1.Container { s := c(cpu); s.RestartPolicy = &always; return s }
	tests := []struct {
		name string
		spec corev1.PodSpec
		want int64
	}{
		{"containers sum", corev1.PodSpec{Containers: []corev1.Container{c("100m"), c("200m")}}, 300},
		{"init bigger than containers", corev1.PodSpec{InitContainers: []corev1.Container{c("1")}, Containers: []corev1.Container{c("100m")}}, 1000},
		{"sidecars add to containers", corev1.PodSpec{InitContainers: []corev1.Container{sidecar("200m")}, Containers: []corev1.Container{c("100m")}}, 300},
		{"init after sidecar runs beside it", corev1.PodSpec{InitContainers: []corev1.Container{sidecar("200m"), c("1")}, Containers: []corev1.Container{c("100m")}}, 1200},
		{"overhead added", corev1.PodSpec{Containers: []corev1.Container{c("100m")}, Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podRequests(&corev1.Pod{Spec: tt.spec}, false).MilliCPU; got != tt.want {
				t.Fatalf("got %dm; want %dm", got, tt.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	noSched := corev1.Taint{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	gpu := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("2")
	}
	hostPort := func(port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{HostPort: port, ContainerPort: port}}
		}
	}
	cordoned := mkNode("n", "1", nil)
	cordoned.Node.Spec.Unschedulable = true
	tests := []struct {
		name   string
		filter Filter
		pod    *corev1.Pod
		node   *NodeInfo
		code   Code
		reason string
	}{
		{"cordoned", nodeUnschedulable{}, mkPod("p", "1"), cordoned, UnschedulableAndUnresolvable, reasonUnschedulable},
		{"cordoned tolerated", nodeUnschedulable{}, mkPod("p", "1", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}}
		}), cordoned, Success, ""},
		{"node name mismatch", nodeName{}, mkPod("p", "1", func(p *corev1.Pod) { p.Spec.NodeName = "other" }), mkNode("n", "1", nil), UnschedulableAndUnresolvable, reasonNodeName},
		{"untolerated taint", taintToleration{}, mkPod("p", "1"), mkNode("n", "1", nil, noSched), UnschedulableAndUnresolvable, "node(s) had untolerated taint {key: value}"},
		{"not-ready taint", taintToleration{}, mkPod("p", "1"), mkNode("n", "1", nil, notReady), UnschedulableAndUnresolvable, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		{"tolerated taint", taintToleration{}, mkPod("p", "1", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule}}
		}), mkNode("n", "1", nil, noSched), Success, ""},
		{"prefer-no-schedule ignored", taintToleration{}, mkPod("p", "1"), mkNode("n", "1", nil, corev1.Taint{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}), Success, ""},
		{"node selector", nodeAffinity{}, mkPod("p", "1", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), mkNode("n", "1", nil), UnschedulableAndUnresolvable, reasonNodeAffinity},
		{"required affinity In", nodeAffinity{}, mkPod("p", "1", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}}}}
		}), mkNode("n", "1", map[string]string{"disk": "ssd"}), Success, ""},
		{"insufficient cpu", &nodeResourcesFit{}, mkPod("p", "2"), mkNode("n", "1", nil), Unschedulable, "Insufficient cpu"},
		{"extended resource", &nodeResourcesFit{}, mkPod("p", "100m", gpu), mkNode("n", "1", nil), Unschedulable, "Insufficient example.com/gpu"},
		{"fits beside others", &nodeResourcesFit{}, mkPod("p", "500m"), onNode(mkNode("n", "1", nil), mkPod("a", "500m")), Success, ""},
		{"host port taken", nodePorts{}, mkPod("p", "1", hostPort(80)), onNode(mkNode("n", "1", nil), mkPod("a", "1", hostPort(80))), Unschedulable, reasonNodePorts},
		{"other host port", nodePorts{}, mkPod("p", "1", hostPort(81)), onNode(mkNode("n", "1", nil), mkPod("a", "1", hostPort(80))), Success, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := runFilter(t, tt.filter, tt.pod, tt.node)
			code := Success
			if st != nil {
				code = st.Code
			}
			if code != tt.code || (tt.reason != "" && st.Message() != tt.reason) {
				t.Fatalf("got %v %q; want %v %q", code, st.Message(), tt.code, tt.reason)
			}
		})
	}
}

func TestInterPodAffinityFilter(t *testing.T) {
	zone := func(z string) map[string]string { return map[string]string{corev1.LabelTopologyZone: z} }
	term := func(app, key string) []corev1.PodAffinityTerm {
		return []corev1.PodAffinityTerm{{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, TopologyKey: key}}
	}
	anti := func(app string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: term(app, corev1.LabelTopologyZone)}}
		}
	}
	aff := func(app string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: term(app, corev1.LabelTopologyZone)}}
		}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		target func() (*NodeInfo, []*NodeInfo)
		reason string
	}{
		{"anti-affinity same zone", mkPod("p", "1", anti("db")), func() (*NodeInfo, []*NodeInfo) {
			a := onNode(mkNode("a", "1", zone("z1")), mkPod("db", "1", withLabels("app", "db")))
			b := mkNode("b", "1", zone("z1"))
			return b, []*NodeInfo{a, b}
		}, reasonAntiAffinity},
		{"anti-affinity other zone", mkPod("p", "1", anti("db")), func() (*NodeInfo, []*NodeInfo) {
			a := onNode(mkNode("a", "1", zone("z1")), mkPod("db", "1", withLabels("app", "db")))
			b := mkNode("b", "1", zone("z2"))
			return b, []*NodeInfo{a, b}
		}, ""},
		{"existing pod's anti-affinity", mkPod("p", "1", withLabels("app", "web")), func() (*NodeInfo, []*NodeInfo) {
			a := onNode(mkNode("a", "1", zone("z1")), mkPod("x", "1", anti("web")))
			b := mkNode("b", "1", zone("z1"))
			return b, []*NodeInfo{a, b}
		}, reasonExistingAntiRule},
		{"affinity unmatched", mkPod("p", "1", aff("db")), func() (*NodeInfo, []*NodeInfo) {
			a := onNode(mkNode("a", "1", zone("z1")), mkPod("db", "1", withLabels("app", "db")))
			b := mkNode("b", "1", zone("z2"))
			return b, []*NodeInfo{a, b}
		}, reasonAffinity},
		{"affinity matched in zone", mkPod("p", "1", aff("db")), func() (*NodeInfo, []*NodeInfo) {
			a := onNode(mkNode("a", "1", zone("z1")), mkPod("db", "1", withLabels("app", "db")))
			b := mkNode("b", "1", zone("z1"))
			return b, []*NodeInfo{a, b}
		}, ""},
		{"first of a self-affine group", mkPod("p", "1", aff("db"), withLabels("app", "db")), func() (*NodeInfo, []*NodeInfo) {
			b := mkNode("b", "1", zone("z1"))
			return b, []*NodeInfo{b}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node, nodes := tt.target()
			st := runFilter(t, &interPodAffinity{}, tt.pod, node, nodes...)
			if st.Message() != tt.reason {
				t.Fatalf("got %q; want %q", st.Message(), tt.reason)
			}
		})
	}
}

func TestTopologySpreadFilter(t *testing.T) {
	spread := func(p *corev1.Pod) {
		p.Labels["app"] = "web"
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}
	}
	z := func(v string) map[string]string { return map[string]string{corev1.LabelTopologyZone: v} }
	a := onNode(mkNode("a", "1", z("z1")), mkPod("w1", "1", withLabels("app", "web")))
	b := mkNode("b", "1", z("z2"))
	c := mkNode("c", "1", nil)
	nodes := []*NodeInfo{a, b, c}
	tests := []struct {
		node   *NodeInfo
		reason string
	}{{a, reasonSpread}, {b, ""}, {c, reasonSpreadMissingLabel}}
	for _, tt := range tests {
		t.Run(tt.node.Node.Name, func(t *testing.T) {
			if st := runFilter(t, podTopologySpread{}, mkPod("p", "1", spread), tt.node, nodes...); st.Message() != tt.reason {
				t.Fatalf("got %q; want %q", st.Message(), tt.reason)
			}
		})
	}
}

func TestScores(t *testing.T) {
	pod := mkPod("p", "100m", func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
			Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}}},
		}}}}
	})
	busy := onNode(mkNode("busy", "1", nil), mkPod("x", "800m"))
	idle := mkNode("idle", "1", nil)
	ssd := mkNode("ssd", "1", map[string]string{"disk": "ssd"})
	prefer := mkNode("prefer", "1", nil, corev1.Taint{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule})
	tests := []struct {
		name   string
		scorer Scorer
		better *NodeInfo
		worse  *NodeInfo
	}{
		{"least allocated", &nodeResourcesFit{strategy: defaultStrategy()}, idle, busy},
		{"most allocated", &nodeResourcesFit{strategy: ScoringStrategy{Type: MostAllocated, Resources: defaultStrategy().Resources}}, busy, idle},
		{"preferred node affinity", nodeAffinity{}, ssd, idle},
		{"prefer-no-schedule taint", taintToleration{}, idle, prefer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := []*NodeInfo{tt.better, tt.worse}
			state := newCycleState(newPodInfo(pod), nodes)
			scores := []int64{tt.scorer.Score(context.Background(), state, pod, nodes[0]), tt.scorer.Score(context.Background(), state, pod, nodes[1])}
			if n, ok := tt.scorer.(Normalizer); ok {
				n.Normalize(scores)
			}
			if scores[0] <= scores[1] {
				t.Fatalf("scores %v; want %s above %s", scores, tt.better.Node.Name, tt.worse.Node.Name)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		pct         int32
		nodes, want int
	}{{0, 50, 50}, {0, 500, 230}, {0, 5000, 500}, {0, 6000, 300}, {0, 200, 100}, {10, 2000, 200}, {100, 5000, 5000}}
	for _, tt := range tests {
		if got := numFeasibleNodesToFind(tt.pct, tt.nodes); got != tt.want {
			t.Errorf("numFeasibleNodesToFind(%d, %d) = %d; want %d", tt.pct, tt.nodes, got, tt.want)
		}
	}
}

func TestFitMessage(t *testing.T) {
	ch := newChain(DefaultProfile(DefaultSchedulerName), pluginEnv{})
	var nodes []*NodeInfo
	for i := 0; i < 2; i++ {
		nodes = append(nodes, mkNode(fmt.Sprintf("small%d", i), "500m", nil))
	}
	for i := 0; i < 3; i++ {
		nodes = append(nodes, mkNode(fmt.Sprintf("tainted%d", i), "8", nil, corev1.Taint{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule}))
	}
	pod := mkPod("p", "1")
	res, _ := ch.findNode(context.Background(), pod, nodes, nil, 0, 0, nil, rand.New(rand.NewPCG(1, 1)), false)
	pre := ch.preempt(context.Background(), pod, nodes, res, nil)
	got := fitMessage(res, pre.msg)
	want := "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {key: value}. preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestPreemptionPicksCheapestNode(t *testing.T) {
	prio := func(v int32) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.Priority = &v } }
	tests := []struct {
		name     string
		nodes    func() []*NodeInfo
		pdbs     []*policyv1.PodDisruptionBudget
		wantNode string
		victims  string
	}{
		{"lowest priority victim", func() []*NodeInfo {
			return []*NodeInfo{
				onNode(mkNode("a", "1", nil), mkPod("a1", "1", prio(50))),
				onNode(mkNode("b", "1", nil), mkPod("b1", "1", prio(10))),
			}
		}, nil, "b", "b1"},
		{"fewest victims", func() []*NodeInfo {
			return []*NodeInfo{
				onNode(mkNode("a", "1", nil), mkPod("a1", "500m", prio(1)), mkPod("a2", "500m", prio(1))),
				onNode(mkNode("b", "1", nil), mkPod("b1", "1", prio(1))),
			}
		}, nil, "b", "b1"},
		{"only what is needed", func() []*NodeInfo {
			return []*NodeInfo{onNode(mkNode("a", "1500m", nil), mkPod("a1", "500m", prio(5)), mkPod("a2", "1", prio(1)))}
		}, nil, "a", "a2"},
		{"respect pdb", func() []*NodeInfo {
			return []*NodeInfo{
				onNode(mkNode("a", "1", nil), mkPod("a1", "1", prio(1), withLabels("app", "guarded"))),
				onNode(mkNode("b", "1", nil), mkPod("b1", "1", prio(50))),
			}
		}, []*policyv1.PodDisruptionBudget{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "g"},
			Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}},
		}}, "b", "b1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := newChain(DefaultProfile(DefaultSchedulerName), pluginEnv{})
			nodes := tt.nodes()
			pod := mkPod("vip", "1", prio(100))
			res, _ := ch.findNode(context.Background(), pod, nodes, nil, 0, 0, nil, rand.New(rand.NewPCG(1, 1)), false)
			if res.node != "" {
				t.Fatalf("pod fits on %s without preemption", res.node)
			}
			pre := ch.preempt(context.Background(), pod, nodes, res, tt.pdbs)
			var names []string
			for _, v := range pre.victims {
				names = append(names, v.Name)
			}
			if pre.node != tt.wantNode || strings.Join(names, ",") != tt.victims {
				t.Fatalf("preempt on %q evicting %v (%s); want %q evicting %s", pre.node, names, pre.msg, tt.wantNode, tt.victims)
			}
		})
	}
}

func TestCacheAssumeNeverDoubleBooks(t *testing.T) {
	c := NewCache()
	c.AddNode(mkNode("n", "1", nil).Node)
	ch := newChain(DefaultProfile(DefaultSchedulerName), pluginEnv{})
	rnd := rand.New(rand.NewPCG(1, 1))
	var placed int
	for i := 0; i < 3; i++ {
		pod := mkPod(fmt.Sprintf("p%d", i), "400m")
		var res *result
		c.ViewIndexed(string(pod.UID), func(nodes []*NodeInfo, idx *podIndex) {
			res, _ = ch.findNode(context.Background(), pod, nodes, idx, 0, 0, nil, rnd, false)
		})
		if res.node == "" {
			continue
		}
		a := pod.DeepCopy()
		a.Spec.NodeName = res.node
		if !c.Assume(a) {
			t.Fatalf("assume %s failed", pod.Name)
		}
		placed++
	}
	if placed != 2 {
		t.Fatalf("placed %d pods of 400m on a 1-cpu node; want 2", placed)
	}
	// Forgetting a failed binding frees the room; confirming keeps it.
	c.Forget(mkPod("p0", "400m", func(p *corev1.Pod) { p.Spec.NodeName = "n" }))
	c.View(func(nodes []*NodeInfo) {
		if got := nodes[0].Requested.MilliCPU; got != 400 {
			t.Fatalf("requested %dm after forget; want 400m", got)
		}
	})
}
