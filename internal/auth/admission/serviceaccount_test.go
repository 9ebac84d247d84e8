package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceAccount(t *testing.T) {
	no := false
	store := &fakeStore{serviceAccounts: []corev1.ServiceAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "quiet", Namespace: "ns"}, AutomountServiceAccountToken: &no},
	}}
	p := &ServiceAccount{ServiceAccounts: store, RandSuffix: func(int) string { return "abcde" }}
	mount := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: TokenMountPath}

	tests := []struct {
		name      string
		pod       func() *corev1.Pod
		wantErr   string
		wantSA    string
		wantMount bool
		check     func(t *testing.T, pod *corev1.Pod)
	}{
		{
			name:      "defaults and mounts",
			pod:       func() *corev1.Pod { return newPod("p") },
			wantSA:    "default",
			wantMount: true,
			check: func(t *testing.T, pod *corev1.Pod) {
				if len(pod.Spec.Volumes) != 1 || !apiequality.Semantic.DeepEqual(pod.Spec.Volumes[0].Projected, TokenVolumeSource()) {
					t.Errorf("volumes = %+v; want the projected token volume", pod.Spec.Volumes)
				}
				if got := pod.Spec.ImagePullSecrets; len(got) != 1 || got[0].Name != "regcred" {
					t.Errorf("imagePullSecrets = %v; want regcred", got)
				}
				if *pod.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 {
					t.Error("token expiration is not 3607")
				}
			},
		},
		{
			name: "init containers mounted too",
			pod: func() *corev1.Pod {
				p := newPod("p")
				p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
				return p
			},
			wantSA: "default", wantMount: true,
			check: func(t *testing.T, pod *corev1.Pod) {
				if len(pod.Spec.InitContainers[0].VolumeMounts) != 1 {
					t.Error("init container not mounted")
				}
			},
		},
		{
			name:    "missing account",
			pod:     func() *corev1.Pod { p := newPod("p"); p.Spec.ServiceAccountName = "ghost"; return p },
			wantErr: `pods "p" is forbidden: error looking up service account ns/ghost: serviceaccount "ghost" not found`,
		},
		{
			name:   "account opts out",
			pod:    func() *corev1.Pod { p := newPod("p"); p.Spec.ServiceAccountName = "quiet"; return p },
			wantSA: "quiet",
		},
		{
			name:   "pod opts out",
			pod:    func() *corev1.Pod { p := newPod("p"); p.Spec.AutomountServiceAccountToken = &no; return p },
			wantSA: "default",
		},
		{
			name: "existing mount at path kept",
			pod: func() *corev1.Pod {
				p := newPod("p")
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "mine", MountPath: TokenMountPath}}
				return p
			},
			wantSA: "default",
			check: func(t *testing.T, pod *corev1.Pod) {
				if len(pod.Spec.Volumes) != 0 || len(pod.Spec.Containers[0].VolumeMounts) != 1 {
					t.Errorf("pod changed: %+v", pod.Spec)
				}
			},
		},
		{
			name: "mirror pod untouched",
			pod: func() *corev1.Pod {
				p := newPod("p")
				p.Annotations = map[string]string{MirrorPodAnnotation: "x"}
				return p
			},
		},
		{
			name: "mirror pod with secret",
			pod: func() *corev1.Pod {
				p := newPod("p")
				p.Annotations = map[string]string{MirrorPodAnnotation: "x"}
				p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
				return p
			},
			wantErr: `pods "p" is forbidden: a mirror pod may not reference secrets`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod()
			err := p.Admit(context.Background(), podCreate(pod))
			if got := errString(err); got != tt.wantErr {
				t.Fatalf("got %q; want %q", got, tt.wantErr)
			}
			if err != nil {
				return
			}
			if pod.Spec.ServiceAccountName != tt.wantSA {
				t.Errorf("serviceAccountName = %q; want %q", pod.Spec.ServiceAccountName, tt.wantSA)
			}
			mounted := len(pod.Spec.Containers[0].VolumeMounts) == 1 && apiequality.Semantic.DeepEqual(pod.Spec.Containers[0].VolumeMounts[0], mount)
			if mounted != tt.wantMount {
				t.Errorf("mounted = %v; want %v (%+v)", mounted, tt.wantMount, pod.Spec.Containers[0].VolumeMounts)
			}
			if tt.check != nil {
				tt.check(t, pod)
			}
		})
	}
}
