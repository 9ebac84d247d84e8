package integration

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestPodLogPreviousNotFound: the node refuses `logs --previous` for a
// container that never restarted with 400 and a message; the API server
// must pass both on as upstream does, so kubectl prints
// `previous terminated container "c" in pod "p" not found`.
func TestPodLogPreviousNotFound(t *testing.T) {
	const msg = `previous terminated container "c" in pod "p" not found`
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/containerLogs/podlog/p/c" && r.URL.Query().Get("previous") == "true" {
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
		http.Error(w, "unexpected "+r.URL.String(), http.StatusTeapot)
	}))
	defer kubelet.Close()
	_, portStr, _ := net.SplitHostPort(kubelet.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "podlog-node"}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
	}}
	if _, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createNamespace(t, c, "podlog")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		NodeName: "podlog-node", Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
	}}
	if _, err := c.CoreV1().Pods("podlog").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Stream, as kubectl logs reads: it decodes the error Status.
	rc, err := c.CoreV1().Pods("podlog").GetLogs("p", &corev1.PodLogOptions{Container: "c", Previous: true}).Stream(ctx)
	if err == nil {
		rc.Close()
	}
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("logs --previous: %v; want 400 BadRequest", err)
	}
	if err.Error() != msg {
		t.Errorf("logs --previous: %q; want %q", err.Error(), msg)
	}
}
