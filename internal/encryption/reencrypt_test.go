package encryption

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestReencrypt(t *testing.T) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	secret := func(ns, name, rv string) runtime.Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Secret")
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetResourceVersion(rv)
		return u
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr: "SecretList"},
		secret("a", "stale", "1"), secret("a", "current", "2"), secret("b", "raced", "3"), secret("b", "gone", "4"))
	// Recording fake of the server: "stale" gets a new resourceVersion,
	// "raced" and "gone" lose a race, the rest are no-ops.
	var updated []string
	client.PrependReactor("update", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured)
		updated = append(updated, obj.GetNamespace()+"/"+obj.GetName())
		switch obj.GetName() {
		case "stale":
			out := obj.DeepCopy()
			out.SetResourceVersion("10")
			return true, out, nil
		case "raced":
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), "raced", nil)
		case "gone":
			return true, nil, apierrors.NewNotFound(gvr.GroupResource(), "gone")
		}
		return true, obj, nil
	})
	got, err := Reencrypt(context.Background(), client.Resource(gvr), 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ReencryptResult{Rewritten: 1, Current: 1, Raced: 2}); got != want {
		t.Errorf("result = %+v; want %+v", got, want)
	}
	if len(updated) != 4 {
		t.Errorf("updated %v; want all four objects", updated)
	}
}
