package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestImagePullSecretReachesRegistry: a pod's imagePullSecrets log in to
// the registry its image names. The registry is a stub on loopback that
// asks for credentials and records the ones it gets (no real registry is
// reachable here; the pull then fails with ErrImagePull).
func TestImagePullSecretReachesRegistry(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="stub"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")

	ns := newNamespace(t)
	_, err := client.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
			`{"auths":{"` + host + `":{"username":"puller","password":"s3cret"}}}`)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applyPod(t, ns, "private", `  imagePullSecrets: [{name: regcred}]
  containers:
  - name: c
    image: `+host+`/team/app:1
`)
	waitPod(t, ns, "private", "waiting with ErrImagePull", waitingReason("c", "ErrImagePull"))
	// base64("puller:s3cret")
	const want = "Basic cHVsbGVyOnMzY3JldA=="
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry saw Authorization %q; want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
