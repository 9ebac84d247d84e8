package kubelet

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestEmptyDirMemorySize(t *testing.T) {
	const mi = 1 << 20
	limits := func(mem string) corev1.ResourceRequirements {
		if mem == "" {
			return corev1.ResourceRequirements{}
		}
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	pod := func(init []string, apps ...string) *corev1.Pod {
		p := &corev1.Pod{}
		for _, m := range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "i", Resources: limits(m)})
		}
		for _, m := range apps {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c", Resources: limits(m)})
		}
		return p
	}
	sized := func(q string) *corev1.EmptyDirVolumeSource {
		v := resource.MustParse(q)
		return &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &v}
	}
	unsized := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
	withOverhead := pod(nil, "64Mi")
	withOverhead.Spec.Overhead = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi"), corev1.ResourceCPU: resource.MustParse("1")}
	sidecar := pod([]string{"32Mi"}, "64Mi")
	sidecar.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)

	tests := []struct {
		name        string
		allocatable int64
		pod         *corev1.Pod
		volume      *corev1.EmptyDirVolumeSource
		want        int64
	}{
		{"no limits: node allocatable", 1024 * mi, pod(nil, ""), unsized, 1024 * mi},
		{"sizeLimit", 1024 * mi, pod(nil, ""), sized("8Mi"), 8 * mi},
		{"pod limit: containers summed", 1024 * mi, pod(nil, "64Mi", "32Mi"), unsized, 96 * mi},
		{"one container without a limit: no pod limit", 1024 * mi, pod(nil, "64Mi", ""), unsized, 1024 * mi},
		{"sizeLimit under the pod limit", 1024 * mi, pod(nil, "64Mi"), sized("8Mi"), 8 * mi},
		{"sizeLimit over the pod limit", 1024 * mi, pod(nil, "64Mi"), sized("128Mi"), 64 * mi},
		{"pod limit over allocatable", 32 * mi, pod(nil, "64Mi"), unsized, 32 * mi},
		{"sizeLimit over allocatable", 32 * mi, pod(nil, ""), sized("64Mi"), 32 * mi},
		{"a larger init container", 1024 * mi, pod([]string{"200Mi"}, "64Mi"), unsized, 200 * mi},
		{"init container without a limit", 1024 * mi, pod([]string{""}, "64Mi"), unsized, 1024 * mi},
		{"sidecar adds to the apps", 1024 * mi, sidecar, unsized, 96 * mi},
		{"overhead added", 1024 * mi, withOverhead, unsized, 80 * mi},
		{"allocatable unknown", 0, pod(nil, ""), sized("8Mi"), 8 * mi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := emptyDirMemorySize(tt.allocatable, tt.pod, tt.volume); got != tt.want {
				t.Errorf("got %d MiB; want %d MiB", got/mi, tt.want/mi)
			}
		})
	}
}

// TestEmptyDirModeSetOnce checks a disk emptyDir is made 0777 when
// created, and a resync leaves a mode changed since alone.
func TestEmptyDirModeSetOnce(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}
	v := &corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	w := newPodWorker(k, pod.UID, pod.Namespace, pod.Name)
	path, _ := w.volumePath(pod, v)

	steps := []struct {
		name   string
		before func()
		want   os.FileMode
	}{
		{"created", func() {}, 0o777},
		{"changed in the pod, then resynced", func() { _ = os.Chmod(path, 0o700) }, 0o700},
	}
	for _, s := range steps {
		s.before()
		if err := w.setUpVolume(context.Background(), pod, v); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := fi.Mode().Perm(); got != s.want {
			t.Errorf("%s: mode %o; want %o", s.name, got, s.want)
		}
	}
}
