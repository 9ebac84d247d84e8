package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// manyKeys is ConfigMap data of n keys with 10-byte values: about 1.1 MB
// stored for 50000 keys, under etcd's 1.5 MiB, while the managedFields
// listing every key take it over.
func manyKeys(n int) map[string]string {
	data := make(map[string]string, n)
	for i := range n {
		data[fmt.Sprintf("k%05d", i)] = "0123456789"
	}
	return data
}

// TestTooLargeObjects: an object that fits etcd only without its
// managedFields is stored without them (upstream's retry), on create and
// on update; one that does not fit at all gets 413 with etcd's message,
// not a 500 with gRPC internals.
func TestTooLargeObjects(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "limits")
	cms := c.CoreV1().ConfigMaps("limits")

	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Data: manyKeys(50000)}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(cm.Data) != 50000 || len(cm.ManagedFields) != 0 {
		t.Fatalf("created with %d keys and %d managedFields entries; want 50000 and none", len(cm.Data), len(cm.ManagedFields))
	}
	cm.Data["extra"] = "x"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if cm.Data["extra"] != "x" || len(cm.ManagedFields) != 0 {
		t.Fatalf("updated: extra=%q, %d managedFields entries; want x and none", cm.Data["extra"], len(cm.ManagedFields))
	}

	// ConfigMaps are capped at 1 MiB of data; pod templates have no cap
	// short of etcd's. Past 2 MiB the request is over gRPC's limit too.
	for _, size := range []int{1600 << 10, 2500 << 10} {
		huge := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("huge-%d", size)}, Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Args: []string{strings.Repeat("x", size)}}}},
		}}
		_, err := c.CoreV1().PodTemplates("limits").Create(ctx, huge, metav1.CreateOptions{})
		var se apierrors.APIStatus
		if !apierrors.IsRequestEntityTooLargeError(err) || !errorsAs(err, &se) {
			t.Fatalf("create %d bytes: %v; want 413 RequestEntityTooLarge", size, err)
		}
		if st := se.Status(); st.Code != http.StatusRequestEntityTooLarge || st.Message != "etcdserver: request is too large" {
			t.Errorf("create %d bytes: %d %q; want 413 %q", size, st.Code, st.Message, "etcdserver: request is too large")
		}
	}
}

func errorsAs(err error, se *apierrors.APIStatus) bool {
	s, ok := err.(apierrors.APIStatus)
	*se = s
	return ok
}

// TestContinueFromTheFuture lists with a continue token whose
// resourceVersion is ahead of etcd: upstream's 504 "Too large resource
// version" with the ResourceVersionTooLarge cause, not a 500.
func TestContinueFromTheFuture(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "future")
	for i := range 3 {
		if _, err := c.CoreV1().ConfigMaps("future").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.CoreV1().ConfigMaps("future").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil || page.Continue == "" {
		t.Fatalf("first page: %v, continue %q", err, page.Continue)
	}
	raw, err := base64.RawURLEncoding.DecodeString(page.Continue)
	if err != nil {
		t.Fatalf("continue token: %v", err)
	}
	var tok map[string]any
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatalf("continue token: %v", err)
	}
	tok["rv"] = 1 << 40
	raw, _ = json.Marshal(tok)
	_, err = c.CoreV1().ConfigMaps("future").List(ctx, metav1.ListOptions{Limit: 1, Continue: base64.RawURLEncoding.EncodeToString(raw)})
	if !apierrors.IsTimeout(err) || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		t.Fatalf("list from the future: %v; want 504 Too large resource version", err)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("Timeout: Too large resource version: %d, current: ", int64(1)<<40)) {
		t.Errorf("message %q; want upstream's", err.Error())
	}
}
