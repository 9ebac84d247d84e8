package controller

import (
	"context"

	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// startWithManager starts a test server and a controller manager on it;
// both stop when the test ends.
func startWithManager(t *testing.T) *testserver.Server {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- manager.Run(ctx, managerConfig(s), manager.Options{
			UseServiceAccountCredentials: true,
			Logger:                       log,
			MaxRetryDelay:                time.Second,
			RediscoveryPeriod:            2 * time.Second,
		})
	}()
	// Registered after testserver's cleanup, so it runs first: the
	// manager stops before the server does.
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager.Run: %v", err)
		}
	})
	return s
}

// managerConfig is the controller manager's own identity, as `skiff
// server` runs it: with UseServiceAccountCredentials each controller then
// acts as its own service account, so the tests exercise the controller
// roles of the default policy.
func managerConfig(s *testserver.Server) *rest.Config {
	return s.UserConfig("system:kube-controller-manager")
}

// eventually polls cond every 50ms until it returns true or the timeout
// passes; then it fails the test with the last message.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createNamespace(t testing.TB, c kubernetes.Interface, name string) {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// ownedBy is an owner reference to a ConfigMap.
func ownedBy(owner *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, BlockOwnerDeletion: &block}
}

func createConfigMap(t testing.TB, c kubernetes.Interface, ns, name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := c.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, Finalizers: finalizers, OwnerReferences: owners,
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create configmap %s/%s: %v", ns, name, err)
	}
	return cm
}

// gone reports whether the configmap ns/name no longer exists.
func configMapGone(c kubernetes.Interface, ns, name string) (bool, string) {
	cm, err := c.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err == nil {
		return false, fmt.Sprintf("configmap %s/%s still exists (deletionTimestamp %v, finalizers %v, owners %d)", ns, name, cm.DeletionTimestamp, cm.Finalizers, len(cm.OwnerReferences))
	}
	if isNotFound(err) {
		return true, ""
	}
	return false, err.Error()
}

func removeFinalizers(t testing.TB, c kubernetes.Interface, ns, name string) {
	t.Helper()
	_, err := c.CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("remove finalizers of %s/%s: %v", ns, name, err)
	}
}

func deleteWith(t testing.TB, c kubernetes.Interface, ns, name string, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := c.CoreV1().ConfigMaps(ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		t.Fatalf("delete %s/%s (%s): %v", ns, name, policy, err)
	}
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
