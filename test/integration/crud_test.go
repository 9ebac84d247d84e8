package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// The same CRUD suite runs against the embedded etcd and an external one.

func TestCRUDEmbeddedEtcd(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	runCRUDSuite(t, s.Client)
}

func TestCRUDExternalEtcd(t *testing.T) {
	t.Parallel()
	endpoint := startEtcd(t)
	s := testserver.Start(t, testserver.Options{DatastoreEndpoints: []string{endpoint}})
	runCRUDSuite(t, s.Client)
}

// crudSteps run in order on one namespace; later steps rely on nothing the
// earlier ones left behind except the namespace.
var crudSteps = []struct {
	name string
	run  func(t *testing.T, c kubernetes.Interface, ns string)
}{
	{"create", crudCreate},
	{"get", crudGet},
	{"list with selectors", crudList},
	{"update with conflict", crudUpdate},
	{"patch", crudPatch},
	{"delete", crudDelete},
	{"watch", crudWatch},
}

func runCRUDSuite(t *testing.T, c kubernetes.Interface) {
	createNamespace(t, c, "crud")
	for _, step := range crudSteps {
		t.Run(step.name, func(t *testing.T) { step.run(t, c, "crud") })
	}
}

func configMap(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}
}

func crudCreate(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	got, err := cms.Create(ctx, configMap("create-a", map[string]string{"k": "v"}, map[string]string{"x": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got.UID == "" || got.ResourceVersion == "" || got.CreationTimestamp.IsZero() {
		t.Errorf("created object lacks uid/resourceVersion/creationTimestamp: %+v", got.ObjectMeta)
	}
	if got.Namespace != ns || got.Data["x"] != "1" || got.Labels["k"] != "v" {
		t.Errorf("created object = %+v; want namespace %s, data x=1, label k=v", got, ns)
	}
	_, err = cms.Create(ctx, configMap("create-a", nil, nil), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: err = %v; want AlreadyExists", err)
	}
	_, err = cms.Create(ctx, configMap("Not_A_Name", nil, nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("create with invalid name: err = %v; want Invalid (422)", err)
	}
	gen, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with generateName: %v", err)
	}
	if len(gen.Name) <= len("gen-") || gen.Name[:4] != "gen-" {
		t.Errorf("generated name = %q; want gen-<suffix>", gen.Name)
	}
}

func crudGet(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	created, err := cms.Create(ctx, configMap("get-a", nil, map[string]string{"a": "b"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "get-a", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || got.Data["a"] != "b" {
		t.Errorf("get = %+v; want the created object %+v", got, created)
	}
	if _, err := cms.Get(ctx, "get-missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get missing: err = %v; want NotFound", err)
	}
	if _, err := c.CoreV1().ConfigMaps("no-such-ns").Get(ctx, "get-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get in other namespace: err = %v; want NotFound", err)
	}
}

func crudList(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	secrets := c.CoreV1().Secrets(ns)
	for _, s := range []struct {
		name, app, tier string
		typ             corev1.SecretType
	}{
		{"list-1", "web", "front", corev1.SecretTypeOpaque},
		{"list-2", "web", "db", corev1.SecretTypeOpaque},
		{"list-3", "web", "front", corev1.SecretTypeBasicAuth},
		{"list-4", "api", "front", corev1.SecretTypeOpaque},
	} {
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Labels: map[string]string{"app": s.app, "tier": s.tier}},
			Type:       s.typ,
			StringData: map[string]string{"username": "u", "password": "p"},
		}
		if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create secret %s: %v", s.name, err)
		}
	}
	for _, tc := range []struct {
		label, field string
		want         []string
	}{
		{label: "app=web", want: []string{"list-1", "list-2", "list-3"}},
		{label: "app=web,tier!=db", want: []string{"list-1", "list-3"}},
		{label: "tier in (db),app", want: []string{"list-2"}},
		{label: "app", field: "type=Opaque", want: []string{"list-1", "list-2", "list-4"}},
		{label: "app=web", field: "type!=Opaque", want: []string{"list-3"}},
		{field: "metadata.name=list-4", want: []string{"list-4"}},
		{label: "app=web", field: "metadata.name=list-4", want: nil},
		{label: "app=none", want: nil},
	} {
		list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: tc.label, FieldSelector: tc.field})
		if err != nil {
			t.Errorf("list label %q field %q: %v", tc.label, tc.field, err)
			continue
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("list label %q field %q = %v; want %v", tc.label, tc.field, names, tc.want)
		}
		if list.ResourceVersion == "" {
			t.Errorf("list label %q field %q has no resourceVersion", tc.label, tc.field)
		}
	}
	_, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: "spec.nothing=x"})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("list with unsupported field selector: err = %v; want BadRequest", err)
	}
}

func crudUpdate(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	orig, err := cms.Create(ctx, configMap("update-a", nil, map[string]string{"v": "0"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := orig.DeepCopy()
	first.Data["v"] = "1"
	updated, err := cms.Update(ctx, first, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if rvOf(t, updated.ResourceVersion) <= rvOf(t, orig.ResourceVersion) {
		t.Errorf("resourceVersion after update = %s; want > %s", updated.ResourceVersion, orig.ResourceVersion)
	}
	if updated.UID != orig.UID || !updated.CreationTimestamp.Equal(&orig.CreationTimestamp) {
		t.Errorf("update changed uid or creationTimestamp")
	}
	stale := orig.DeepCopy()
	stale.Data["v"] = "stale"
	if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update with stale resourceVersion: err = %v; want Conflict", err)
	}
	got, err := cms.Get(ctx, "update-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["v"] != "1" || got.ResourceVersion != updated.ResourceVersion {
		t.Errorf("after conflicting update: data %v rv %s; want v=1 rv %s", got.Data, got.ResourceVersion, updated.ResourceVersion)
	}
	// ConfigMaps allow unconditional updates (no resourceVersion).
	uncond := got.DeepCopy()
	uncond.ResourceVersion = ""
	uncond.Data["v"] = "2"
	if _, err := cms.Update(ctx, uncond, metav1.UpdateOptions{}); err != nil {
		t.Errorf("unconditional update: %v", err)
	}
	if _, err := cms.Update(ctx, configMap("update-missing", nil, nil), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("update of missing object: err = %v; want NotFound", err)
	}
}

func crudPatch(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, configMap("patch-a", map[string]string{"keep": "1"}, map[string]string{"a": "1", "b": "2"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ       types.PatchType
		patch     string
		wantData  map[string]string
		wantLabel map[string]string
	}{
		{types.MergePatchType, `{"data":{"a":null,"c":"3"},"metadata":{"labels":{"m":"x"}}}`,
			map[string]string{"b": "2", "c": "3"}, map[string]string{"keep": "1", "m": "x"}},
		{types.StrategicMergePatchType, `{"data":{"d":"4"},"metadata":{"labels":{"m":null}}}`,
			map[string]string{"b": "2", "c": "3", "d": "4"}, map[string]string{"keep": "1"}},
		{types.JSONPatchType, `[{"op":"replace","path":"/data/b","value":"20"},{"op":"remove","path":"/data/c"}]`,
			map[string]string{"b": "20", "d": "4"}, map[string]string{"keep": "1"}},
	} {
		got, err := cms.Patch(ctx, "patch-a", tc.typ, []byte(tc.patch), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("%s patch: %v", tc.typ, err)
		}
		if fmt.Sprint(got.Data) != fmt.Sprint(tc.wantData) || fmt.Sprint(got.Labels) != fmt.Sprint(tc.wantLabel) {
			t.Errorf("%s patch: data %v labels %v; want %v %v", tc.typ, got.Data, got.Labels, tc.wantData, tc.wantLabel)
		}
	}
	_, err := cms.Patch(ctx, "patch-a", types.JSONPatchType, []byte(`[{"op":"test","path":"/data/b","value":"nope"}]`), metav1.PatchOptions{})
	if err == nil {
		t.Errorf("failing JSON patch test op: err = nil; want an error")
	}
	_, err = cms.Patch(ctx, "patch-a", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"1"},"data":{"z":"1"}}`), metav1.PatchOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("merge patch with stale resourceVersion: err = %v; want Conflict", err)
	}
	_, err = cms.Patch(ctx, "patch-missing", types.MergePatchType, []byte(`{"data":{"z":"1"}}`), metav1.PatchOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("patch of missing object: err = %v; want NotFound", err)
	}
}

func crudDelete(t *testing.T, c kubernetes.Interface, ns string) {
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	created, err := cms.Create(ctx, configMap("delete-a", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wrong := types.UID("not-the-uid")
	err = cms.Delete(ctx, "delete-a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}})
	if !apierrors.IsConflict(err) {
		t.Errorf("delete with wrong uid precondition: err = %v; want Conflict", err)
	}
	if err := cms.Delete(ctx, "delete-a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := cms.Get(ctx, "delete-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: err = %v; want NotFound", err)
	}
	if err := cms.Delete(ctx, "delete-a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: err = %v; want NotFound", err)
	}
}

func crudWatch(t *testing.T, c kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := c.CoreV1().ConfigMaps(ns)
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer all.Stop()
	selected, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "w=yes"})
	if err != nil {
		t.Fatalf("watch with selector: %v", err)
	}
	defer selected.Stop()

	type ev struct {
		typ  watch.EventType
		name string
		rv   string
	}
	var wantAll, wantSelected []ev
	a, err := cms.Create(ctx, configMap("watch-a", map[string]string{"w": "yes"}, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantAll = append(wantAll, ev{watch.Added, "watch-a", a.ResourceVersion})
	wantSelected = append(wantSelected, ev{watch.Added, "watch-a", a.ResourceVersion})
	b, err := cms.Create(ctx, configMap("watch-b", map[string]string{"w": "no"}, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantAll = append(wantAll, ev{watch.Added, "watch-b", b.ResourceVersion})
	a.Data = map[string]string{"x": "1"}
	if a, err = cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAll = append(wantAll, ev{watch.Modified, "watch-a", a.ResourceVersion})
	wantSelected = append(wantSelected, ev{watch.Modified, "watch-a", a.ResourceVersion})
	// An object that stops matching the selector leaves it as DELETED; one
	// that starts matching enters as ADDED.
	a.Labels["w"] = "no"
	if a, err = cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAll = append(wantAll, ev{watch.Modified, "watch-a", a.ResourceVersion})
	wantSelected = append(wantSelected, ev{watch.Deleted, "watch-a", a.ResourceVersion})
	b.Labels["w"] = "yes"
	if b, err = cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantAll = append(wantAll, ev{watch.Modified, "watch-b", b.ResourceVersion})
	wantSelected = append(wantSelected, ev{watch.Added, "watch-b", b.ResourceVersion})
	if err := cms.Delete(ctx, "watch-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The DELETED event carries the deletion's revision, unknown to the
	// client here: compare names and types, and check ordering below.
	wantAll = append(wantAll, ev{watch.Deleted, "watch-b", ""})
	wantSelected = append(wantSelected, ev{watch.Deleted, "watch-b", ""})

	for _, w := range []struct {
		name string
		w    watch.Interface
		want []ev
	}{{"all", all, wantAll}, {"selector w=yes", selected, wantSelected}} {
		var last int64
		for i, want := range w.want {
			var e watch.Event
			select {
			case e = <-w.w.ResultChan():
			case <-ctx.Done():
				t.Fatalf("watch %s: event %d (%v) not received", w.name, i, want)
			}
			cm, ok := e.Object.(*corev1.ConfigMap)
			if !ok {
				t.Fatalf("watch %s: event %d = %s %T; want %v", w.name, i, e.Type, e.Object, want)
			}
			got := ev{e.Type, cm.Name, cm.ResourceVersion}
			if want.rv == "" {
				got.rv = ""
			}
			if got != want {
				t.Errorf("watch %s: event %d = %v; want %v", w.name, i, got, want)
			}
			rv := rvOf(t, cm.ResourceVersion)
			if rv <= last {
				t.Errorf("watch %s: event %d resourceVersion %d not after %d", w.name, i, rv, last)
			}
			last = rv
		}
	}
}
