package scheduler

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestSelectorsForPod(t *testing.T) {
	idx := func(objs ...any) cache.Indexer {
		i := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		for _, o := range objs {
			if err := i.Add(o); err != nil {
				t.Fatal(err)
			}
		}
		return i
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "ns", Name: name} }
	s := &selectors{
		services: corelisters.NewServiceLister(idx(
			&corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
			&corev1.Service{ObjectMeta: meta("other"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "db"}}},
			&corev1.Service{ObjectMeta: meta("headless")},
		)),
		rcs: corelisters.NewReplicationControllerLister(idx()),
		rss: appslisters.NewReplicaSetLister(idx(
			&appsv1.ReplicaSet{ObjectMeta: meta("web-1"), Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "hash": "1"}}}},
			&appsv1.ReplicaSet{ObjectMeta: meta("web-2"), Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "hash": "2"}}}},
		)),
		sss: appslisters.NewStatefulSetLister(idx()),
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"service and replica set", map[string]string{"app": "web", "hash": "1"}, "app=web,app=web,hash=1"},
		{"service only", map[string]string{"app": "web"}, "app=web"},
		{"nothing selects it", map[string]string{"app": "cache"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := s.forPod(mkPod("p", "1", withLabels(labelsList(tt.labels)...)))
			if got := sel.String(); got != tt.want {
				t.Errorf("selector %q; want %q", got, tt.want)
			}
			if tt.want == "" && !sel.Empty() {
				t.Errorf("selector not empty")
			}
		})
	}
}

func labelsList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// A pod without constraints of its own is spread by the system defaults
// among the pods what selects it selects; a node without a zone scores on
// hostname alone, which (as upstream) adds nothing for the missing key.
func TestSystemDefaultSpreading(t *testing.T) {
	sel := func(p *corev1.Pod) labels.Selector {
		if p.Labels["app"] == "" {
			return labels.Everything()
		}
		return labels.SelectorFromSet(labels.Set{"app": p.Labels["app"]})
	}
	p := podTopologySpread{defaults: systemSpreadDefaults(), systemDefaulted: true, defaultSelector: sel}
	zone := func(z string) map[string]string { return map[string]string{corev1.LabelTopologyZone: z} }
	nodes := []*NodeInfo{
		onNode(mkNode("a", "8", zone("z1")), mkPod("a1", "1", withLabels("app", "web")), mkPod("a2", "1", withLabels("app", "web"))),
		onNode(mkNode("b", "8", zone("z2")), mkPod("b1", "1", withLabels("app", "db")), mkPod("b2", "1", withLabels("app", "db"))),
		onNode(mkNode("c", "8", nil), mkPod("c1", "1", withLabels("app", "web"))),
	}
	score := func(pod *corev1.Pod) []int64 {
		state := newCycleState(newPodInfo(pod), nodes)
		p.PreScore(context.Background(), state, pod, nodes)
		scores := make([]int64, len(nodes))
		for i, n := range nodes {
			scores[i] = p.Score(context.Background(), state, pod, n)
		}
		p.Normalize(scores)
		return scores
	}
	got := score(mkPod("new", "1", withLabels("app", "web")))
	if !(got[2] > got[1] && got[1] > got[0]) {
		t.Errorf("scores a, b, c = %v; want c (one web pod, no zone) > b (none, zone z2) > a (two)", got)
	}
	if got := score(mkPod("lonely", "1")); got[0] != got[1] || got[1] != got[2] {
		t.Errorf("scores for a pod nothing selects = %v; want all equal", got)
	}
	own := mkPod("own", "1", withLabels("app", "web"), func(pod *corev1.Pod) {
		pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "rack", WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	})
	if got := score(own); got[0] != 0 || got[1] != 0 || got[2] != 0 {
		t.Errorf("scores with the pod's own constraint on a key no node has = %v; want all 0", got)
	}
}

func TestParseSpreadDefaults(t *testing.T) {
	base := "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n  - name: PodTopologySpread\n    args:\n"
	c, err := ParseConfig([]byte(base + "      defaultingType: List\n      defaultConstraints:\n      - {maxSkew: 1, topologyKey: rack, whenUnsatisfiable: DoNotSchedule}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Profiles[0]; p.SpreadSystemDefaulted || len(p.SpreadDefaults) != 1 || p.SpreadDefaults[0].TopologyKey != "rack" {
		t.Errorf("List defaults: %+v", p)
	}
	if p := DefaultConfig().Profiles[0]; !p.SpreadSystemDefaulted || len(p.SpreadDefaults) != 2 {
		t.Errorf("default profile spread defaults: %+v", p.SpreadDefaults)
	}
	_, err = ParseConfig([]byte(base + "      defaultingType: System\n      defaultConstraints:\n      - {maxSkew: 1, topologyKey: rack, whenUnsatisfiable: DoNotSchedule}\n"))
	if !errors.Is(err, ErrConfig) {
		t.Errorf("System with defaultConstraints: err %v; want ErrConfig", err)
	}
}
