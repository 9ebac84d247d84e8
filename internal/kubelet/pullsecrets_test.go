package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestImageRegistry(t *testing.T) {
	for image, want := range map[string]string{
		"busybox":                               "docker.io",
		"library/busybox:1":                     "docker.io",
		"docker.io/library/busybox":             "docker.io",
		"registry.example.com:5000/team/app:v1": "registry.example.com:5000",
		"localhost/app":                         "localhost",
		"ghcr.io/o/app@sha256:abc":              "ghcr.io",
	} {
		if got := imageRegistry(image); got != want {
			t.Errorf("imageRegistry(%q) = %q; want %q", image, got, want)
		}
	}
}

func TestSecretAuths(t *testing.T) {
	configJSON := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{
		corev1.DockerConfigJsonKey: []byte(`{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"},"registry.example.com:5000":{"auth":"dTpw"}}}`),
	}}
	legacy := &corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{
		corev1.DockerConfigKey: []byte(`{"registry.example.com:5000":{"identitytoken":"tok"}}`),
	}}
	opaque := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"x": []byte("{}")}}
	tests := []struct {
		name     string
		secret   *corev1.Secret
		registry string
		want     string // username, auth or identity token of the one match
	}{
		{"docker hub by its index address", configJSON, "docker.io", "u"},
		{"registry with a port", configJSON, "registry.example.com:5000", "dTpw"},
		{"no entry", configJSON, "ghcr.io", ""},
		{"dockercfg", legacy, "registry.example.com:5000", "tok"},
		{"not a pull secret", opaque, "docker.io", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secretAuths(tt.secret, tt.registry)
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("got %v; want none", got)
				}
				return
			}
			if len(got) != 1 || (got[0].Username+got[0].Auth+got[0].IdentityToken) != tt.want {
				t.Errorf("got %v; want one login %q", got, tt.want)
			}
		})
	}
}
