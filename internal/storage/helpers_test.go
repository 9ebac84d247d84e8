package storage

import (
	"context"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

var configMaps = ResourceConfig{
	GroupResource: schema.GroupResource{Resource: "configmaps"},
	GVK:           corev1.SchemeGroupVersion.WithKind("ConfigMap"),
	Namespaced:    true,
	New:           func() runtime.Object { return &corev1.ConfigMap{} },
}

type env struct {
	t      testing.TB
	client *clientv3.Client
	store  *Store
	cm     Resource
	clock  *clocktesting.FakeClock
}

// newEnv starts etcd and a Store with configmaps registered. mod may adjust
// the config before New.
func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	client := storagetest.StartEtcd(t)
	return newEnvWith(t, client, mod)
}

func newEnvWith(t testing.TB, client *clientv3.Client, mod func(*Config)) *env {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Unix(1_700_000_000, 0))
	cfg := Config{Client: client, Clock: clk}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm := s.Register(configMaps)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return &env{t: t, client: client, store: s, cm: cm, clock: clk}
}

func cm(ns, name string, lbls map[string]string, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Data:       map[string]string{"d": data},
	}
}

func (e *env) create(ns, name string, lbls map[string]string, data string) *corev1.ConfigMap {
	e.t.Helper()
	out, err := e.cm.Create(context.Background(), ns, name, cm(ns, name, lbls, data))
	if err != nil {
		e.t.Fatalf("create %s/%s: %v", ns, name, err)
	}
	return out.(*corev1.ConfigMap)
}

func (e *env) setData(ns, name, data string) *corev1.ConfigMap {
	e.t.Helper()
	out, err := e.cm.Update(context.Background(), ns, name, func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*corev1.ConfigMap)
		c.Data = map[string]string{"d": data}
		return c, nil
	})
	if err != nil {
		e.t.Fatalf("update %s/%s: %v", ns, name, err)
	}
	return out.(*corev1.ConfigMap)
}

func rvOf(t testing.TB, obj runtime.Object) uint64 {
	t.Helper()
	rv, err := strconv.ParseUint(obj.(metav1.Object).GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("bad resourceVersion on %T: %v", obj, err)
	}
	return rv
}

// next reads one event; it fails the test if the channel closes or the
// test context ends. There is no timing assertion: a hang is a failure of
// the go test -timeout.
func next(t testing.TB, w watch.Interface) watch.Event {
	t.Helper()
	ev, ok := <-w.ResultChan()
	if !ok {
		t.Fatal("watch closed")
	}
	return ev
}

type evSummary struct {
	Type watch.EventType
	Name string
	RV   string
	Data string
}

func summarize(ev watch.Event) evSummary {
	m := ev.Object.(metav1.Object)
	s := evSummary{Type: ev.Type, Name: m.GetName(), RV: m.GetResourceVersion()}
	if c, ok := ev.Object.(*corev1.ConfigMap); ok {
		s.Data = c.Data["d"]
	}
	return s
}

func ptr[T any](v T) *T { return &v }
