package scheduler

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestIndexMatchesScan drives a cache through random pod and node changes
// and checks, after each, that the PreFilters read from the cache's index
// compute exactly what they compute by scanning the nodes.
func TestIndexMatchesScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	c := NewCache()
	apps := []string{"a", "b", "c"}
	zones := []string{"z0", "z1", "z2", ""} // "": no zone label
	nodeLabels := func(name string) map[string]string {
		l := map[string]string{corev1.LabelHostname: name}
		if z := zones[rnd.IntN(len(zones))]; z != "" {
			l[corev1.LabelTopologyZone] = z
		}
		if rnd.IntN(2) == 0 {
			l["rack"] = fmt.Sprintf("r%d", rnd.IntN(3))
		}
		return l
	}
	addNode := func(name string) {
		n := mkNode(name, "100", nil).Node
		n.Labels = nodeLabels(name)
		c.AddNode(n)
	}
	term := func(key, app string) corev1.PodAffinityTerm {
		return corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
	}
	randPod := func(name string) *corev1.Pod {
		ns := []string{"ns", "other"}[rnd.IntN(2)]
		p := mkPod(name, "10m", withLabels("app", apps[rnd.IntN(len(apps))]))
		p.Namespace = ns
		keys := []string{corev1.LabelHostname, corev1.LabelTopologyZone, "rack"}
		if rnd.IntN(3) == 0 {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term(keys[rnd.IntN(3)], apps[rnd.IntN(3)])},
			}}
		}
		if rnd.IntN(4) == 0 {
			if p.Spec.Affinity == nil {
				p.Spec.Affinity = &corev1.Affinity{}
			}
			p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term(keys[rnd.IntN(3)], apps[rnd.IntN(3)])},
			}
		}
		if rnd.IntN(3) == 0 {
			p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
				MaxSkew: 1, TopologyKey: keys[1+rnd.IntN(2)], WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": apps[rnd.IntN(3)]}},
			})
		}
		if rnd.IntN(3) == 0 {
			p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
				MaxSkew: 2, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": apps[rnd.IntN(3)]}},
			})
		}
		return p
	}
	for i := 0; i < 8; i++ {
		addNode(fmt.Sprintf("n%d", i))
	}
	var placed []*corev1.Pod
	f := &interPodAffinity{nsLabels: func(string) labels.Set { return nil }}
	spread := podTopologySpread{}
	defaulted := podTopologySpread{defaults: systemSpreadDefaults(), systemDefaulted: true,
		defaultSelector: func(p *corev1.Pod) labels.Selector { return labels.SelectorFromSet(labels.Set{"app": p.Labels["app"]}) }}
	listDefaults := podTopologySpread{defaults: []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule},
		{MaxSkew: 2, TopologyKey: "rack", WhenUnsatisfiable: corev1.ScheduleAnyway},
	}, defaultSelector: defaulted.defaultSelector}
	for step := 0; step < 400; step++ {
		switch op := rnd.IntN(10); {
		case op < 5 || len(placed) == 0:
			p := randPod(fmt.Sprintf("p%d", step))
			p.Spec.NodeName = fmt.Sprintf("n%d", rnd.IntN(10)) // n8, n9: no Node yet
			if rnd.IntN(2) == 0 {
				c.Assume(p)
			} else {
				c.AddPod(p)
			}
			placed = append(placed, p)
		case op < 7:
			i := rnd.IntN(len(placed))
			c.RemovePod(placed[i])
			placed = append(placed[:i], placed[i+1:]...)
		case op < 8:
			i := rnd.IntN(len(placed))
			p := placed[i].DeepCopy()
			now := metav1.Now()
			p.DeletionTimestamp = &now
			c.AddPod(p)
			placed[i] = p
		case op < 9:
			addNode(fmt.Sprintf("n%d", rnd.IntN(10)))
		default:
			c.RemoveNode(fmt.Sprintf("n%d", rnd.IntN(10)))
		}
		for q := 0; q < 3; q++ {
			pod := randPod(fmt.Sprintf("incoming%d-%d", step, q))
			c.ViewIndexed(string(pod.UID), func(nodes []*NodeInfo, idx *podIndex) {
				if idx == nil {
					t.Fatal("no index for a pod the cache does not count")
				}
				scan, indexed := newCycleState(newPodInfo(pod), nodes), newCycleState(newPodInfo(pod), nodes)
				indexed.index = idx
				for _, st := range []*CycleState{scan, indexed} {
					f.PreFilter(context.Background(), st, pod)
					spread.PreFilter(context.Background(), st, pod)
					spread.PreScore(context.Background(), st, pod, nodes)
				}
				compare := func(what string, scan, indexed *CycleState) {
					for _, k := range []string{"InterPodAffinity", "PodTopologySpread", "PodTopologySpread/score"} {
						a, b := normalizeState(scan.data[k]), normalizeState(indexed.data[k])
						if !reflect.DeepEqual(a, b) {
							t.Fatalf("step %d, pod %s, %s: %s from the index\n %+v\nfrom a scan\n %+v", step, pod.Name, what, k, b, a)
						}
					}
				}
				compare("own constraints", scan, indexed)
				for name, sp := range map[string]podTopologySpread{"system defaults": defaulted, "list defaults": listDefaults} {
					scan, indexed := newCycleState(newPodInfo(pod), nodes), newCycleState(newPodInfo(pod), nodes)
					indexed.index = idx
					for _, st := range []*CycleState{scan, indexed} {
						sp.PreFilter(context.Background(), st, pod)
						sp.PreScore(context.Background(), st, pod, nodes)
					}
					compare(name, scan, indexed)
				}
			})
		}
	}
}

// normalizeState drops zero counts (which mean the same as no entry) so
// states can be compared.
func normalizeState(v any) any {
	clean := func(m map[topoPair]int) map[topoPair]int {
		out := maps.Clone(m)
		maps.DeleteFunc(out, func(_ topoPair, c int) bool { return c == 0 })
		return out
	}
	switch s := v.(type) {
	case *interPodState:
		return [3]map[topoPair]int{clean(s.existingAnti), clean(s.affinity), clean(s.anti)}
	case *spreadState:
		return [3]any{s.counts, s.self, s.floors}
	case *spreadScore:
		return [3]any{s.s.counts, s.s.self, s.weights}
	}
	return v
}
