package integration

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

const (
	writers      = 50
	opsPerWriter = 12
)

// runWriters starts 50 goroutines that each create, update and delete their
// own ConfigMaps (w<i>-<j>) plus update shared ones (seed-<k>), and returns a
// channel closed when all are done. started is closed after the first
// round of writes, so readers overlap the writing.
func runWriters(t *testing.T, c kubernetes.Interface, ns string, seeds int) (started, done <-chan struct{}) {
	t.Helper()
	var wg sync.WaitGroup
	var first sync.WaitGroup
	first.Add(writers)
	startc, donec := make(chan struct{}), make(chan struct{})
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	for i := range writers {
		wg.Go(func() {
			firstDone := false
			markFirst := func() {
				if !firstDone {
					firstDone = true
					first.Done()
				}
			}
			defer markFirst()
			for j := range opsPerWriter {
				name := fmt.Sprintf("w%d-%d", i, j/3)
				var err error
				switch j % 3 {
				case 0:
					_, err = cms.Create(ctx, configMap(name, nil, map[string]string{"v": "0"}), metav1.CreateOptions{})
				case 1:
					_, err = cms.Update(ctx, configMap(name, nil, map[string]string{"v": "1"}), metav1.UpdateOptions{})
					if seeds > 0 {
						seed := fmt.Sprintf("seed-%d", (i*opsPerWriter+j)%seeds)
						if _, err2 := cms.Update(ctx, configMap(seed, nil, map[string]string{"by": name}), metav1.UpdateOptions{}); err2 != nil {
							err = err2
						}
					}
				case 2:
					if j/3%2 == 0 { // delete half of them
						err = cms.Delete(ctx, name, metav1.DeleteOptions{})
					}
				}
				if err != nil {
					t.Errorf("writer %d op %d on %s: %v", i, j, name, err)
					return
				}
				markFirst()
			}
		})
	}
	go func() { first.Wait(); close(startc) }()
	go func() { wg.Wait(); close(donec) }()
	return startc, donec
}

func listState(t *testing.T, c kubernetes.Interface, ns string) (map[string]string, string) {
	t.Helper()
	list, err := c.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	state := map[string]string{}
	for _, cm := range list.Items {
		if _, dup := state[cm.Name]; dup {
			t.Errorf("list has %s twice", cm.Name)
		}
		state[cm.Name] = cm.ResourceVersion
	}
	return state, list.ResourceVersion
}

func TestListThenWatchMissesNothing(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := protoClient(t, s.Config)
	createNamespace(t, c, "lw")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	started, done := runWriters(t, c, "lw", 0)
	<-started
	state, listRV := listState(t, c, "lw")
	w, err := c.CoreV1().ConfigMaps("lw").Watch(ctx, metav1.ListOptions{ResourceVersion: listRV})
	if err != nil {
		t.Fatalf("watch from %s: %v", listRV, err)
	}
	defer w.Stop()
	<-done
	if t.Failed() {
		t.FailNow()
	}
	sentinel, err := c.CoreV1().ConfigMaps("lw").Create(ctx, configMap("zz-sentinel", nil, nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	final, _ := listState(t, c, "lw")

	last := rvOf(t, listRV)
	events := 0
	for {
		var e watch.Event
		select {
		case e = <-w.ResultChan():
		case <-ctx.Done():
			t.Fatalf("sentinel not seen after %d events", events)
		}
		cm, ok := e.Object.(*corev1.ConfigMap)
		if !ok {
			t.Fatalf("event %d: %s %v", events, e.Type, e.Object)
		}
		events++
		rv := rvOf(t, cm.ResourceVersion)
		if rv <= last {
			t.Errorf("event %s %s@%d not after %d", e.Type, cm.Name, rv, last)
		}
		last = rv
		_, present := state[cm.Name]
		switch e.Type {
		case watch.Added:
			if present {
				t.Errorf("ADDED %s@%d but it exists at %s", cm.Name, rv, state[cm.Name])
			}
			state[cm.Name] = cm.ResourceVersion
		case watch.Modified:
			if !present {
				t.Errorf("MODIFIED %s@%d but it does not exist", cm.Name, rv)
			}
			state[cm.Name] = cm.ResourceVersion
		case watch.Deleted:
			if !present {
				t.Errorf("DELETED %s@%d but it does not exist", cm.Name, rv)
			}
			delete(state, cm.Name)
		default:
			t.Fatalf("unexpected event %s", e.Type)
		}
		if cm.Name == sentinel.Name {
			break
		}
	}
	if !maps.Equal(state, final) {
		t.Errorf("list + watch state (%d objects) differs from the final list (%d objects)", len(state), len(final))
		for name, rv := range final {
			if state[name] != rv {
				t.Errorf("  %s: rebuilt %q; final %q", name, state[name], rv)
			}
		}
		for name, rv := range state {
			if _, ok := final[name]; !ok {
				t.Errorf("  %s: rebuilt %q; absent from final list", name, rv)
			}
		}
	}
	t.Logf("list at %s with %d events rebuilt %d objects", listRV, events, len(final))
}

func TestPaginatedListIsOneSnapshot(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := protoClient(t, s.Config)
	createNamespace(t, c, "page")
	ctx := context.Background()
	const seeds = 200
	var wg sync.WaitGroup
	for i := range seeds {
		wg.Go(func() {
			if _, err := c.CoreV1().ConfigMaps("page").Create(ctx, configMap(fmt.Sprintf("seed-%d", i), nil, nil), metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	started, done := runWriters(t, c, "page", seeds)
	<-started
	lists := 0
	for {
		paginatedSnapshot(t, c, "page")
		lists++
		select {
		case <-done:
			t.Logf("%d paginated lists during writes", lists)
			paginatedSnapshot(t, c, "page")
			return
		default:
		}
		if t.Failed() {
			<-done
			return
		}
	}
}

// paginatedSnapshot lists 50 at a time and checks the pages against one
// unpaginated list at the first page's resourceVersion.
func paginatedSnapshot(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	cms := c.CoreV1().ConfigMaps(ns)
	got := map[string]string{}
	var rv, cont string
	for pages := 0; ; pages++ {
		page, err := cms.List(ctx, metav1.ListOptions{Limit: 50, Continue: cont})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if pages == 0 {
			rv = page.ResourceVersion
		} else if page.ResourceVersion != rv {
			t.Errorf("page %d at resourceVersion %s; first page at %s", pages, page.ResourceVersion, rv)
		}
		if len(page.Items) > 50 {
			t.Errorf("page %d has %d items; limit 50", pages, len(page.Items))
		}
		for _, cm := range page.Items {
			if _, dup := got[cm.Name]; dup {
				t.Errorf("%s on two pages", cm.Name)
			}
			if rvOf(t, cm.ResourceVersion) > rvOf(t, rv) {
				t.Errorf("%s@%s newer than the list's %s", cm.Name, cm.ResourceVersion, rv)
			}
			got[cm.Name] = cm.ResourceVersion
		}
		if cont = page.Continue; cont == "" {
			break
		}
		if page.RemainingItemCount != nil && *page.RemainingItemCount < 0 {
			t.Errorf("page %d remainingItemCount %d", pages, *page.RemainingItemCount)
		}
	}
	exact, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: rv, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if apierrors.IsResourceExpired(err) {
		t.Fatalf("exact list at %s: compacted already: %v", rv, err)
	}
	if err != nil {
		t.Fatalf("exact list at %s: %v", rv, err)
	}
	want := map[string]string{}
	for _, cm := range exact.Items {
		want[cm.Name] = cm.ResourceVersion
	}
	if !maps.Equal(got, want) {
		t.Errorf("pages (%d objects) differ from the exact list at %s (%d objects)", len(got), rv, len(want))
	}
}
