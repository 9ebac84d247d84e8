package rootcacert

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func activeNS(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
}

func rootCM(data map[string]string, annotations map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: ConfigMapName, ResourceVersion: "7", Annotations: annotations,
			Labels: map[string]string{"keep": "me"}},
		Data: data,
	}
}

func TestSync(t *testing.T) {
	desc := map[string]string{DescriptionAnnotation: Description}
	good := map[string]string{DataKey: testCA}
	tests := []struct {
		name      string
		ns        *corev1.Namespace
		cm        *corev1.ConfigMap
		writeErr  error
		wantVerb  string // "", "create" or "update"
		wantDesc  string // the description the write carries
		wantError bool
	}{
		{name: "missing is created", ns: activeNS("a"), wantVerb: "create", wantDesc: Description},
		{name: "up to date", ns: activeNS("a"), cm: rootCM(good, desc)},
		{name: "reworded description is kept", ns: activeNS("a"), cm: rootCM(good, map[string]string{DescriptionAnnotation: "ours"})},
		{name: "edited data is put back", ns: activeNS("a"), cm: rootCM(map[string]string{DataKey: "junk"}, desc),
			wantVerb: "update", wantDesc: Description},
		{name: "extra key is removed", ns: activeNS("a"), cm: rootCM(map[string]string{DataKey: testCA, "x": "y"}, desc),
			wantVerb: "update", wantDesc: Description},
		{name: "lost annotation is restored", ns: activeNS("a"), cm: rootCM(good, nil),
			wantVerb: "update", wantDesc: Description},
		{name: "terminating namespace skipped",
			ns: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}},
		{name: "missing namespace"},
		{name: "update conflict is retried", ns: activeNS("a"), cm: rootCM(nil, desc),
			writeErr: apierrors.NewConflict(corev1.Resource("configmaps"), ConfigMapName, errors.New("changed")),
			wantVerb: "update", wantDesc: Description, wantError: true},
		{name: "create into vanished namespace is done", ns: activeNS("a"),
			writeErr: apierrors.NewNotFound(corev1.Resource("namespaces"), "a"),
			wantVerb: "create", wantDesc: Description},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tc.cm != nil {
				_ = client.Tracker().Add(tc.cm)
			}
			var verb string
			var written *corev1.ConfigMap
			record := func(a clienttesting.Action) (bool, runtime.Object, error) {
				verb = a.GetVerb()
				if o, ok := a.(interface{ GetObject() runtime.Object }); ok {
					written = o.GetObject().(*corev1.ConfigMap).DeepCopy()
				}
				if tc.writeErr != nil {
					return true, nil, tc.writeErr
				}
				return false, nil, nil
			}
			client.PrependReactor("create", "configmaps", record)
			client.PrependReactor("update", "configmaps", record)
			f := informers.NewSharedInformerFactory(client, 0)
			if tc.ns != nil {
				_ = f.Core().V1().Namespaces().Informer().GetIndexer().Add(tc.ns)
			}
			var cached *corev1.ConfigMap
			if tc.cm != nil {
				cached = tc.cm.DeepCopy()
				_ = f.Core().V1().ConfigMaps().Informer().GetIndexer().Add(cached)
			}
			c, err := New(Config{Client: client, Namespaces: f.Core().V1().Namespaces(), ConfigMaps: f.Core().V1().ConfigMaps(),
				RootCA: []byte(testCA), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Sync(context.Background(), "a")
			if (err != nil) != tc.wantError {
				t.Fatalf("Sync error = %v; want error %v", err, tc.wantError)
			}
			if verb != tc.wantVerb {
				t.Fatalf("wrote with %q; want %q", verb, tc.wantVerb)
			}
			if cached != nil && !maps.Equal(cached.Data, tc.cm.Data) {
				t.Errorf("cached object mutated: %v", cached.Data)
			}
			if written == nil {
				return
			}
			if !maps.Equal(written.Data, good) {
				t.Errorf("data = %v; want %v", written.Data, good)
			}
			if got := written.Annotations[DescriptionAnnotation]; got != tc.wantDesc {
				t.Errorf("description = %q; want %q", got, tc.wantDesc)
			}
			if tc.cm != nil && written.Labels["keep"] != "me" {
				t.Errorf("labels = %v; other metadata must be kept", written.Labels)
			}
		})
	}
}

func TestNewRefusesEmptyCA(t *testing.T) {
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	_, err := New(Config{Client: fake.NewClientset(), Namespaces: f.Core().V1().Namespaces(), ConfigMaps: f.Core().V1().ConfigMaps()})
	if !errors.Is(err, ErrNoRootCA) {
		t.Fatalf("New error = %v; want ErrNoRootCA", err)
	}
}
