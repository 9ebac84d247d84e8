package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

// genTransformer is a recording fake: it stores "gen<N>:" + data and reads
// any generation, reporting stale for all but its own.
type genTransformer struct {
	gen int

	mu   sync.Mutex // guards keys
	keys map[string]bool
}

func (g *genTransformer) prefix(n int) []byte { return fmt.Appendf(nil, "gen%d:", n) }

func (g *genTransformer) TransformToStorage(data []byte, key string) ([]byte, error) {
	g.record(key)
	return append(g.prefix(g.gen), data...), nil
}

func (g *genTransformer) TransformFromStorage(data []byte, key string) ([]byte, bool, error) {
	g.record(key)
	for n := 1; n <= 9; n++ {
		if p := g.prefix(n); bytes.HasPrefix(data, p) {
			return bytes.Clone(data[len(p):]), n != g.gen, nil
		}
	}
	return nil, false, errors.New("no prefix")
}

func (g *genTransformer) record(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.keys == nil {
		g.keys = map[string]bool{}
	}
	g.keys[key] = true
}

func startTransformed(t *testing.T, client *clientv3.Client, tr Transformer) (*Store, Resource) {
	t.Helper()
	s, err := New(Config{Client: client, CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	rc := configMaps
	rc.Transformer = tr
	res := s.Register(rc)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, res
}

func rawValue(t *testing.T, client *clientv3.Client, key string) ([]byte, int64) {
	t.Helper()
	resp, err := client.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get %s: %v %v", key, resp, err)
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision
}

func TestTransformerEveryPath(t *testing.T) {
	ctx := context.Background()
	client := storagetest.StartEtcd(t)
	tr := &genTransformer{gen: 1}
	s, res := startTransformed(t, client, tr)
	w, err := res.Watch(ctx, "ns", WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := res.Create(ctx, "ns", "a", cm("ns", "a", nil, "x")); err != nil {
		t.Fatal(err)
	}
	const key = "/registry/core/configmaps/ns/a"
	if raw, _ := rawValue(t, client, key); !bytes.HasPrefix(raw, []byte("gen1:")) {
		t.Fatalf("raw value %q; want the transformer's prefix", raw)
	}
	if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Data["d"] != "x" {
		t.Fatalf("watch event %+v; want Added with data x", summarize(ev))
	}
	reads := map[string]func() (runtime.Object, error){
		"get from etcd":  func() (runtime.Object, error) { return res.Get(ctx, "ns", "a", GetOptions{}) },
		"get from cache": func() (runtime.Object, error) { return res.Get(ctx, "ns", "a", GetOptions{ResourceVersion: "0"}) },
		"list from cache": func() (runtime.Object, error) {
			l, err := res.List(ctx, "ns", ListOptions{})
			if err != nil || len(l.Items) != 1 {
				return nil, fmt.Errorf("list: %v %v", l, err)
			}
			return l.Items[0], nil
		},
		"list from etcd": func() (runtime.Object, error) {
			l, err := res.List(ctx, "ns", ListOptions{Limit: 5, ResourceVersion: fmt.Sprint(s.CurrentRevision()), ResourceVersionMatch: "Exact"})
			if err != nil || len(l.Items) != 1 {
				return nil, fmt.Errorf("list: %v %v", l, err)
			}
			return l.Items[0], nil
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			obj, err := read()
			if err != nil {
				t.Fatal(err)
			}
			if got := obj.(*corev1.ConfigMap).Data["d"]; got != "x" {
				t.Fatalf("data = %q; want x", got)
			}
		})
	}
	tr.mu.Lock()
	seen := maps.Clone(tr.keys)
	tr.mu.Unlock()
	if !seen[key] || len(seen) != 1 {
		t.Fatalf("transformer saw keys %v; want only %s", seen, key)
	}
}

func TestTransformerStaleForcesRewrite(t *testing.T) {
	ctx := context.Background()
	client := storagetest.StartEtcd(t)
	const key = "/registry/core/configmaps/ns/a"
	s1, res1 := startTransformed(t, client, &genTransformer{gen: 1})
	if _, err := res1.Create(ctx, "ns", "a", cm("ns", "a", nil, "x")); err != nil {
		t.Fatal(err)
	}
	s1.Stop()

	// A new "key": the old value reads as stale.
	_, res := startTransformed(t, client, &genTransformer{gen: 2})
	noop := func(cur runtime.Object) (runtime.Object, error) { return cur, nil }
	steps := []struct {
		name      string
		wantWrite bool
	}{
		{"stale value is rewritten by a no-op update", true},
		{"fresh value is not rewritten", false},
	}
	for _, step := range steps {
		_, before := rawValue(t, client, key)
		out, err := res.Update(ctx, "ns", "a", noop)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		raw, after := rawValue(t, client, key)
		if wrote := after != before; wrote != step.wantWrite {
			t.Fatalf("%s: wrote = %v; want %v", step.name, wrote, step.wantWrite)
		}
		if !bytes.HasPrefix(raw, []byte("gen2:")) || out.(*corev1.ConfigMap).Data["d"] != "x" {
			t.Fatalf("%s: raw %q, data %q; want gen2 and x", step.name, raw, out.(*corev1.ConfigMap).Data["d"])
		}
	}
}

func TestTransformerReadError(t *testing.T) {
	ctx := context.Background()
	client := storagetest.StartEtcd(t)
	_, res := startTransformed(t, client, &genTransformer{gen: 1})
	if _, err := client.Put(ctx, "/registry/core/configmaps/ns/bad", "unprefixed"); err != nil {
		t.Fatal(err)
	}
	_, err := res.Get(ctx, "ns", "bad", GetOptions{})
	if !apierrors.IsInternalError(err) {
		t.Fatalf("err = %v; want an internal error", err)
	}
}
