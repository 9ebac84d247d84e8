package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTaintNodesByCondition(t *testing.T) {
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		op   string
		have []corev1.Taint
		want int
	}{
		{"create adds", Create, nil, 1},
		{"create keeps existing", Create, []corev1.Taint{notReady}, 1},
		{"update untouched", Update, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Taints: tt.have}}
			if err := (&TaintNodesByCondition{}).Admit(context.Background(), request(tt.op, "", "nodes", "", "", "n", n, n.DeepCopy())); err != nil {
				t.Fatal(err)
			}
			if len(n.Spec.Taints) != tt.want {
				t.Errorf("taints = %v; want %d", n.Spec.Taints, tt.want)
			}
		})
	}
}

func TestDefaultTolerationSeconds(t *testing.T) {
	s := int64(60)
	tests := []struct {
		name string
		have []corev1.Toleration
		want int
	}{
		{"adds both", nil, 2},
		{"keeps user not-ready", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s}}, 2},
		{"tolerate everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, 1},
		{"NoSchedule does not count", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod("p")
			pod.Spec.Tolerations = tt.have
			if err := (&DefaultTolerationSeconds{Seconds: 300}).Admit(context.Background(), podCreate(pod)); err != nil {
				t.Fatal(err)
			}
			if len(pod.Spec.Tolerations) != tt.want {
				t.Fatalf("tolerations = %+v; want %d", pod.Spec.Tolerations, tt.want)
			}
			for _, tol := range pod.Spec.Tolerations[len(tt.have):] {
				if tol.TolerationSeconds == nil || *tol.TolerationSeconds != 300 || tol.Effect != corev1.TaintEffectNoExecute {
					t.Errorf("added %+v; want NoExecute for 300s", tol)
				}
			}
		})
	}
}

func TestDefaultStorageClass(t *testing.T) {
	sc := func(name string, def bool, sec int64) storagev1.StorageClass {
		c := storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Unix(sec, 0)}}
		if def {
			c.Annotations = map[string]string{IsDefaultStorageClassAnnotation: "true"}
		}
		return c
	}
	explicit := "fast"
	tests := []struct {
		name    string
		classes []storagev1.StorageClass
		set     *string
		want    string
	}{
		{"no default", []storagev1.StorageClass{sc("a", false, 1)}, nil, ""},
		{"one default", []storagev1.StorageClass{sc("a", false, 1), sc("b", true, 1)}, nil, "b"},
		{"newest default", []storagev1.StorageClass{sc("old", true, 1), sc("new", true, 2)}, nil, "new"},
		{"tie by name", []storagev1.StorageClass{sc("z", true, 1), sc("m", true, 1)}, nil, "m"},
		{"explicit kept", []storagev1.StorageClass{sc("b", true, 1)}, &explicit, "fast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: tt.set}}
			p := &DefaultStorageClass{StorageClasses: &fakeStore{storageClasses: tt.classes}}
			if err := p.Admit(context.Background(), request(Create, "", "persistentvolumeclaims", "", "ns", "data", pvc, nil)); err != nil {
				t.Fatal(err)
			}
			got := ""
			if pvc.Spec.StorageClassName != nil {
				got = *pvc.Spec.StorageClassName
			}
			if got != tt.want {
				t.Errorf("storageClassName = %q; want %q", got, tt.want)
			}
		})
	}
}
