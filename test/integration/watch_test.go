package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// nextEvent waits for one event or fails the test at ctx's deadline.
func nextEvent(t *testing.T, ctx context.Context, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch closed")
		}
		return e
	case <-ctx.Done():
		t.Fatalf("no watch event: %v", ctx.Err())
	}
	panic("unreachable")
}

// TestWatchTooOldResourceVersion compacts the external etcd directly, then
// restarts the server so its watch cache starts after the compaction: a
// watch from before it gets 410 Gone (as a status or an ERROR event, both of
// which client-go's reflector handles), and so do an exact list at the
// compacted revision and a continue token from before the compaction.
func TestWatchTooOldResourceVersion(t *testing.T) {
	t.Parallel()
	endpoint := startEtcd(t)
	// Compaction is driven by the test, not the server.
	s := testserver.Start(t, testserver.Options{DatastoreEndpoints: []string{endpoint}, CompactInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client
	createNamespace(t, c, "old")
	cms := c.CoreV1().ConfigMaps("old")
	first, err := cms.Create(ctx, configMap("a", nil, map[string]string{"v": "0"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("b-%d", i), nil, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.Continue == "" {
		t.Fatalf("list limit=2 of 6 objects returned no continue token")
	}
	last, err := cms.Update(ctx, configMap("a", nil, map[string]string{"v": "1"}), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	etcd := etcdClient(t, endpoint)
	if _, err := etcd.Compact(ctx, rvOf(t, last.ResourceVersion)); err != nil {
		t.Fatalf("compact etcd to %s: %v", last.ResourceVersion, err)
	}
	s.Restart()
	c = s.Client
	cms = c.CoreV1().ConfigMaps("old")

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err == nil {
		e := nextEvent(t, ctx, w)
		w.Stop()
		status, ok := e.Object.(*metav1.Status)
		if e.Type != watch.Error || !ok || status.Code != http.StatusGone {
			t.Errorf("watch from compacted rv %s: first event %s %+v; want ERROR with code 410", first.ResourceVersion, e.Type, e.Object)
		}
	} else if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from compacted rv %s: err = %v; want 410 Gone", first.ResourceVersion, err)
	}

	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("exact list at compacted rv: err = %v; want 410", err)
	}
	_, err = cms.List(ctx, metav1.ListOptions{Limit: 2, Continue: page.Continue})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("list with continue token from before compaction: err = %v; want 410", err)
	}

	// The current revision still watches.
	cur, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err = cms.Watch(ctx, metav1.ListOptions{ResourceVersion: cur.ResourceVersion})
	if err != nil {
		t.Fatalf("watch from current rv: %v", err)
	}
	defer w.Stop()
	if _, err := cms.Create(ctx, configMap("after", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ctx, w); e.Type != watch.Added || e.Object.(*corev1.ConfigMap).Name != "after" {
		t.Errorf("watch from current rv: event %s %v; want ADDED after", e.Type, e.Object)
	}
}

func TestWatchBookmarks(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{BookmarkInterval: 100 * time.Millisecond})
	c := protoClient(t, s.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createNamespace(t, c, "bm")
	cms := c.CoreV1().ConfigMaps("bm")
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created, err := cms.Create(ctx, configMap("x", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A bookmark may come first if a tick fell before the create.
	for {
		e := nextEvent(t, ctx, w)
		if e.Type == watch.Bookmark {
			continue
		}
		if e.Type != watch.Added || e.Object.(*corev1.ConfigMap).Name != "x" {
			t.Fatalf("first event %s %v; want ADDED x", e.Type, e.Object)
		}
		break
	}
	// Bookmarks follow, each a bare ConfigMap carrying only a
	// resourceVersion no older than what the watch has delivered.
	for i := range 2 {
		e := nextEvent(t, ctx, w)
		if e.Type != watch.Bookmark {
			t.Fatalf("event %d after ADDED: %s; want BOOKMARK", i, e.Type)
		}
		cm, ok := e.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("bookmark object %T; want *v1.ConfigMap", e.Object)
		}
		if cm.Name != "" || cm.Data != nil || rvOf(t, cm.ResourceVersion) < rvOf(t, created.ResourceVersion) {
			t.Errorf("bookmark %+v; want only a resourceVersion >= %s", cm, created.ResourceVersion)
		}
	}

	// Without allowWatchBookmarks no bookmark arrives: the next event after
	// several bookmark intervals is the write made then.
	plain, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	// Let several bookmark ticks pass (counted on the bookmark watch); a
	// bookmark on the plain watch would be delivered before the ADDED below.
	for range 3 {
		if e := nextEvent(t, ctx, w); e.Type != watch.Bookmark {
			t.Fatalf("bookmark watch: %s; want BOOKMARK", e.Type)
		}
	}
	if _, err := cms.Create(ctx, configMap("y", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ctx, plain); e.Type != watch.Added {
		t.Errorf("watch without allowWatchBookmarks: first event %s; want ADDED", e.Type)
	}
}

func TestWatchListInitialEvents(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	for _, ct := range []string{"json", "protobuf"} {
		t.Run(ct, func(t *testing.T) {
			c := s.Client
			if ct == "protobuf" {
				c = protoClient(t, s.Config)
			}
			watchListInitialEvents(t, c, "wl-"+ct)
		})
	}
}

func watchListInitialEvents(t *testing.T, c kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createNamespace(t, c, ns)
	cms := c.CoreV1().ConfigMaps(ns)
	want := map[string]string{}
	var maxRV int64
	for i := range 5 {
		cm, err := cms.Create(ctx, configMap(fmt.Sprintf("cm-%d", i), map[string]string{"i": fmt.Sprint(i % 2)}, nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[cm.Name] = cm.ResourceVersion
		maxRV = max(maxRV, rvOf(t, cm.ResourceVersion))
	}
	yes := true
	w, err := cms.Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    &yes,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	})
	if err != nil {
		t.Fatalf("watch-list: %v", err)
	}
	defer w.Stop()
	got := map[string]string{}
	var end *corev1.ConfigMap
	for end == nil {
		e := nextEvent(t, ctx, w)
		cm, ok := e.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("watch-list event %s %T; want a ConfigMap", e.Type, e.Object)
		}
		switch e.Type {
		case watch.Added:
			if _, dup := got[cm.Name]; dup {
				t.Errorf("initial event for %s twice", cm.Name)
			}
			got[cm.Name] = cm.ResourceVersion
		case watch.Bookmark:
			if cm.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
				end = cm
			}
		default:
			t.Fatalf("watch-list initial event %s; want ADDED or BOOKMARK", e.Type)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("initial events %v; want %v", got, want)
	}
	if rvOf(t, end.ResourceVersion) < maxRV {
		t.Errorf("initial-events-end bookmark rv %s; want >= %d", end.ResourceVersion, maxRV)
	}
	later, err := cms.Create(ctx, configMap("later", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		e := nextEvent(t, ctx, w)
		if e.Type == watch.Bookmark {
			continue
		}
		cm := e.Object.(*corev1.ConfigMap)
		if e.Type != watch.Added || cm.Name != "later" || cm.ResourceVersion != later.ResourceVersion {
			t.Errorf("event after initial events: %s %s@%s; want ADDED later@%s", e.Type, cm.Name, cm.ResourceVersion, later.ResourceVersion)
		}
		break
	}

	// With a label selector only matching objects are sent.
	w2, err := cms.Watch(ctx, metav1.ListOptions{
		SendInitialEvents: &yes, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks: true, LabelSelector: "i=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	var names []string
	for {
		e := nextEvent(t, ctx, w2)
		cm := e.Object.(*corev1.ConfigMap)
		if e.Type == watch.Bookmark && cm.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
			break
		}
		if e.Type == watch.Added {
			names = append(names, cm.Name)
		}
	}
	if fmt.Sprint(names) != "[cm-1 cm-3]" {
		t.Errorf("watch-list with i=1: initial objects %v; want [cm-1 cm-3]", names)
	}
}
