package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func limitRange(items ...corev1.LimitRangeItem) corev1.LimitRange {
	return corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr", Namespace: "ns"}, Spec: corev1.LimitRangeSpec{Limits: items}}
}

func TestLimitRangerDefaults(t *testing.T) {
	tests := []struct {
		name       string
		item       corev1.LimitRangeItem
		pod        *corev1.Pod
		wantReq    corev1.ResourceList
		wantLim    corev1.ResourceList
		annotation string
	}{
		{
			name:       "default and defaultRequest",
			item:       corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "500m"), DefaultRequest: rl("cpu", "100m")},
			pod:        newPod("p"),
			wantReq:    rl("cpu", "100m"),
			wantLim:    rl("cpu", "500m"),
			annotation: "LimitRanger plugin set: cpu request for container c; cpu limit for container c",
		},
		{
			name:       "request derived from default",
			item:       corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("memory", "1Gi")},
			pod:        newPod("p"),
			wantReq:    rl("memory", "1Gi"),
			wantLim:    rl("memory", "1Gi"),
			annotation: "LimitRanger plugin set: memory request for container c; memory limit for container c",
		},
		{
			name:    "explicit values kept",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: rl("cpu", "500m"), DefaultRequest: rl("cpu", "100m")},
			pod:     newPod("p", container("c", rl("cpu", "200m"), rl("cpu", "1"))),
			wantReq: rl("cpu", "200m"),
			wantLim: rl("cpu", "1"),
		},
		{
			name:    "pod item gives no defaults",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "2")},
			pod:     newPod("p"),
			wantReq: corev1.ResourceList{},
			wantLim: corev1.ResourceList{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &LimitRanger{LimitRanges: &fakeStore{limitRanges: []corev1.LimitRange{limitRange(tt.item)}}}
			if err := p.Admit(context.Background(), podCreate(tt.pod)); err != nil {
				t.Fatal(err)
			}
			res := tt.pod.Spec.Containers[0].Resources
			if !apiequality.Semantic.DeepEqual(res.Requests, tt.wantReq) || !apiequality.Semantic.DeepEqual(res.Limits, tt.wantLim) {
				t.Errorf("got requests %v limits %v; want %v %v", res.Requests, res.Limits, tt.wantReq, tt.wantLim)
			}
			if got := tt.pod.Annotations[LimitRangeAnnotation]; got != tt.annotation {
				t.Errorf("annotation = %q; want %q", got, tt.annotation)
			}
		})
	}
}

func TestLimitRangerValidate(t *testing.T) {
	tests := []struct {
		name    string
		item    corev1.LimitRangeItem
		req     *Request
		wantMsg string
	}{
		{
			name:    "container max limit",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "500m")},
			req:     podCreate(newPod("p", container("c", rl("cpu", "100m"), rl("cpu", "1")))),
			wantMsg: `pods "p" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`,
		},
		{
			name:    "container max without limit",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "500m")},
			req:     podCreate(newPod("p", container("c", rl("cpu", "100m"), nil))),
			wantMsg: `pods "p" is forbidden: maximum cpu usage per Container is 500m.  No limit is specified`,
		},
		{
			name:    "container min request",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: rl("memory", "64Mi")},
			req:     podCreate(newPod("p", container("c", rl("memory", "32Mi"), nil))),
			wantMsg: `pods "p" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi`,
		},
		{
			name:    "ratio",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: rl("cpu", "2")},
			req:     podCreate(newPod("p", container("c", rl("cpu", "100m"), rl("cpu", "300m")))),
			wantMsg: `pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000`,
		},
		{
			name: "pod max over sum",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: rl("cpu", "1")},
			req: podCreate(newPod("p",
				container("a", rl("cpu", "300m"), rl("cpu", "600m")),
				container("b", rl("cpu", "300m"), rl("cpu", "600m")))),
			wantMsg: `pods "p" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`,
		},
		{
			name: "two violations aggregate",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "500m", "memory", "1Gi")},
			req:  podCreate(newPod("p", container("c", nil, rl("cpu", "1", "memory", "2Gi")))),
			wantMsg: `pods "p" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, ` +
				`maximum memory usage per Container is 1Gi, but limit is 2Gi]`,
		},
		{
			name:    "within bounds",
			item:    corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: rl("cpu", "50m"), Max: rl("cpu", "500m")},
			req:     podCreate(newPod("p", container("c", rl("cpu", "100m"), rl("cpu", "200m")))),
			wantMsg: "",
		},
		{
			name: "pvc max request",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Max: rl("storage", "1Gi")},
			req: request(Create, "", "persistentvolumeclaims", "", "ns", "data", &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
				Spec:       corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "5Gi")}},
			}, nil),
			wantMsg: `persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 5Gi`,
		},
		{
			name: "pod update not checked",
			item: corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: rl("cpu", "500m")},
			req: request(Update, "", "pods", "", "ns", "p",
				newPod("p", container("c", nil, rl("cpu", "1"))), newPod("p", container("c", nil, rl("cpu", "1")))),
			wantMsg: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &LimitRanger{LimitRanges: &fakeStore{limitRanges: []corev1.LimitRange{limitRange(tt.item)}}}
			err := p.Validate(context.Background(), tt.req)
			if got := errString(err); got != tt.wantMsg {
				t.Errorf("got %q; want %q", got, tt.wantMsg)
			}
			if err != nil && errCode(err) != 403 {
				t.Errorf("code = %d; want 403", errCode(err))
			}
		})
	}
}
