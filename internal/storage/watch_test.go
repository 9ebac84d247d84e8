package storage

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func TestWatchReplaysFromRV(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.create("ns", "a", nil, "1")
	a2 := e.setData("ns", "a", "2")
	b := e.create("other", "b", nil, "1")
	del, err := e.cm.Delete(ctx, "ns", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := e.create("ns", "c", nil, "1")

	w, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: strconv.FormatUint(rvOf(t, a), 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []evSummary
	for range 4 {
		got = append(got, summarize(next(t, w)))
	}
	delRV := strconv.FormatUint(rvOf(t, b)+1, 10)
	want := []evSummary{
		{watch.Modified, "a", a2.ResourceVersion, "2"},
		{watch.Added, "b", b.ResourceVersion, "1"},
		{watch.Deleted, "a", delRV, "2"},
		{watch.Added, "c", c.ResourceVersion, "1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if del.(metav1.Object).GetResourceVersion() != a2.ResourceVersion {
		t.Errorf("Delete returned rv %s; want last state's %s", del.(metav1.Object).GetResourceVersion(), a2.ResourceVersion)
	}

	// A namespaced watch sees only its namespace.
	wn, err := e.cm.Watch(ctx, "other", WatchOptions{ResourceVersion: strconv.FormatUint(rvOf(t, a), 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer wn.Stop()
	e.create("other", "d", nil, "1")
	if s := summarize(next(t, wn)); s.Name != "b" {
		t.Fatalf("first event in other = %+v; want b", s)
	}
	if s := summarize(next(t, wn)); s.Name != "d" {
		t.Fatalf("second event in other = %+v; want d", s)
	}
}

func TestWatchTooOldRV(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HistorySize = 5 })
	first := e.create("ns", "a0", nil, "")
	for i := 1; i < 10; i++ {
		e.create("ns", fmt.Sprintf("a%d", i), nil, "")
	}
	if _, err := e.cm.List(context.Background(), "", ListOptions{}); err != nil { // cache caught up
		t.Fatal(err)
	}
	_, err := e.cm.Watch(context.Background(), "", WatchOptions{ResourceVersion: first.ResourceVersion})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("got %v; want 410", err)
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	sel := labels.SelectorFromSet(labels.Set{"app": "x"})
	w, err := e.cm.Watch(ctx, "ns", WatchOptions{ResourceVersion: "0", Label: sel})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	setApp := func(app, data string) *corev1.ConfigMap {
		out, err := e.cm.Update(ctx, "ns", "a", func(cur runtime.Object) (runtime.Object, error) {
			c := cur.(*corev1.ConfigMap)
			c.Labels = map[string]string{"app": app}
			c.Data = map[string]string{"d": data}
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.ConfigMap)
	}
	e.create("ns", "a", map[string]string{"app": "y"}, "0") // not matching: no event
	v1 := setApp("x", "1")                                  // starts matching: ADDED
	v2 := setApp("x", "2")                                  // MODIFIED
	v3 := setApp("y", "3")                                  // stops matching: DELETED (old state, new rv)
	setApp("y", "4")                                        // nothing
	b := e.create("ns", "b", map[string]string{"app": "x"}, "b")
	want := []evSummary{
		{watch.Added, "a", v1.ResourceVersion, "1"},
		{watch.Modified, "a", v2.ResourceVersion, "2"},
		{watch.Deleted, "a", v3.ResourceVersion, "2"},
		{watch.Added, "b", b.ResourceVersion, "b"},
	}
	var got []evSummary
	for range want {
		got = append(got, summarize(next(t, w)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestWatchInitialEventsAndBookmarks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.create("ns", "a", nil, "1")
	b := e.create("ns", "b", nil, "1")

	// Legacy: RV "0" starts with ADDED for every object.
	w0, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w0.Stop()
	if s := summarize(next(t, w0)); s.Type != watch.Added || s.Name != "a" {
		t.Fatalf("got %+v; want ADDED a", s)
	}
	if s := summarize(next(t, w0)); s.Type != watch.Added || s.Name != "b" {
		t.Fatalf("got %+v; want ADDED b", s)
	}

	w, err := e.cm.Watch(ctx, "", WatchOptions{
		ResourceVersionMatch: "NotOlderThan", AllowBookmarks: true, SendInitialEvents: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, name := range []string{"a", "b"} {
		if s := summarize(next(t, w)); s.Type != watch.Added || s.Name != name {
			t.Fatalf("got %+v; want ADDED %s", s, name)
		}
	}
	end := next(t, w)
	m := end.Object.(metav1.Object)
	if end.Type != watch.Bookmark || m.GetAnnotations()[initialEventsAnnotation] != "true" || m.GetResourceVersion() != b.ResourceVersion {
		t.Fatalf("got %s %v rv %s; want BOOKMARK with %s at %s", end.Type, m.GetAnnotations(), m.GetResourceVersion(), initialEventsAnnotation, b.ResourceVersion)
	}
	if end.Object.GetObjectKind().GroupVersionKind().Kind != "ConfigMap" {
		t.Errorf("bookmark kind = %v", end.Object.GetObjectKind().GroupVersionKind())
	}

	c := e.create("ns", "c", nil, "1")
	if s := summarize(next(t, w)); s.Type != watch.Added || s.Name != "c" {
		t.Fatalf("got %+v; want ADDED c", s)
	}
	// Periodic bookmark: step the fake clock until one arrives.
	var bm watch.Event
	for got := false; !got; {
		select {
		case bm = <-w.ResultChan():
			got = true
		default:
			e.clock.Step(DefaultBookmarkInterval)
			goruntime.Gosched()
		}
	}
	if bm.Type != watch.Bookmark || rvOf(t, bm.Object) < rvOf(t, c) {
		t.Fatalf("got %s at %s; want BOOKMARK at >= %s", bm.Type, bm.Object.(metav1.Object).GetResourceVersion(), c.ResourceVersion)
	}
	if len(bm.Object.(metav1.Object).GetAnnotations()) != 0 {
		t.Errorf("periodic bookmark has annotations %v", bm.Object.(metav1.Object).GetAnnotations())
	}
	// The watcher without AllowBookmarks got none: its next event is c.
	if s := summarize(next(t, w0)); s.Type != watch.Added || s.Name != "c" {
		t.Fatalf("w0 got %+v; want ADDED c", s)
	}
}

func TestSlowWatcherDoesNotBlock(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HistorySize = 64 })
	ctx := context.Background()
	slow, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	fast, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			if _, err := e.cm.Create(ctx, "ns", fmt.Sprintf("o-%03d", i), cm("ns", fmt.Sprintf("o-%03d", i), nil, "")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		s := summarize(next(t, fast))
		if want := fmt.Sprintf("o-%03d", i); s.Name != want || s.Type != watch.Added {
			t.Fatalf("fast watcher event %d = %+v; want ADDED %s", i, s, want)
		}
	}
	<-done
	// The slow watcher fell out of the 64-event history and was ended
	// after delivering what fit in its buffer.
	count := 0
	for range slow.ResultChan() {
		count++
	}
	if count >= n {
		t.Fatalf("slow watcher got all %d events; want it ended early", count)
	}
}

func TestListThenWatchMissesNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const writers, perWriter = 50, 6
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			name := fmt.Sprintf("w-%02d", i)
			if _, err := e.cm.Create(ctx, "ns", name, cm("ns", name, nil, "0")); err != nil {
				t.Error(err)
				return
			}
			for j := 1; j < perWriter; j++ {
				_, err := e.cm.Update(ctx, "ns", name, func(cur runtime.Object) (runtime.Object, error) {
					c := cur.(*corev1.ConfigMap)
					c.Data = map[string]string{"d": strconv.Itoa(j)}
					return c, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
			if i%5 == 0 {
				if _, err := e.cm.Delete(ctx, "ns", name, nil); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	close(start)
	list, err := e.cm.List(ctx, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, it := range list.Items {
		c := it.(*corev1.ConfigMap)
		state[c.Name] = c.Data["d"] + "@" + c.ResourceVersion
	}
	w, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: strconv.FormatUint(list.ResourceVersion, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wg.Wait()
	final, err := e.cm.List(ctx, "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := list.ResourceVersion
	for last < final.ResourceVersion {
		ev := next(t, w)
		c := ev.Object.(*corev1.ConfigMap)
		rv := rvOf(t, c)
		if rv <= last {
			t.Fatalf("event rv %d not after %d", rv, last)
		}
		last = rv
		switch ev.Type {
		case watch.Deleted:
			delete(state, c.Name)
		default:
			state[c.Name] = c.Data["d"] + "@" + c.ResourceVersion
		}
	}
	want := map[string]string{}
	for _, it := range final.Items {
		c := it.(*corev1.ConfigMap)
		want[c.Name] = c.Data["d"] + "@" + c.ResourceVersion
	}
	if diff := cmp.Diff(want, state); diff != "" {
		t.Fatalf("list+watch state differs from final list (-want +got):\n%s", diff)
	}
	if len(want) != writers-writers/5 {
		t.Errorf("final list has %d objects; want %d", len(want), writers-writers/5)
	}
}

func TestStopEndsWatchers(t *testing.T) {
	e := newEnv(t, nil)
	w, err := e.cm.Watch(context.Background(), "", WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	e.store.Stop()
	e.store.Stop()
	for range w.ResultChan() {
	}
	if _, err := e.cm.Watch(context.Background(), "", WatchOptions{ResourceVersion: "0"}); err == nil {
		t.Fatal("Watch after Stop: got nil error")
	}
}

// BenchmarkWatchFanout100 measures the time for one write to reach 100
// watchers.
func BenchmarkWatchFanout100(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	const watchers = 100
	var ws []watch.Interface
	for range watchers {
		w, err := e.cm.Watch(ctx, "", WatchOptions{ResourceVersion: "0"})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		ws = append(ws, w)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("cm-%d", i)
		i++
		if _, err := e.cm.Create(ctx, "ns", name, cm("ns", name, nil, "")); err != nil {
			b.Fatal(err)
		}
		for _, w := range ws {
			if ev := <-w.ResultChan(); ev.Object.(metav1.Object).GetName() != name {
				b.Fatalf("got %s; want %s", ev.Object.(metav1.Object).GetName(), name)
			}
		}
	}
}
