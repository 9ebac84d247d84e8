package nodematch

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSelector(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a", "cpus": "8"}}}
	req := func(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	term := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: exprs}
	}
	tests := []struct {
		name  string
		terms []corev1.NodeSelectorTerm
		want  bool
	}{
		{"in", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "a", "b"))}, true},
		{"in missing value", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "b"))}, false},
		{"not in absent key", []corev1.NodeSelectorTerm{term(req("disk", corev1.NodeSelectorOpNotIn, "ssd"))}, true},
		{"exists", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpExists))}, true},
		{"does not exist", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpDoesNotExist))}, false},
		{"gt", []corev1.NodeSelectorTerm{term(req("cpus", corev1.NodeSelectorOpGt, "4"))}, true},
		{"lt not a number", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpLt, "4"))}, false},
		{"all expressions of a term", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "a"), req("cpus", corev1.NodeSelectorOpLt, "4"))}, false},
		{"any term", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "b")), term(req("zone", corev1.NodeSelectorOpIn, "a"))}, true},
		{"empty term matches nothing", []corev1.NodeSelectorTerm{{}}, false},
		{"match fields by name", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")}}}, true},
		{"match fields other key", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req("spec.x", corev1.NodeSelectorOpExists)}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Selector(&corev1.NodeSelector{NodeSelectorTerms: tt.terms}, node); got != tt.want {
				t.Errorf("Selector = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestPodSpec(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a"}}}
	affinity := func(zone string) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}},
		}}}
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want bool
	}{
		{"nothing asked", corev1.PodSpec{}, true},
		{"node selector matches", corev1.PodSpec{NodeSelector: map[string]string{"zone": "a"}}, true},
		{"node selector differs", corev1.PodSpec{NodeSelector: map[string]string{"zone": "b"}}, false},
		{"affinity matches", corev1.PodSpec{Affinity: affinity("a")}, true},
		{"affinity differs", corev1.PodSpec{Affinity: affinity("b")}, false},
		{"both must hold", corev1.PodSpec{NodeSelector: map[string]string{"zone": "a"}, Affinity: affinity("b")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PodSpec(&tt.spec, node); got != tt.want {
				t.Errorf("PodSpec = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestToleration(t *testing.T) {
	taint := &corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		tol  corev1.Toleration
		want bool
	}{
		{"equal", corev1.Toleration{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}, true},
		{"equal is the default operator", corev1.Toleration{Key: "k", Value: "v"}, true},
		{"other value", corev1.Toleration{Key: "k", Value: "w"}, false},
		{"exists", corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists}, true},
		{"exists any key", corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"empty key with equal", corev1.Toleration{Value: "v"}, false},
		{"other effect", corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Toleration(&tt.tol, taint); got != tt.want {
				t.Errorf("Toleration = %v; want %v", got, tt.want)
			}
			if got := Tolerated([]corev1.Toleration{{Key: "other", Operator: corev1.TolerationOpExists}, tt.tol}, taint); got != tt.want {
				t.Errorf("Tolerated = %v; want %v", got, tt.want)
			}
		})
	}
}
