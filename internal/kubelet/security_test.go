package kubelet

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// securedPod is a pod "p" in "ns" with UID "u", the given pod security
// context and one container "c" with its own.
func securedPod(podSC *corev1.PodSecurityContext, cSC *corev1.SecurityContext) (*corev1.Pod, *corev1.Container) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		SecurityContext: podSC,
		Containers:      []corev1.Container{{Name: "c", SecurityContext: cSC}},
	}}
	pod.Name, pod.Namespace, pod.UID = "p", "ns", "u"
	return pod, &pod.Spec.Containers[0]
}

func TestVerifyRunAsNonRoot(t *testing.T) {
	root, app := ptrTo[int64](0), ptrTo[int64](1000)
	tests := []struct {
		name          string
		podSC         *corev1.PodSecurityContext
		cSC           *corev1.SecurityContext
		imageUID      *int64
		imageUsername string
		want          string // "" for no error
	}{
		{"not asked", nil, nil, root, "", ""},
		{"image root", &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)}, nil, root, "",
			`container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: c)`},
		{"image non-root uid", &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)}, nil, app, "", ""},
		{"image user name", nil, &corev1.SecurityContext{RunAsNonRoot: ptrTo(true)}, nil, "app",
			`container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "p_ns(u)", container: c)`},
		{"pod runAsUser over image root", &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true), RunAsUser: app}, nil, root, "", ""},
		{"container runAsUser 0", &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true), RunAsUser: app}, &corev1.SecurityContext{RunAsUser: root}, app, "",
			`container's runAsUser breaks non-root policy (pod: "p_ns(u)", container: c)`},
		{"container lifts the pod's", &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)}, &corev1.SecurityContext{RunAsNonRoot: ptrTo(false)}, root, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, c := securedPod(tt.podSC, tt.cSC)
			got := ""
			if err := verifyRunAsNonRoot(pod, c, tt.imageUID, tt.imageUsername); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("verifyRunAsNonRoot = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestSecurityContextUserAndGroups(t *testing.T) {
	imageRoot, imageApp := ptrTo[int64](0), ptrTo[int64](1000)
	value := func(v *runtimeapi.Int64Value) any {
		if v == nil {
			return nil
		}
		return v.Value
	}
	tests := []struct {
		name          string
		podSC         *corev1.PodSecurityContext
		cSC           *corev1.SecurityContext
		imageUID      *int64
		imageUsername string
		wantUser      any // int64, or nil for unset
		wantUsername  string
		wantGroup     any
		wantGroups    []int64
	}{
		{"image user", nil, nil, imageApp, "", int64(1000), "", nil, nil},
		{"image root, group from the container", nil, &corev1.SecurityContext{RunAsGroup: ptrTo[int64](3000)}, imageRoot, "", int64(0), "", int64(3000), nil},
		{"image user name", nil, nil, nil, "app", nil, "app", nil, nil},
		{"pod user over the image's", &corev1.PodSecurityContext{RunAsUser: ptrTo[int64](2000), RunAsGroup: ptrTo[int64](2001)}, nil, imageApp, "", int64(2000), "", int64(2001), nil},
		{"container over pod", &corev1.PodSecurityContext{RunAsUser: ptrTo[int64](2000), RunAsGroup: ptrTo[int64](2001)},
			&corev1.SecurityContext{RunAsUser: ptrTo[int64](3000), RunAsGroup: ptrTo[int64](3001)}, nil, "app", int64(3000), "", int64(3001), nil},
		{"fsGroup then supplemental groups", &corev1.PodSecurityContext{FSGroup: ptrTo[int64](2000), SupplementalGroups: []int64{4000, 4001}}, nil, imageRoot, "", int64(0), "", nil, []int64{2000, 4000, 4001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, c := securedPod(tt.podSC, tt.cSC)
			got := securityContext(pod, c, tt.imageUID, tt.imageUsername)
			if value(got.RunAsUser) != tt.wantUser || got.RunAsUsername != tt.wantUsername || value(got.RunAsGroup) != tt.wantGroup {
				t.Errorf("user %v, username %q, group %v; want %v, %q, %v",
					value(got.RunAsUser), got.RunAsUsername, value(got.RunAsGroup), tt.wantUser, tt.wantUsername, tt.wantGroup)
			}
			if !slices.Equal(got.SupplementalGroups, tt.wantGroups) {
				t.Errorf("supplemental groups %v; want %v", got.SupplementalGroups, tt.wantGroups)
			}
		})
	}
}
