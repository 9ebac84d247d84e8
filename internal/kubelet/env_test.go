package kubelet

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestContainerEnv(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	k.cfg.NodeIP = net.ParseIP("192.0.2.1")
	k.cfg.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("1Gi"),
	}
	ctx := context.Background()
	if _, err := k.client.CoreV1().ConfigMaps("ns").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns"},
		Data:       map[string]string{"a": "1"},
		BinaryData: map[string][]byte{"bin": []byte("raw")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fieldRef := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	resourceRef := func(container, res, divisor string) *corev1.EnvVarSource {
		ref := &corev1.ResourceFieldSelector{ContainerName: container, Resource: res}
		if divisor != "" {
			ref.Divisor = resource.MustParse(divisor)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: ref}
	}
	cmKey := func(key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: key, Optional: &optional,
		}}
	}
	tests := []struct {
		name    string
		source  *corev1.EnvVarSource
		podIPs  []string
		want    string
		wantSet bool
		wantErr string
	}{
		// The pod's status has no address yet: the sandbox's is used.
		{"podIP from the sandbox", fieldRef("status.podIP"), []string{"10.1.0.5", "fd00::5"}, "10.1.0.5", true, ""},
		{"podIPs from the sandbox", fieldRef("status.podIPs"), []string{"10.1.0.5", "fd00::5"}, "10.1.0.5,fd00::5", true, ""},
		{"hostIP", fieldRef("status.hostIP"), nil, "192.0.2.1", true, ""},
		{"memory limit set", resourceRef("", "limits.memory", ""), nil, "67108864", true, ""},
		{"cpu request in millicores", resourceRef("", "requests.cpu", "1m"), nil, "250", true, ""},
		{"unset cpu limit is allocatable", resourceRef("", "limits.cpu", ""), nil, "4", true, ""},
		{"unset memory limit of another container is allocatable", resourceRef("other", "limits.memory", "1Mi"), nil, "1024", true, ""},
		{"configMap key", cmKey("a", false), nil, "1", true, ""},
		{"binaryData is not read", cmKey("bin", false), nil, "", false, "couldn't find key bin in ConfigMap ns/cfg"},
		{"optional missing key", cmKey("nope", true), nil, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
					},
					Env: []corev1.EnvVar{{Name: "V", ValueFrom: tt.source}},
				}, {Name: "other"}}},
			}
			env, err := k.containerEnv(ctx, pod, &pod.Spec.Containers[0], tt.podIPs)
			if tt.wantErr != "" || err != nil {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			got, set := "", false
			for _, e := range env {
				if e.Name == "V" {
					got, set = e.Value, true
				}
			}
			if got != tt.want || set != tt.wantSet {
				t.Errorf("V = %q (set %v); want %q (set %v)", got, set, tt.want, tt.wantSet)
			}
			if len(pod.Spec.Containers[1].Resources.Limits) != 0 {
				t.Errorf("the pod was changed: %v", pod.Spec.Containers[1].Resources.Limits)
			}
		})
	}
}

func TestServiceEnvOwnKubernetesServiceWins(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	ctx := context.Background()
	for ns, ip := range map[string]string{"default": "10.43.0.1", "ns": "10.43.0.99"} {
		if _, err := k.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: ns},
			Spec:       corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		links bool
		want  string
	}{
		{"service links", true, "10.43.0.99"},
		{"no service links", false, "10.43.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{EnableServiceLinks: &tt.links}}
			env, err := k.serviceEnv(ctx, pod)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, e := range env {
				if e.Name == "KUBERNETES_SERVICE_HOST" {
					if got != "" {
						t.Errorf("KUBERNETES_SERVICE_HOST twice: %q and %q", got, e.Value)
					}
					got = e.Value
				}
			}
			if got != tt.want {
				t.Errorf("KUBERNETES_SERVICE_HOST = %q; want %q", got, tt.want)
			}
		})
	}
}
