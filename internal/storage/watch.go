package storage

import (
	"context"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// initialEventsAnnotation marks the bookmark that ends the initial events of
// a watch with sendInitialEvents=true.
const initialEventsAnnotation = "k8s.io/initial-events-end"

// resultBuffer is the capacity of a watcher's result channel.
const resultBuffer = 32

// Watch streams changes; see WatchOptions. Each watcher runs one goroutine
// that reads the resource's shared event history from its own position, so
// a slow consumer never delays the writer or other watchers. A watcher that
// falls further behind than the history holds is ended (its result channel
// closes) and its client re-watches from the last revision it saw.
func (r *resource) Watch(ctx context.Context, namespace string, opts WatchOptions) (watch.Interface, error) {
	if !r.cfg.Namespaced {
		namespace = ""
	}
	f := newFilter(namespace, opts.Label, opts.Field)
	sendInitial := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	legacyInitial := opts.SendInitialEvents == nil && (opts.ResourceVersion == "" || opts.ResourceVersion == "0")
	var rv uint64
	switch opts.ResourceVersion {
	case "":
		if err := r.s.waitFresh(ctx); err != nil {
			return nil, err
		}
	case "0":
	default:
		var err error
		if rv, err = parseRV(opts.ResourceVersion); err != nil {
			return nil, err
		}
		if err := r.s.waitForRev(ctx, rv); err != nil {
			return nil, err
		}
	}

	w := &watcher{
		r:         r,
		f:         f,
		ch:        make(chan watch.Event, resultBuffer),
		bookmarks: opts.AllowBookmarks,
		endMarker: sendInitial,
	}
	r.mu.RLock()
	cur := r.cacheRev()
	switch {
	case sendInitial || legacyInitial:
		w.initial = r.snapshot(&f)
		w.pos = cur
	case rv != 0:
		if rv < r.histFloor {
			floor := r.histFloor
			r.mu.RUnlock()
			return nil, tooOldResourceVersion(rv, floor)
		}
		w.pos = rv
	default:
		w.pos = cur
	}
	w.generation = r.generation
	r.mu.RUnlock()

	w.ctx, w.cancel = context.WithCancel(ctx)
	if !r.s.goWatcher(w.run) {
		w.cancel()
		return nil, ErrStopped
	}
	return w, nil
}

// goWatcher starts fn as a Store-owned goroutine unless the Store stopped.
func (s *Store) goWatcher(fn func()) bool {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.stopping {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// snapshot returns the matching entries in key order; r.mu must be held.
func (r *resource) snapshot(f *filter) []*entry {
	sorted := r.sorted
	var out []*entry
	for _, e := range sorted {
		if f.matches(e) {
			out = append(out, e)
		}
	}
	return out
}

// eventsAfter appends to buf the history events with rev > pos; ok is false
// when events after pos have already left the history. r.mu must be held.
func (r *resource) eventsAfter(pos uint64, buf []*event) ([]*event, bool) {
	if pos < r.histFloor {
		return buf, false
	}
	n, size := r.histLen, len(r.hist)
	at := func(i int) *event { return r.hist[(r.head+i)%size] }
	i := sort.Search(n, func(i int) bool { return at(i).rev > pos })
	for ; i < n; i++ {
		buf = append(buf, at(i))
	}
	return buf, true
}

// watcher is one Watch call.
type watcher struct {
	r          *resource
	f          filter
	bookmarks  bool
	endMarker  bool     // send the initial-events-end bookmark after initial
	initial    []*entry // sent as ADDED first; dropped after
	pos        uint64   // revision of the last event considered
	generation uint64

	// ch is closed by run when the watch ends.
	ch     chan watch.Event
	ctx    context.Context
	cancel context.CancelFunc
}

var _ watch.Interface = (*watcher)(nil)

// ResultChan returns the events; it is closed when the watch ends.
func (w *watcher) ResultChan() <-chan watch.Event { return w.ch }

// Stop ends the watch; safe to call more than once.
func (w *watcher) Stop() { w.cancel() }

func (w *watcher) send(ev watch.Event) bool {
	select {
	case w.ch <- ev:
		return true
	case <-w.ctx.Done():
		return false
	case <-w.r.s.ctx.Done():
		return false
	}
}

func (w *watcher) run() {
	defer close(w.ch)
	defer w.cancel()
	for _, e := range w.initial {
		if !w.send(watch.Event{Type: watch.Added, Object: e.obj}) {
			return
		}
	}
	w.initial = nil
	if w.endMarker && !w.send(watch.Event{Type: watch.Bookmark, Object: w.r.bookmark(w.pos, true)}) {
		return
	}
	var buf []*event
	wantBookmark := false
	for {
		r := w.r
		tick := r.s.bookmarkTick()
		r.mu.RLock()
		if r.generation != w.generation {
			r.mu.RUnlock()
			return
		}
		notify := r.notify
		var ok bool
		buf, ok = r.eventsAfter(w.pos, buf[:0])
		cur := r.cacheRev()
		r.mu.RUnlock()
		if !ok {
			return // fell behind the history; the client re-watches
		}
		for i, ev := range buf {
			if out, send := w.convert(ev); send && !w.send(out) {
				return
			}
			w.pos = ev.rev
			buf[i] = nil
		}
		// Every event of this resource up to cur has been handled.
		if cur > w.pos {
			w.pos = cur
		}
		if wantBookmark {
			if !w.send(watch.Event{Type: watch.Bookmark, Object: r.bookmark(w.pos, false)}) {
				return
			}
			wantBookmark = false
		}
		if !w.bookmarks {
			tick = nil
		}
		select {
		case <-notify:
		case <-tick:
			wantBookmark = true
		case <-w.ctx.Done():
			return
		case <-r.s.ctx.Done():
			return
		}
	}
}

// convert maps a history event to what this watcher sees, following the
// selector: an update that makes an object start matching is ADDED, one
// that makes it stop matching is DELETED (with the old state at the new
// revision).
func (w *watcher) convert(ev *event) (watch.Event, bool) {
	switch ev.typ {
	case watch.Added:
		if w.f.matches(ev.cur) {
			return watch.Event{Type: watch.Added, Object: ev.cur.obj}, true
		}
	case watch.Modified:
		curM, prevM := w.f.matches(ev.cur), w.f.matches(ev.prev)
		switch {
		case curM && prevM:
			return watch.Event{Type: watch.Modified, Object: ev.cur.obj}, true
		case curM:
			return watch.Event{Type: watch.Added, Object: ev.cur.obj}, true
		case prevM:
			old := ev.prev.obj.DeepCopyObject()
			setRV(old, ev.rev)
			return watch.Event{Type: watch.Deleted, Object: old}, true
		}
	case watch.Deleted:
		if w.f.matches(ev.prev) {
			return watch.Event{Type: watch.Deleted, Object: ev.deleted}, true
		}
	}
	return watch.Event{}, false
}

// bookmark returns an empty object of the kind carrying only rev (and the
// initial-events-end annotation when end is set).
func (r *resource) bookmark(rev uint64, end bool) runtime.Object {
	obj := r.cfg.New()
	obj.GetObjectKind().SetGroupVersionKind(r.cfg.GVK)
	setRV(obj, rev)
	if end {
		if acc, err := meta.Accessor(obj); err == nil {
			acc.SetAnnotations(map[string]string{initialEventsAnnotation: "true"})
		}
	}
	return obj
}
