package storage

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

func TestCreateGet(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	created := e.create("ns", "a", nil, "x")
	rv := rvOf(t, created)
	if created.Kind != "ConfigMap" || created.APIVersion != "v1" {
		t.Errorf("TypeMeta = %v; want v1 ConfigMap", created.TypeMeta)
	}
	_, err := e.cm.Create(ctx, "ns", "a", cm("ns", "a", nil, "y"))
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: got %v; want AlreadyExists", err)
	}
	for _, rvOpt := range []string{"", strconv.FormatUint(rv, 10), "0"} {
		got, err := e.cm.Get(ctx, "ns", "a", GetOptions{ResourceVersion: rvOpt})
		if err != nil {
			t.Fatalf("get rv=%q: %v", rvOpt, err)
		}
		c := got.(*corev1.ConfigMap)
		if c.Data["d"] != "x" || rvOf(t, c) != rv || c.Kind != "ConfigMap" {
			t.Errorf("get rv=%q: got %+v; want data x rv %d", rvOpt, c, rv)
		}
	}
	if _, err := e.cm.Get(ctx, "ns", "missing", GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get missing: got %v; want NotFound", err)
	}
	// The value in etcd is protobuf without a resourceVersion.
	resp, err := e.client.Get(ctx, "/registry/core/configmaps/ns/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get: %v %v", resp, err)
	}
	if v := resp.Kvs[0].Value; len(v) < 4 || string(v[:4]) != "k8s\x00" {
		t.Errorf("stored value does not start with the protobuf magic: %q", v[:4])
	}
}

func TestGetFutureRVTimesOut(t *testing.T) {
	e := newEnv(t, nil)
	e.create("ns", "a", nil, "x")
	errc := make(chan error, 1)
	go func() {
		_, err := e.cm.Get(context.Background(), "ns", "a", GetOptions{ResourceVersion: "1000000"})
		errc <- err
	}()
	// Step the fake clock until the Get's timer (created at some point
	// after the call) fires.
	var err error
	for done := false; !done; {
		select {
		case err = <-errc:
			done = true
		default:
			e.clock.Step(waitTimeout)
			goruntime.Gosched()
		}
	}
	if !apierrors.IsTimeout(err) || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) {
		t.Fatalf("got %v; want Timeout with ResourceVersionTooLarge", err)
	}
}

func TestUpdateConcurrentNoLostUpdates(t *testing.T) {
	e := newEnv(t, nil)
	e.create("ns", "counter", map[string]string{"n": "0"}, "")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				_, err := e.cm.Update(context.Background(), "ns", "counter", func(cur runtime.Object) (runtime.Object, error) {
					c := cur.(*corev1.ConfigMap)
					n, _ := strconv.Atoi(c.Labels["n"])
					c.Labels["n"] = strconv.Itoa(n + 1)
					return c, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := e.cm.Get(context.Background(), "ns", "counter", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := got.(*corev1.ConfigMap).Labels["n"]; n != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s; want %d", n, workers*each)
	}
}

func TestUpdateNoopAndCreate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.create("ns", "a", nil, "x")
	out, err := e.cm.Update(ctx, "ns", "a", func(cur runtime.Object) (runtime.Object, error) { return cur, nil })
	if err != nil {
		t.Fatal(err)
	}
	if rvOf(t, out) != rvOf(t, a) {
		t.Errorf("no-op update changed rv %d -> %d", rvOf(t, a), rvOf(t, out))
	}
	rev, _ := e.store.consistentRev(ctx)
	if rev != rvOf(t, a) {
		t.Errorf("no-op update wrote to etcd: revision %d; want %d", rev, rvOf(t, a))
	}
	// Update of a missing object: fn sees nil and may create it.
	out, err = e.cm.Update(ctx, "ns", "b", func(cur runtime.Object) (runtime.Object, error) {
		if cur != nil {
			t.Errorf("cur = %v; want nil", cur)
		}
		return cm("ns", "b", nil, "new"), nil
	})
	if err != nil || out.(*corev1.ConfigMap).Data["d"] != "new" {
		t.Fatalf("create via update: %v %v", out, err)
	}
	_, err = e.cm.Update(ctx, "ns", "c", func(cur runtime.Object) (runtime.Object, error) {
		return nil, apierrors.NewNotFound(configMaps.GroupResource, "c")
	})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("got %v; want NotFound", err)
	}
}

func TestDeletePrecondition(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.create("ns", "a", nil, "x")
	stale := rvOf(t, a)
	e.setData("ns", "a", "y")
	rvMatches := func(want uint64) func(runtime.Object) error {
		return func(cur runtime.Object) error {
			if got := cur.(metav1.Object).GetResourceVersion(); got != strconv.FormatUint(want, 10) {
				return apierrors.NewConflict(configMaps.GroupResource, "a", fmt.Errorf("rv %s != %d", got, want))
			}
			return nil
		}
	}
	if _, err := e.cm.Delete(ctx, "ns", "a", rvMatches(stale)); !apierrors.IsConflict(err) {
		t.Fatalf("delete with stale rv: got %v; want Conflict", err)
	}
	cur, err := e.cm.Get(ctx, "ns", "a", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	del, err := e.cm.Delete(ctx, "ns", "a", rvMatches(rvOf(t, cur)))
	if err != nil {
		t.Fatal(err)
	}
	if del.(*corev1.ConfigMap).Data["d"] != "y" {
		t.Errorf("deleted object = %v; want last state", del)
	}
	if _, err := e.cm.Get(ctx, "ns", "a", GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v; want NotFound", err)
	}
	if _, err := e.cm.Delete(ctx, "ns", "a", nil); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v; want NotFound", err)
	}
}

func TestListConsistentAfterWrites(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		ns := "a"
		if i%2 == 1 {
			ns = "b"
		}
		last := e.create(ns, fmt.Sprintf("cm-%02d", i), map[string]string{"odd": strconv.FormatBool(i%2 == 1)}, "")
		// A consistent list right after each write sees it.
		res, err := e.cm.List(ctx, "", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Items) != i+1 || res.ResourceVersion < rvOf(t, last) {
			t.Fatalf("after %d creates: %d items at rv %d; want %d at >= %d", i+1, len(res.Items), res.ResourceVersion, i+1, rvOf(t, last))
		}
	}
	res, err := e.cm.List(ctx, "b", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 10 {
		t.Errorf("namespace b: %d items; want 10", len(res.Items))
	}
	for i := 1; i < len(res.Items); i++ {
		if res.Items[i-1].(metav1.Object).GetName() >= res.Items[i].(metav1.Object).GetName() {
			t.Fatalf("items not sorted: %v", res.Items)
		}
	}
	sel := labels.SelectorFromSet(labels.Set{"odd": "true"})
	res, err = e.cm.List(ctx, "", ListOptions{ResourceVersion: "0", Label: sel})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 10 {
		t.Errorf("odd=true: %d items; want 10", len(res.Items))
	}
	// Exact at an old revision reads etcd.
	first, _ := e.cm.List(ctx, "", ListOptions{ResourceVersion: "0"})
	old := first.Items[0].(metav1.Object).GetResourceVersion()
	res, err = e.cm.List(ctx, "", ListOptions{ResourceVersion: old, ResourceVersionMatch: "Exact"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || strconv.FormatUint(res.ResourceVersion, 10) != old {
		t.Errorf("exact list at %s: %d items at %d; want 1", old, len(res.Items), res.ResourceVersion)
	}
}

func TestPaginationConsistentWhileWriting(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		e.create("ns", fmt.Sprintf("cm-%02d", i), nil, "v0")
	}
	first, err := e.cm.List(ctx, "ns", ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if first.RemainingItemCount == nil || *first.RemainingItemCount != 40 {
		t.Errorf("remaining = %v; want 40", first.RemainingItemCount)
	}
	// Writes between pages must not show up.
	for i := 0; i < 50; i++ {
		e.setData("ns", fmt.Sprintf("cm-%02d", i), "v1")
	}
	e.create("ns", "cm-99", nil, "v1")
	items := first.Items
	tok := first.Continue
	for tok != "" {
		page, err := e.cm.List(ctx, "ns", ListOptions{Limit: 10, Continue: tok})
		if err != nil {
			t.Fatal(err)
		}
		if page.ResourceVersion != first.ResourceVersion {
			t.Fatalf("page rv %d; want %d", page.ResourceVersion, first.ResourceVersion)
		}
		items = append(items, page.Items...)
		tok = page.Continue
	}
	if len(items) != 50 {
		t.Fatalf("got %d items; want 50", len(items))
	}
	for i, it := range items {
		c := it.(*corev1.ConfigMap)
		if c.Name != fmt.Sprintf("cm-%02d", i) || c.Data["d"] != "v0" {
			t.Fatalf("item %d = %s %s; want cm-%02d v0", i, c.Name, c.Data["d"], i)
		}
	}
	// Filtered pagination fills pages and omits the remaining count.
	sel := labels.SelectorFromSet(labels.Set{"none": "x"})
	res, err := e.cm.List(ctx, "ns", ListOptions{Limit: 5, Label: sel})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 || res.Continue != "" || res.RemainingItemCount != nil {
		t.Errorf("filtered page = %d items, continue %q, remaining %v; want empty", len(res.Items), res.Continue, res.RemainingItemCount)
	}
	// RV=0 with a limit is served whole from the cache (once the cache has
	// caught up, which a consistent list waits for).
	if _, err := e.cm.List(ctx, "ns", ListOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = e.cm.List(ctx, "ns", ListOptions{ResourceVersion: "0", Limit: 5})
	if err != nil || len(res.Items) != 51 || res.Continue != "" {
		t.Errorf("rv=0 limit=5: %v items, continue %q, err %v; want 51 items", len(res.Items), res.Continue, err)
	}
}

func TestContinueExpiresAfterCompaction(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		e.create("ns", fmt.Sprintf("cm-%d", i), nil, "")
	}
	first, err := e.cm.List(ctx, "", ListOptions{Limit: 2})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: %v continue %q", err, first.Continue)
	}
	e.setData("ns", "cm-0", "changed")
	rev, _ := e.store.consistentRev(ctx)
	if _, err := e.client.Compact(ctx, int64(rev)); err != nil {
		t.Fatal(err)
	}
	_, err = e.cm.List(ctx, "", ListOptions{Limit: 2, Continue: first.Continue})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("got %v; want 410 Expired", err)
	}
	if err.Error() != msgInconsistentContinue {
		t.Errorf("message = %q", err.Error())
	}
	if _, err := e.cm.List(ctx, "", ListOptions{Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Errorf("bad token: got %v; want BadRequest", err)
	}
}

func TestCompactorCompactsPreviousRevision(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CompactInterval = -1 })
	ctx := context.Background()
	a := e.create("ns", "a", nil, "x")
	v, r1, err := e.store.compactOnce(ctx, 0, 0)
	if err != nil || v != 1 {
		t.Fatalf("first round: version %d err %v; want 1", v, err)
	}
	e.setData("ns", "a", "y")
	// A second server that saw version 0 loses the race and adopts 1.
	other, _, err := e.store.compactOnce(ctx, 0, 0)
	if err != nil || other != 1 {
		t.Fatalf("losing round: version %d err %v; want 1", other, err)
	}
	if _, _, err := e.store.compactOnce(ctx, v, r1); err != nil {
		t.Fatal(err)
	}
	_, err = e.cm.List(ctx, "", ListOptions{ResourceVersion: strconv.FormatUint(rvOf(t, a), 10), ResourceVersionMatch: "Exact"})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("list at compacted rv: got %v; want 410", err)
	}
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	emb := storagetest.StartEmbedded(t, dir)
	e := newEnvWith(t, emb.Client(), nil)
	a := e.create("ns", "a", map[string]string{"k": "v"}, "persist")
	e.store.Stop()
	if err := emb.Close(); err != nil {
		t.Fatal(err)
	}
	emb2 := storagetest.StartEmbedded(t, dir)
	e2 := newEnvWith(t, emb2.Client(), nil)
	got, err := e2.cm.Get(context.Background(), "ns", "a", GetOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	c := got.(*corev1.ConfigMap)
	if c.Data["d"] != "persist" || c.Labels["k"] != "v" || rvOf(t, c) != rvOf(t, a) {
		t.Fatalf("after reopen: %+v; want the stored object at rv %d", c, rvOf(t, a))
	}
}
