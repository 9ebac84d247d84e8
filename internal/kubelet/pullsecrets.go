package kubelet

import (
	"context"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Image pull credentials, as upstream's kubelet takes them: from the
// pod's imagePullSecrets (kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg Secrets; the ServiceAccount admission has
// already added the service account's), by the image's registry host.
// A pull tries each matching credential in turn, then none, so a public
// image still pulls with a wrong secret; registries.yaml credentials
// apply when the pull carries none.

// dockerConfigEntry is one registry's login in a docker config.
type dockerConfigEntry struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// pullAuths returns the credentials the pod's pull secrets hold for
// image's registry. Secrets that cannot be read are skipped, as upstream.
func (w *podWorker) pullAuths(ctx context.Context, pod *corev1.Pod, image string) []*runtimeapi.AuthConfig {
	var out []*runtimeapi.AuthConfig
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := w.k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			w.log.Warn("reading an image pull secret", "secret", ref.Name, "err", err)
			continue
		}
		out = append(out, secretAuths(s, imageRegistry(image))...)
	}
	return out
}

// secretAuths returns the logins s holds for registry.
func secretAuths(s *corev1.Secret, registry string) []*runtimeapi.AuthConfig {
	entries := map[string]dockerConfigEntry{}
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		if json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg) != nil {
			return nil
		}
		entries = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if json.Unmarshal(s.Data[corev1.DockerConfigKey], &entries) != nil {
			return nil
		}
	default:
		return nil
	}
	// containerd hands a login only to the host its server address
	// names: the registry's own (Docker Hub's API host for docker.io),
	// never a mirror's.
	server := "https://" + registry
	if registry == "docker.io" {
		server = "https://registry-1.docker.io"
	}
	var out []*runtimeapi.AuthConfig
	for key, e := range entries {
		if registryHost(key) != registry {
			continue
		}
		out = append(out, &runtimeapi.AuthConfig{
			Username: e.Username, Password: e.Password, Auth: e.Auth,
			IdentityToken: e.IdentityToken, ServerAddress: server,
		})
	}
	return out
}

// imageRegistry is the registry host an image reference names
// (docker.io when the first component is not a host).
func imageRegistry(image string) string {
	first, _, found := strings.Cut(image, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return "docker.io"
	}
	return registryHost(first)
}

// registryHost normalizes a docker config key ("https://index.docker.io/v1/",
// "registry.example.com:5000") to a registry host.
func registryHost(key string) string {
	if i := strings.Index(key, "://"); i >= 0 {
		key = key[i+3:]
	}
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return key
}
