package namespace

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controller/internal/fakemeta"
)

var (
	configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	pods       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	widgets    = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

// served is what the fake discovery returns: configmaps and pods with
// deletecollection, widgets with delete only, and a cluster-scoped kind.
var served = []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Namespaced: true, Verbs: []string{"list", "delete", "deletecollection"}},
		{Name: "pods", Namespaced: true, Verbs: []string{"list", "delete", "deletecollection"}},
		{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "update"}},
		{Name: "nodes", Namespaced: false, Verbs: []string{"list", "delete", "deletecollection"}},
	}},
	{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
		{Name: "widgets", Namespaced: true, Verbs: []string{"list", "delete"}},
	}},
}

func deletingNamespace(name string) *corev1.Namespace {
	ts := metav1.NewTime(time.Unix(1700000000, 0))
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &ts},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

func obj(ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name), Finalizers: finalizers}}
}

type fixture struct {
	client *fake.Clientset
	meta   *fakemeta.Client
	ctrl   *Controller
}

func newFixture(t *testing.T, ns *corev1.Namespace, discover DiscoverFunc) *fixture {
	t.Helper()
	client := fake.NewClientset(ns)
	factory := informers.NewSharedInformerFactory(client, 0)
	nsInformer := factory.Core().V1().Namespaces()
	if err := nsInformer.Informer().GetIndexer().Add(ns); err != nil {
		t.Fatal(err)
	}
	if discover == nil {
		discover = func() ([]*metav1.APIResourceList, error) { return served, nil }
	}
	meta := fakemeta.New()
	return &fixture{client: client, meta: meta, ctrl: New(Config{
		Client: client, Metadata: meta, Namespaces: nsInformer, Discover: discover,
		Clock:  testclock.NewFakeClock(time.Unix(1700000100, 0)),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})}
}

// conditions returns the namespace's conditions from the fake's last
// status update, by type.
func (f *fixture) conditions() map[corev1.NamespaceConditionType]corev1.NamespaceCondition {
	out := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && u.GetSubresource() == "status" {
			for _, c := range u.GetObject().(*corev1.Namespace).Status.Conditions {
				out[c.Type] = c
			}
		}
	}
	return out
}

func (f *fixture) finalized() bool {
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && u.GetSubresource() == "finalize" {
			return !slices.Contains(u.GetObject().(*corev1.Namespace).Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	}
	return false
}

func TestSync(t *testing.T) {
	groupErr := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "broken.io", Version: "v1"}: errors.New("boom")}}
	tests := []struct {
		name      string
		ns        *corev1.Namespace
		objects   map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata
		discover  DiscoverFunc
		errs      map[string]error
		wantErr   bool
		wantRes   ctrlutil.Result
		finalized bool
		// wantConds maps condition types to want status (and message if set).
		wantConds map[corev1.NamespaceConditionType][2]string
		wantLeft  map[schema.GroupVersionResource]int
	}{{
		name:      "not deleting: nothing to do",
		ns:        &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}},
		objects:   map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{configmaps: {obj("ns", "a")}},
		wantLeft:  map[schema.GroupVersionResource]int{configmaps: 1},
		wantConds: map[corev1.NamespaceConditionType][2]string{},
	}, {
		name: "empty after deletion: finalized",
		ns:   deletingNamespace("ns"),
		objects: map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{
			configmaps: {obj("ns", "a"), obj("ns", "b"), obj("other", "keep")},
			widgets:    {obj("ns", "w")},
		},
		finalized: true,
		wantConds: map[corev1.NamespaceConditionType][2]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"False", "All resources successfully discovered"},
			corev1.NamespaceDeletionGVParsingFailure: {"False", "All legacy kube types successfully parsed"},
			corev1.NamespaceDeletionContentFailure:   {"False", "All content successfully deleted, may be waiting on finalization"},
			corev1.NamespaceContentRemaining:         {"False", "All content successfully removed"},
			corev1.NamespaceFinalizersRemaining:      {"False", "All content-preserving finalizers finished"},
		},
		wantLeft: map[schema.GroupVersionResource]int{configmaps: 0, widgets: 0},
	}, {
		name: "finalizers keep content: waits",
		ns:   deletingNamespace("ns"),
		objects: map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{
			configmaps: {obj("ns", "a", "example.com/hold"), obj("ns", "b")},
			widgets:    {obj("ns", "w1", "example.com/hold"), obj("ns", "w2", "example.com/other")},
		},
		wantRes: ctrlutil.Result{Requeue: true},
		wantConds: map[corev1.NamespaceConditionType][2]string{
			corev1.NamespaceContentRemaining:       {"True", "Some resources are remaining: configmaps. has 1 resource instances, widgets.example.com has 2 resource instances"},
			corev1.NamespaceFinalizersRemaining:    {"True", "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances, example.com/other in 1 resource instances"},
			corev1.NamespaceDeletionContentFailure: {"False", ""},
		},
		wantLeft: map[schema.GroupVersionResource]int{configmaps: 1, widgets: 2},
	}, {
		name:     "discovery partly failed: content deleted, not finalized",
		ns:       deletingNamespace("ns"),
		objects:  map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{configmaps: {obj("ns", "a")}},
		discover: func() ([]*metav1.APIResourceList, error) { return served, groupErr },
		wantErr:  true,
		wantConds: map[corev1.NamespaceConditionType][2]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"True", "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: broken.io/v1: boom"},
		},
		wantLeft: map[schema.GroupVersionResource]int{configmaps: 0},
	}, {
		name: "unparsable group version",
		ns:   deletingNamespace("ns"),
		discover: func() ([]*metav1.APIResourceList, error) {
			return append([]*metav1.APIResourceList{{GroupVersion: "a/b/c"}}, served...), nil
		},
		wantErr: true,
		wantConds: map[corev1.NamespaceConditionType][2]string{
			corev1.NamespaceDeletionGVParsingFailure: {"True", `couldn't parse GroupVersion "a/b/c": unexpected GroupVersion string: a/b/c`},
		},
	}, {
		name:    "deletion fails: content failure condition",
		ns:      deletingNamespace("ns"),
		objects: map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{configmaps: {obj("ns", "a")}},
		errs:    map[string]error{"deletecollection configmaps": errors.New("etcd down")},
		wantErr: true,
		wantConds: map[corev1.NamespaceConditionType][2]string{
			corev1.NamespaceDeletionContentFailure: {"True", "Failed to delete all resource types, 1 remaining: failed to delete collection of /v1, Resource=configmaps: etcd down"},
			corev1.NamespaceContentRemaining:       {"False", ""},
		},
		wantLeft: map[schema.GroupVersionResource]int{configmaps: 1},
	}, {
		name:     "already finalized: nothing to do",
		ns:       func() *corev1.Namespace { ns := deletingNamespace("ns"); ns.Spec.Finalizers = nil; return ns }(),
		objects:  map[schema.GroupVersionResource][]*metav1.PartialObjectMetadata{configmaps: {obj("ns", "a")}},
		wantLeft: map[schema.GroupVersionResource]int{configmaps: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.ns, tt.discover)
			for gvr, objs := range tt.objects {
				for _, o := range objs {
					f.meta.Add(gvr, o)
				}
			}
			for k, err := range tt.errs {
				f.meta.Errors[k] = err
			}
			cachedBefore := tt.ns.DeepCopy()
			res, err := f.ctrl.Sync(context.Background(), tt.ns.Name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Sync error = %v; want error %v", err, tt.wantErr)
			}
			if res != tt.wantRes {
				t.Errorf("Sync result = %+v; want %+v", res, tt.wantRes)
			}
			if got := f.finalized(); got != tt.finalized {
				t.Errorf("finalized = %v; want %v", got, tt.finalized)
			}
			conds := f.conditions()
			for typ, want := range tt.wantConds {
				got, ok := conds[typ]
				if !ok {
					t.Errorf("condition %s missing", typ)
					continue
				}
				if string(got.Status) != want[0] || (want[1] != "" && got.Message != want[1]) {
					t.Errorf("condition %s = %s %q; want %s %q", typ, got.Status, got.Message, want[0], want[1])
				}
			}
			for gvr, want := range tt.wantLeft {
				list, _ := f.meta.Resource(gvr).Namespace("ns").List(context.Background(), metav1.ListOptions{})
				if len(list.Items) != want {
					t.Errorf("%s left in ns: %d; want %d", gvr.Resource, len(list.Items), want)
				}
			}
			cached, _ := f.ctrl.lister.Get(tt.ns.Name)
			if cached.ResourceVersion != cachedBefore.ResourceVersion || len(cached.Status.Conditions) != len(cachedBefore.Status.Conditions) {
				t.Errorf("Sync mutated the cached namespace")
			}
		})
	}
}

func TestSyncPodGraceEstimate(t *testing.T) {
	f := newFixture(t, deletingNamespace("ns"), nil)
	p := obj("ns", "p", "example.com/wait")           // the fake has no grace periods: hold it
	ts := metav1.NewTime(time.Unix(1700000100+20, 0)) // 20s of grace left on the fake clock
	p.DeletionTimestamp = &ts
	f.meta.Add(pods, p)
	res, err := f.ctrl.Sync(context.Background(), "ns")
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 20*time.Second {
		t.Errorf("RequeueAfter = %v; want 20s", res.RequeueAfter)
	}
}

func TestSyncMissingNamespace(t *testing.T) {
	f := newFixture(t, deletingNamespace("ns"), nil)
	if res, err := f.ctrl.Sync(context.Background(), "absent"); err != nil || res != (ctrlutil.Result{}) {
		t.Errorf("Sync(absent) = %+v, %v; want done", res, err)
	}
}
