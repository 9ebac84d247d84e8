package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPriorityAdmit(t *testing.T) {
	never := corev1.PreemptNever
	pc := func(name string, value int32, def bool) schedulingv1.PriorityClass {
		return schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: def}
	}
	withDefault := append(SystemPriorityClasses(), pc("high", 1000, false), pc("default", 10, true), pc("racy-default", 5, true))
	noPreempt := pc("polite", 7, false)
	noPreempt.PreemptionPolicy = &never
	tests := []struct {
		name      string
		classes   []schedulingv1.PriorityClass
		className string
		priority  *int32
		wantErr   string
		wantValue int32
		wantClass string
		wantPol   corev1.PreemptionPolicy
	}{
		{name: "no class, no default", classes: SystemPriorityClasses(), wantValue: 0, wantPol: corev1.PreemptLowerPriority},
		{name: "global default lowest wins", classes: withDefault, wantValue: 5, wantClass: "racy-default"},
		{name: "named class", classes: withDefault, className: "high", wantValue: 1000, wantClass: "high"},
		{name: "system class", classes: withDefault, className: SystemNodeCritical, wantValue: 2000001000, wantClass: SystemNodeCritical},
		{name: "preemption policy", classes: []schedulingv1.PriorityClass{noPreempt}, className: "polite", wantValue: 7, wantClass: "polite", wantPol: corev1.PreemptNever},
		{name: "unknown class", classes: withDefault, className: "nope",
			wantErr: `pods "p" is forbidden: no PriorityClass with name nope was found`},
		{name: "mismatched priority", classes: withDefault, className: "high", priority: func() *int32 { v := int32(3); return &v }(),
			wantErr: `pods "p" is forbidden: the integer value of priority (3) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod("p")
			pod.Spec.PriorityClassName = tt.className
			pod.Spec.Priority = tt.priority
			err := (&Priority{PriorityClasses: &fakeStore{priorityClasses: tt.classes}}).Admit(context.Background(), podCreate(pod))
			if got := errString(err); got != tt.wantErr {
				t.Fatalf("got %q; want %q", got, tt.wantErr)
			}
			if err != nil {
				return
			}
			if *pod.Spec.Priority != tt.wantValue || pod.Spec.PriorityClassName != tt.wantClass {
				t.Errorf("got %d %q; want %d %q", *pod.Spec.Priority, pod.Spec.PriorityClassName, tt.wantValue, tt.wantClass)
			}
			if tt.wantPol != "" && (pod.Spec.PreemptionPolicy == nil || *pod.Spec.PreemptionPolicy != tt.wantPol) {
				t.Errorf("preemptionPolicy = %v; want %s", pod.Spec.PreemptionPolicy, tt.wantPol)
			}
		})
	}
}

func TestPriorityValidateSecondDefault(t *testing.T) {
	store := &fakeStore{priorityClasses: []schedulingv1.PriorityClass{{ObjectMeta: metav1.ObjectMeta{Name: "first"}, GlobalDefault: true}}}
	tests := []struct {
		name    string
		pc      *schedulingv1.PriorityClass
		wantErr string
	}{
		{"second default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "second"}, GlobalDefault: true},
			`priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already marked as default. Only one default can exist`},
		{"same default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "first"}, GlobalDefault: true}, ""},
		{"not default", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Priority{PriorityClasses: store}).Validate(context.Background(), request(Create, "scheduling.k8s.io", "priorityclasses", "", "", tt.pc.Name, tt.pc, nil))
			if got := errString(err); got != tt.wantErr {
				t.Errorf("got %q; want %q", got, tt.wantErr)
			}
		})
	}
}
