package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// note is one informer handler call: op is add, update or delete; rv the
// object's resourceVersion; final marks a delete seen only as
// DeletedFinalStateUnknown after a relist.
type note struct {
	op, name, rv string
	final        bool
}

func (n note) String() string {
	s := n.op + " " + n.name + "@" + n.rv
	if n.final {
		s += " (final state unknown)"
	}
	return s
}

// recorder keeps informer handler calls in order.
type recorder struct {
	mu    sync.Mutex // guards notes
	notes []note
}

func (r *recorder) add(n note) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
}

func (r *recorder) snapshot() []note {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notes)
}

func (r *recorder) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			cm := obj.(*corev1.ConfigMap)
			r.add(note{op: "add", name: cm.Name, rv: cm.ResourceVersion})
		},
		UpdateFunc: func(_, obj any) {
			cm := obj.(*corev1.ConfigMap)
			r.add(note{op: "update", name: cm.Name, rv: cm.ResourceVersion})
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				cm := d.Obj.(*corev1.ConfigMap)
				r.add(note{op: "delete", name: cm.Name, rv: cm.ResourceVersion, final: true})
				return
			}
			cm := obj.(*corev1.ConfigMap)
			r.add(note{op: "delete", name: cm.Name, rv: cm.ResourceVersion})
		},
	}
}

// writer makes sequential ConfigMap writes and records what an informer
// must report for each.
type writer struct {
	t    *testing.T
	c    kubernetes.Interface
	ns   string
	want []note
}

func (w *writer) create(name, v string) {
	w.t.Helper()
	cm, err := w.c.CoreV1().ConfigMaps(w.ns).Create(context.Background(), configMap(name, nil, map[string]string{"v": v}), metav1.CreateOptions{})
	if err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	w.want = append(w.want, note{op: "add", name: name, rv: cm.ResourceVersion})
}

func (w *writer) update(name, v string) {
	w.t.Helper()
	cm, err := w.c.CoreV1().ConfigMaps(w.ns).Update(context.Background(), configMap(name, nil, map[string]string{"v": v}), metav1.UpdateOptions{})
	if err != nil {
		w.t.Fatalf("update %s: %v", name, err)
	}
	w.want = append(w.want, note{op: "update", name: name, rv: cm.ResourceVersion})
}

// del deletes name. The informer reports a watched delete with the
// deletion's resourceVersion (unknown here) and a delete found by a relist
// with the last state it had, so deletes are compared without one.
func (w *writer) del(name string) {
	w.t.Helper()
	if err := w.c.CoreV1().ConfigMaps(w.ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		w.t.Fatalf("delete %s: %v", name, err)
	}
	w.want = append(w.want, note{op: "delete", name: name})
}

// comparable blanks what writes cannot predict: a delete's resourceVersion
// and whether it came as DeletedFinalStateUnknown.
func comparable(notes []note) []note {
	out := slices.Clone(notes)
	for i := range out {
		if out[i].op == "delete" {
			out[i].rv, out[i].final = "", false
		}
	}
	return out
}

// since returns the handler calls from index from on, dropping updates that
// repeat the resourceVersion the handler last saw for that name (judged over
// the whole history): a relist re-delivers unchanged objects as updates.
func since(notes []note, from int) []note {
	last := map[string]string{}
	var out []note
	for i, n := range notes {
		noop := n.op == "update" && last[n.name] == n.rv
		last[n.name] = n.rv
		if i >= from && !noop {
			out = append(out, n)
		}
	}
	return out
}

// waitNotes waits until the handler calls from index from on, without
// relist no-ops, equal want.
func waitNotes(t *testing.T, rec *recorder, from int, want []note) {
	t.Helper()
	eventually(t, 60*time.Second, func() (bool, string) {
		got := comparable(since(rec.snapshot(), from))
		return slices.Equal(got, want), fmt.Sprintf("handler calls:\n  %v\nwant:\n  %v", got, want)
	})
}

// checkPerKeyOrder fails if, for any name, the handler saw a resourceVersion
// go backwards, an update or delete of an absent object, or an add of a
// present one.
func checkPerKeyOrder(t *testing.T, notes []note) {
	t.Helper()
	last := map[string]int64{}
	present := map[string]bool{}
	for i, n := range notes {
		rv := rvOf(t, n.rv)
		switch n.op {
		case "add":
			if present[n.name] {
				t.Errorf("call %d %v: add of an object already present", i, n)
			}
			present[n.name] = true
		case "update":
			if !present[n.name] {
				t.Errorf("call %d %v: update of an absent object", i, n)
			}
		case "delete":
			if !present[n.name] {
				t.Errorf("call %d %v: delete of an absent object", i, n)
			}
			present[n.name] = false
		}
		if rv < last[n.name] {
			t.Errorf("call %d %v: resourceVersion went back from %d", i, n, last[n.name])
		}
		last[n.name] = rv
	}
}

func TestInformerOrderingAcrossRestart(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	createNamespace(t, s.Client, "inf")

	// The informer's client keeps the first run's config: the server comes
	// back on the same port with the same CA.
	ic := protoClient(t, s.Config)
	factory := informers.NewSharedInformerFactoryWithOptions(ic, 0, informers.WithNamespace("inf"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	rec := &recorder{}
	if _, err := inf.AddEventHandler(rec.handler()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer func() { close(stop); factory.Shutdown() }()
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}

	// Phase 1: every write arrives, in order, exactly once.
	w := &writer{t: t, c: s.Client, ns: "inf"}
	w.create("a", "1")
	w.create("b", "1")
	w.update("a", "2")
	w.create("c", "1")
	w.del("b")
	w.update("a", "3")
	w.create("d", "1")
	w.create("e", "1")
	w.update("c", "2")
	w.del("c")
	w.create("b", "2")
	waitNotes(t, rec, 0, w.want)
	var lastRV int64
	for i, n := range w.want {
		if n.op == "delete" {
			continue
		}
		if rv := rvOf(t, n.rv); rv <= lastRV {
			t.Errorf("write %d %v: resourceVersion not after %d", i, n, lastRV)
		} else {
			lastRV = rv
		}
	}

	// Phase 2: writes while the informer's server is down (made through a
	// second server on the same data), then the server comes back: the
	// informer relists and catches up.
	mark := len(rec.snapshot())
	s.Stop()
	other := testserver.Start(t, testserver.Options{DataDir: s.DataDir()})
	down := &writer{t: t, c: other.Client, ns: "inf"}
	from := len(down.want)
	down.update("a", "4")
	down.del("d")
	down.create("f", "1")
	other.Stop()
	s.Restart()
	// A relist's order across names is the list's, so compare per name.
	eventually(t, 60*time.Second, func() (bool, string) {
		got := comparable(since(rec.snapshot(), mark))
		byName := map[string][]note{}
		for _, n := range got {
			byName[n.name] = append(byName[n.name], n)
		}
		for _, n := range down.want[from:] {
			if len(byName[n.name]) != 1 || byName[n.name][0] != n {
				return false, fmt.Sprintf("after restart: calls %v; want one each of %v", got, down.want[from:])
			}
		}
		if len(got) != len(down.want[from:]) {
			return false, fmt.Sprintf("after restart: calls %v; want exactly %v", got, down.want[from:])
		}
		return true, ""
	})

	// Phase 3: the informer is watching again; writes arrive in order.
	mark = len(rec.snapshot())
	w2 := &writer{t: t, c: s.Client, ns: "inf"}
	from = 0
	w2.update("a", "5")
	w2.create("g", "1")
	w2.del("e")
	w2.update("f", "2")
	waitNotes(t, rec, mark, w2.want[from:])

	all := rec.snapshot()
	checkPerKeyOrder(t, all)
	var names []string
	for _, obj := range inf.GetStore().List() {
		cm := obj.(*corev1.ConfigMap)
		names = append(names, cm.Name+"="+cm.Data["v"])
	}
	slices.Sort(names)
	if got, want := strings.Join(names, " "), "a=5 b=2 f=2 g=1"; got != want {
		t.Errorf("informer store = %s; want %s", got, want)
	}
}
