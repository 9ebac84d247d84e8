package garbagecollector

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	testclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/internal/fakemeta"
)

var (
	configmaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	nodes      = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// mapper knows ConfigMap (namespaced) and Node (cluster-scoped).
type mapper struct{ meta.RESTMapper }

func (mapper) Reset() {}

func newMapper() meta.ResettableRESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Node"}, meta.RESTScopeRoot)
	return mapper{m}
}

type fixture struct {
	meta *fakemeta.Client
	gc   *Collector
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := fakemeta.New()
	gc := New(Config{
		Metadata: m,
		Discover: func() ([]*metav1.APIResourceList, error) { return nil, nil },
		Mapper:   newMapper(),
		Clock:    testclock.NewFakeClock(time.Unix(1700000000, 0)),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() {
		gc.attemptToDelete.ShutDown()
		gc.attemptToOrphan.ShutDown()
		gc.changes.ShutDown()
	})
	return &fixture{meta: m, gc: gc}
}

// observe stores obj in the fake server (unless onlyCache) and feeds it to
// the graph as the informer would.
func (f *fixture) add(gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata, server, cache bool) {
	if server {
		f.meta.Add(gvr, obj)
	}
	if cache {
		f.gc.ProcessEvent(false, gvr, obj)
	}
}

func (f *fixture) queued(q string) []types.UID {
	var out []types.UID
	queue := f.gc.attemptToDelete
	if q == "orphan" {
		queue = f.gc.attemptToOrphan
	}
	for queue.Len() > 0 {
		uid, _ := queue.Get()
		queue.Done(uid)
		queue.Forget(uid)
		out = append(out, uid)
	}
	slices.Sort(out)
	return out
}

func cm(ns, name string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name + "-uid"), OwnerReferences: owners}}
}

func ref(kind, name string, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: kind, Name: name, UID: types.UID(name + "-uid"), BlockOwnerDeletion: &block}
}

func deleting(o *metav1.PartialObjectMetadata, finalizers ...string) *metav1.PartialObjectMetadata {
	ts := metav1.NewTime(time.Unix(1700000000, 0))
	o.DeletionTimestamp = &ts
	o.Finalizers = finalizers
	return o
}

func TestAttemptToDeleteDependent(t *testing.T) {
	type obj struct {
		gvr           schema.GroupVersionResource
		o             *metav1.PartialObjectMetadata
		server, cache bool
	}
	tests := []struct {
		name    string
		objs    []obj
		item    string // name of the configmap in ns "ns" to look at
		want    []string
		wantErr bool
	}{{
		name: "owner exists: nothing",
		objs: []obj{{configmaps, cm("ns", "owner"), true, true}, {configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true}},
		item: "dep",
	}, {
		name: "owner exists but not yet observed: verified live, nothing",
		objs: []obj{{configmaps, cm("ns", "owner"), true, false}, {configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true}},
		item: "dep",
	}, {
		name: "owner absent: delete in background",
		objs: []obj{{configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true}},
		item: "dep",
		want: []string{"delete configmaps ns/dep policy=Background"},
	}, {
		name: "owner only in a stale cache: not deleted",
		objs: []obj{{configmaps, cm("ns", "owner"), false, true}, {configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true}},
		item: "dep",
	}, {
		name: "owner replaced by a namesake: dangling",
		objs: []obj{
			{configmaps, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "owner", UID: "other-uid"}}, true, false},
			{configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true},
		},
		item: "dep",
		want: []string{"delete configmaps ns/dep policy=Background"},
	}, {
		name: "owner in another namespace does not count",
		objs: []obj{{configmaps, cm("elsewhere", "owner"), true, true}, {configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), true, true}},
		item: "dep",
		want: []string{"delete configmaps ns/dep policy=Background"},
	}, {
		name: "cluster-scoped owner exists: nothing",
		objs: []obj{{nodes, cm("", "node1"), true, false}, {configmaps, cm("ns", "dep", ref("Node", "node1", false)), true, true}},
		item: "dep",
	}, {
		name: "one live owner, one absent: reference removed",
		objs: []obj{{configmaps, cm("ns", "live"), true, true}, {configmaps, cm("ns", "dep", ref("ConfigMap", "live", false), ref("ConfigMap", "gone", false)), true, true}},
		item: "dep",
		want: []string{`patch configmaps ns/dep {"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"live","uid":"live-uid","blockOwnerDeletion":false}],"resourceVersion":"2"}}`},
	}, {
		name: "owner deleting in foreground, dependent has no dependents: background",
		objs: []obj{
			{configmaps, deleting(cm("ns", "owner"), metav1.FinalizerDeleteDependents), true, true},
			{configmaps, cm("ns", "dep", ref("ConfigMap", "owner", true)), true, true},
		},
		item: "dep",
		want: []string{"delete configmaps ns/dep policy=Background"},
	}, {
		name: "owner deleting in foreground, dependent has dependents: foreground",
		objs: []obj{
			{configmaps, deleting(cm("ns", "owner"), metav1.FinalizerDeleteDependents), true, true},
			{configmaps, cm("ns", "dep", ref("ConfigMap", "owner", true)), true, true},
			{configmaps, cm("ns", "grandchild", ref("ConfigMap", "dep", true)), true, true},
		},
		item: "dep",
		want: []string{"delete configmaps ns/dep policy=Foreground"},
	}, {
		name: "dependent already gone: nothing",
		objs: []obj{{configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), false, true}},
		item: "dep",
	}, {
		name:    "unknown owner kind: retried",
		objs:    []obj{{configmaps, cm("ns", "dep", ref("Gizmo", "g", false)), true, true}},
		item:    "dep",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, o := range tt.objs {
				f.add(o.gvr, o.o, o.server, o.cache)
			}
			_, err := f.gc.AttemptToDelete(context.Background(), types.UID(tt.item+"-uid"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("AttemptToDelete error = %v; want error %v", err, tt.wantErr)
			}
			if got := f.meta.Actions(); !slices.Equal(got, tt.want) {
				t.Errorf("actions:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestClusterScopedDependentOfNamespacedOwnerIsDangling(t *testing.T) {
	f := newFixture(t)
	f.add(configmaps, cm("ns", "owner"), true, true)
	f.add(nodes, cm("", "node1", ref("ConfigMap", "owner", false)), true, true)
	if _, err := f.gc.AttemptToDelete(context.Background(), "node1-uid"); err != nil {
		t.Fatal(err)
	}
	want := []string{"delete nodes /node1 policy=Background"}
	if got := f.meta.Actions(); !slices.Equal(got, want) {
		t.Errorf("actions = %q; want %q", got, want)
	}
}

func TestForeground(t *testing.T) {
	f := newFixture(t)
	owner := deleting(cm("ns", "owner"), metav1.FinalizerDeleteDependents)
	f.add(configmaps, owner, true, true)
	f.add(configmaps, cm("ns", "blocker", ref("ConfigMap", "owner", true)), true, true)
	f.add(configmaps, cm("ns", "free", ref("ConfigMap", "owner", false)), true, true)
	if got, want := f.queued("delete"), []types.UID{"blocker-uid", "free-uid", "owner-uid"}; !slices.Equal(got, want) {
		t.Fatalf("queued after owner deletion = %v; want %v", got, want)
	}

	// A blocking dependent remains: the owner keeps its finalizer and the
	// dependent is queued for deletion.
	if _, err := f.gc.AttemptToDelete(context.Background(), "owner-uid"); err != nil {
		t.Fatal(err)
	}
	if len(f.meta.Actions()) != 0 {
		t.Fatalf("actions with a blocking dependent = %q; want none", f.meta.Actions())
	}
	if got, want := f.queued("delete"), []types.UID{"blocker-uid"}; !slices.Equal(got, want) {
		t.Errorf("queued = %v; want %v", got, want)
	}

	// The blocker is deleted; its removal from the graph brings the owner
	// back, which now drops its finalizer and is gone.
	if _, err := f.gc.AttemptToDelete(context.Background(), "blocker-uid"); err != nil {
		t.Fatal(err)
	}
	f.gc.ProcessEvent(true, configmaps, cm("ns", "blocker"))
	if got := f.queued("delete"); !slices.Contains(got, "owner-uid") {
		t.Fatalf("queued after blocker deletion = %v; want owner-uid", got)
	}
	if _, err := f.gc.AttemptToDelete(context.Background(), "owner-uid"); err != nil {
		t.Fatal(err)
	}
	if f.meta.Object(configmaps, "ns", "owner") != nil {
		t.Errorf("owner still exists; actions %q", f.meta.Actions())
	}
	if f.meta.Object(configmaps, "ns", "free") == nil {
		t.Errorf("non-blocking dependent deleted before its owner was gone")
	}
}

func TestOrphan(t *testing.T) {
	f := newFixture(t)
	f.add(configmaps, cm("ns", "other"), true, true)
	f.add(configmaps, deleting(cm("ns", "owner"), metav1.FinalizerOrphanDependents), true, true)
	f.add(configmaps, cm("ns", "a", ref("ConfigMap", "owner", true)), true, true)
	f.add(configmaps, cm("ns", "b", ref("ConfigMap", "owner", false), ref("ConfigMap", "other", false)), true, true)
	if got, want := f.queued("orphan"), []types.UID{"owner-uid"}; !slices.Equal(got, want) {
		t.Fatalf("orphan queue = %v; want %v", got, want)
	}
	if _, err := f.gc.AttemptToOrphan(context.Background(), "owner-uid"); err != nil {
		t.Fatal(err)
	}
	if o := f.meta.Object(configmaps, "ns", "a"); o == nil || len(o.OwnerReferences) != 0 {
		t.Errorf("a = %+v; want kept with no owners", o)
	}
	if o := f.meta.Object(configmaps, "ns", "b"); o == nil || len(o.OwnerReferences) != 1 || o.OwnerReferences[0].Name != "other" {
		t.Errorf("b = %+v; want kept with only the other owner", o)
	}
	if o := f.meta.Object(configmaps, "ns", "owner"); o != nil {
		t.Errorf("owner still exists with finalizers %v", o.Finalizers)
	}
	for _, a := range f.meta.Actions() {
		if strings.HasPrefix(a, "delete") {
			t.Errorf("orphaning deleted something: %s", a)
		}
	}
}

func TestGraphEvents(t *testing.T) {
	f := newFixture(t)
	// A new dependent is checked; an object without owners is not.
	f.add(configmaps, cm("ns", "owner"), false, true)
	f.add(configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), false, true)
	if got, want := f.queued("delete"), []types.UID{"dep-uid"}; !slices.Equal(got, want) {
		t.Errorf("after adds: queued %v; want %v", got, want)
	}
	// An update that does not touch owners queues nothing.
	f.add(configmaps, cm("ns", "dep", ref("ConfigMap", "owner", false)), false, true)
	if got := f.queued("delete"); len(got) != 0 {
		t.Errorf("after no-op update: queued %v; want none", got)
	}
	// The owner's deletion queues its dependents.
	f.gc.ProcessEvent(true, configmaps, cm("ns", "owner"))
	if got, want := f.queued("delete"), []types.UID{"dep-uid"}; !slices.Equal(got, want) {
		t.Errorf("after owner deletion: queued %v; want %v", got, want)
	}
	if got := f.gc.graph.dependentsOf("owner-uid"); len(got) != 1 {
		t.Errorf("dependents of deleted owner = %d; want 1 (dep still references it)", len(got))
	}
	f.gc.ProcessEvent(true, configmaps, cm("ns", "dep"))
	if f.gc.graph.hasDependents("owner-uid") {
		t.Errorf("dependents index keeps a deleted dependent")
	}
}

func TestDeletableResources(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Verbs: []string{"list", "watch", "delete"}},
			{Name: "pods/status", Verbs: []string{"get", "update"}},
			{Name: "events", Verbs: []string{"list", "watch", "delete"}},
			{Name: "bindings", Verbs: []string{"create"}},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{{Name: "widgets", Verbs: []string{"list", "watch", "delete"}}}},
		{GroupVersion: "bad/group/version"},
	}
	got := deletableResources(lists, DefaultIgnored)
	want := map[schema.GroupVersionResource]bool{
		{Version: "v1", Resource: "pods"}:                          true,
		{Group: "example.com", Version: "v1", Resource: "widgets"}: true,
	}
	if len(got) != len(want) {
		t.Fatalf("deletable = %v; want %v", got, want)
	}
	for gvr := range want {
		if !got[gvr] {
			t.Errorf("deletable lacks %s", gvr)
		}
	}
}
