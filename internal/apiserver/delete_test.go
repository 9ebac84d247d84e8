package apiserver

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetPropagationFinalizers(t *testing.T) {
	policy := func(p metav1.DeletionPropagation) *metav1.DeletionPropagation { return &p }
	yes, no := true, false
	tests := []struct {
		name string
		have []string
		opts metav1.DeleteOptions
		want []string
	}{
		{"no policy keeps", []string{"a"}, metav1.DeleteOptions{}, []string{"a"}},
		{"orphan adds", []string{"a"}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationOrphan)}, []string{"a", "orphan"}},
		{"foreground replaces orphan", []string{"orphan"}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationForeground)}, []string{"foregroundDeletion"}},
		{"background removes both", []string{"orphan", "foregroundDeletion", "x"}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationBackground)}, []string{"x"}},
		{"orphanDependents true", nil, metav1.DeleteOptions{OrphanDependents: &yes}, []string{"orphan"}},
		{"orphanDependents false", []string{"orphan"}, metav1.DeleteOptions{OrphanDependents: &no}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &metav1.ObjectMeta{Finalizers: tt.have}
			setPropagationFinalizers(m, &tt.opts)
			if !reflect.DeepEqual(m.Finalizers, tt.want) {
				t.Errorf("finalizers = %v; want %v", m.Finalizers, tt.want)
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		out := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			out[corev1.ResourceName(kv[i])] = apiresource.MustParse(kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		res  corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"none", corev1.ResourceRequirements{}, corev1.PodQOSBestEffort},
		{"equal", corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "1", "memory", "1Gi")}, corev1.PodQOSGuaranteed},
		{"limits only", corev1.ResourceRequirements{Limits: rl("cpu", "1", "memory", "1Gi")}, corev1.PodQOSGuaranteed},
		{"requests only", corev1.ResourceRequirements{Requests: rl("cpu", "1")}, corev1.PodQOSBurstable},
		{"unequal", corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "2", "memory", "1Gi")}, corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: tt.res}}}}
			if got := qosClass(pod); got != tt.want {
				t.Errorf("qosClass = %s; want %s", got, tt.want)
			}
		})
	}
}
