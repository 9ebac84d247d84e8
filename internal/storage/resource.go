package storage

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// entry is one cached object: decoded once, with its selector attributes.
// Entries are immutable once published.
type entry struct {
	key    string // relative key: "ns/name" or "name"
	ns     string
	obj    runtime.Object // RV and TypeMeta set; shared, read-only
	rev    uint64         // etcd mod revision
	labels labels.Set
	fields fields.Set
	// stale is the Transformer's verdict on the stored value: it must be
	// rewritten (re-encrypted) even by an update that changes nothing.
	stale bool
}

// event is one change in a resource's history. Events are immutable once
// published.
type event struct {
	typ  watch.EventType // Added, Modified or Deleted
	rev  uint64
	cur  *entry // nil for Deleted
	prev *entry // nil for Added
	// deleted is prev's object with resourceVersion = rev (Deleted only).
	deleted runtime.Object
}

// resource implements Resource for one ResourceConfig.
type resource struct {
	s         *Store
	cfg       ResourceConfig
	rel       string // "group/resource/"
	keyPrefix string // Store prefix + rel
	codec     runtime.Codec

	// mu guards everything below. The watch goroutine takes it for writing
	// while applying one event; readers hold it briefly for reading.
	mu   sync.RWMutex
	objs map[string]*entry
	// sorted holds the entries of objs ordered by key.
	sorted []*entry
	// hist is a ring of the latest events: hist[(head+i)%len(hist)] for
	// i < histLen, oldest first. Every event with rev > histFloor is in it.
	// It grows on demand up to Config.HistorySize.
	hist      []*event
	head      int
	histLen   int
	histFloor uint64
	lastRev   uint64 // rev of the newest event applied
	// notify is closed (and replaced) after events are appended; watchers
	// wait on it. generation counts resets (relist), which end watchers.
	notify     chan struct{}
	generation uint64
}

var _ Resource = (*resource)(nil)

func newResource(s *Store, cfg ResourceConfig, keyPrefix string) *resource {
	codec := s.codec
	if cfg.Codec != nil {
		codec = cfg.Codec
	}
	return &resource{
		s:         s,
		cfg:       cfg,
		rel:       keyPrefix[len(s.prefix):],
		keyPrefix: keyPrefix,
		codec:     codec,
		objs:      map[string]*entry{},
		hist:      make([]*event, min(64, s.cfg.HistorySize)),
		notify:    make(chan struct{}),
	}
}

// relKey returns the key relative to the resource prefix.
func (r *resource) relKey(namespace, name string) (string, error) {
	if name == "" {
		return "", apierrors.NewBadRequest("name is required")
	}
	if r.cfg.Namespaced {
		if namespace == "" {
			return "", apierrors.NewBadRequest("namespace is required for " + r.cfg.GroupResource.String())
		}
		return namespace + "/" + name, nil
	}
	return name, nil
}

// decode turns a stored value into a cache entry.
func (r *resource) decode(rel string, data []byte, rev uint64) (*entry, error) {
	stale := false
	if t := r.cfg.Transformer; t != nil {
		var err error
		if data, stale, err = t.TransformFromStorage(data, r.keyPrefix+rel); err != nil {
			return nil, fmt.Errorf("transform %s from storage: %w", r.cfg.GroupResource, err)
		}
	}
	obj, err := r.decodeObj(data, rev)
	if err != nil {
		return nil, err
	}
	e, err := r.newEntry(rel, obj, rev)
	if err != nil {
		return nil, err
	}
	e.stale = stale
	return e, nil
}

func (r *resource) decodeObj(data []byte, rev uint64) (runtime.Object, error) {
	into := r.cfg.New()
	obj, _, err := r.codec.Decode(data, nil, into)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", r.cfg.GroupResource, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(r.cfg.GVK)
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	acc.SetResourceVersion(strconv.FormatUint(rev, 10))
	return obj, nil
}

func (r *resource) newEntry(rel string, obj runtime.Object, rev uint64) (*entry, error) {
	e := &entry{key: rel, obj: obj, rev: rev}
	if r.cfg.Namespaced {
		if i := indexByte(rel, '/'); i >= 0 {
			e.ns = rel[:i]
		}
	}
	var err error
	if r.cfg.Attrs != nil {
		e.labels, e.fields, err = r.cfg.Attrs(obj)
		if err != nil {
			return nil, err
		}
	} else {
		acc, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		e.labels = labels.Set(acc.GetLabels())
		e.fields = fields.Set{"metadata.name": acc.GetName()}
		if r.cfg.Namespaced {
			e.fields["metadata.namespace"] = acc.GetNamespace()
		}
	}
	return e, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// encode serializes obj for the etcd key with its resourceVersion cleared
// and applies the Transformer. obj's TypeMeta is set to the resource's GVK;
// its resourceVersion is left empty.
func (r *resource) encode(obj runtime.Object, key string) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	acc.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(r.cfg.GVK)
	var buf bytes.Buffer
	if err := r.codec.Encode(obj, &buf); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("encode %s: %w", r.cfg.GroupResource, err))
	}
	if t := r.cfg.Transformer; t != nil {
		data, err := t.TransformToStorage(buf.Bytes(), key)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("transform %s to storage: %w", r.cfg.GroupResource, err))
		}
		return data, nil
	}
	return buf.Bytes(), nil
}

func setRV(obj runtime.Object, rev uint64) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(strconv.FormatUint(rev, 10))
	}
}

// apply records one etcd event in the cache; called only by the watch
// goroutine. It reports whether an event was appended.
func (r *resource) apply(rel string, isDelete bool, value []byte, rev uint64) bool {
	var cur *entry
	if !isDelete {
		var err error
		// Decode outside the lock.
		cur, err = r.decode(rel, value, rev)
		if err != nil {
			r.s.log.Error("storage: skipping undecodable object", "resource", r.cfg.GroupResource.String(), "key", rel, "err", err)
			return false
		}
	}
	r.mu.RLock()
	prev := r.objs[rel]
	r.mu.RUnlock()
	ev := &event{rev: rev, cur: cur, prev: prev}
	switch {
	case isDelete && prev == nil:
		return false
	case isDelete:
		ev.typ = watch.Deleted
		ev.deleted = prev.obj.DeepCopyObject()
		setRV(ev.deleted, rev)
	case prev == nil:
		ev.typ = watch.Added
	default:
		ev.typ = watch.Modified
	}

	r.mu.Lock()
	if isDelete {
		delete(r.objs, rel)
	} else {
		r.objs[rel] = cur
	}
	i, found := r.sortedIndex(rel)
	switch {
	case isDelete && found:
		copy(r.sorted[i:], r.sorted[i+1:])
		r.sorted[len(r.sorted)-1] = nil
		r.sorted = r.sorted[:len(r.sorted)-1]
	case found:
		r.sorted[i] = cur
	case !isDelete:
		r.sorted = append(r.sorted, nil)
		copy(r.sorted[i+1:], r.sorted[i:])
		r.sorted[i] = cur
	}
	if r.histLen == len(r.hist) && len(r.hist) < r.s.cfg.HistorySize {
		// Grow the ring (lazily, so idle resources stay small).
		grown := make([]*event, min(2*len(r.hist), r.s.cfg.HistorySize))
		for i := 0; i < r.histLen; i++ {
			grown[i] = r.hist[(r.head+i)%len(r.hist)]
		}
		r.hist, r.head = grown, 0
	}
	if r.histLen == len(r.hist) {
		r.histFloor = r.hist[r.head].rev
		r.hist[r.head] = nil
		r.head = (r.head + 1) % len(r.hist)
		r.histLen--
	}
	r.hist[(r.head+r.histLen)%len(r.hist)] = ev
	r.histLen++
	r.lastRev = rev
	r.mu.Unlock()
	return true
}

// sortedIndex finds rel in sorted; r.mu must be held.
func (r *resource) sortedIndex(rel string) (int, bool) {
	i := sort.Search(len(r.sorted), func(i int) bool { return r.sorted[i].key >= rel })
	return i, i < len(r.sorted) && r.sorted[i].key == rel
}

// rebuildSorted recomputes sorted from objs; r.mu must be held for writing.
func (r *resource) rebuildSorted() {
	r.sorted = make([]*entry, 0, len(r.objs))
	for _, e := range r.objs {
		r.sorted = append(r.sorted, e)
	}
	sort.Slice(r.sorted, func(i, j int) bool { return r.sorted[i].key < r.sorted[j].key })
}

// notifyWatchers wakes every watcher of the resource.
func (r *resource) notifyWatchers() {
	r.mu.Lock()
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
}

// reset replaces the cache after a relist and ends every watcher.
func (r *resource) reset(objs map[string]*entry, rev uint64) {
	r.mu.Lock()
	r.objs = objs
	r.rebuildSorted()
	r.hist = make([]*event, min(64, r.s.cfg.HistorySize))
	r.head, r.histLen, r.histFloor, r.lastRev = 0, 0, rev, 0
	r.generation++
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
}

// cacheRev is the revision the resource's cache reflects; r.mu must be held.
// Every event up to the Store's rev has been applied, and events past it are
// applied in order, so the cache is exactly at max(store rev, lastRev).
func (r *resource) cacheRev() uint64 {
	rev := r.s.rev.Load()
	if r.lastRev > rev {
		return r.lastRev
	}
	return rev
}

// ----- CRUD -----

// Create stores obj if no object has the key. obj is modified: TypeMeta
// and resourceVersion are set on it, and it is returned.
func (r *resource) Create(ctx context.Context, namespace, name string, obj runtime.Object) (runtime.Object, error) {
	rel, err := r.relKey(namespace, name)
	if err != nil {
		return nil, err
	}
	key := r.keyPrefix + rel
	data, err := r.encode(obj, key)
	if err != nil {
		return nil, err
	}
	resp, err := r.s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data))).
		Commit()
	if err != nil {
		return nil, etcdError(err)
	}
	if !resp.Succeeded {
		return nil, apierrors.NewAlreadyExists(r.cfg.GroupResource, name)
	}
	setRV(obj, uint64(resp.Header.Revision))
	return obj, nil
}

// Get returns the object; see GetOptions for the resourceVersion rules.
func (r *resource) Get(ctx context.Context, namespace, name string, opts GetOptions) (runtime.Object, error) {
	rel, err := r.relKey(namespace, name)
	if err != nil {
		return nil, err
	}
	switch opts.ResourceVersion {
	case "":
		e, err := r.getFromEtcd(ctx, rel)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, apierrors.NewNotFound(r.cfg.GroupResource, name)
		}
		return e.obj, nil
	case "0":
	default:
		rv, err := parseRV(opts.ResourceVersion)
		if err != nil {
			return nil, err
		}
		if err := r.s.waitForRev(ctx, rv); err != nil {
			return nil, err
		}
	}
	r.mu.RLock()
	e := r.objs[rel]
	r.mu.RUnlock()
	if e == nil {
		return nil, apierrors.NewNotFound(r.cfg.GroupResource, name)
	}
	return e.obj, nil
}

// getFromEtcd reads the latest object with a linearizable read; it reuses
// the cached object when the revisions match. nil means not found.
func (r *resource) getFromEtcd(ctx context.Context, rel string) (*entry, error) {
	resp, err := r.s.client.Get(ctx, r.keyPrefix+rel)
	if err != nil {
		return nil, etcdError(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	kv := resp.Kvs[0]
	rev := uint64(kv.ModRevision)
	r.mu.RLock()
	e := r.objs[rel]
	r.mu.RUnlock()
	if e != nil && e.rev == rev {
		return e, nil
	}
	e, err = r.decode(rel, kv.Value, rev)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return e, nil
}

func parseRV(s string) (uint64, error) {
	rv, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", s))
	}
	return rv, nil
}

// current returns the best guess of the current object: the cached one if
// present (fromCache=true), else the one in etcd (nil if absent).
func (r *resource) current(ctx context.Context, rel string) (e *entry, fromCache bool, err error) {
	r.mu.RLock()
	e = r.objs[rel]
	r.mu.RUnlock()
	if e != nil {
		return e, true, nil
	}
	e, err = r.getFromEtcd(ctx, rel)
	return e, false, err
}

// Update applies fn with optimistic concurrency; see UpdateFunc.
func (r *resource) Update(ctx context.Context, namespace, name string, fn UpdateFunc) (runtime.Object, error) {
	rel, err := r.relKey(namespace, name)
	if err != nil {
		return nil, err
	}
	key := r.keyPrefix + rel
	cur, fromCache, err := r.current(ctx, rel)
	if err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, etcdError(err)
		}
		var in runtime.Object
		if cur != nil {
			in = cur.obj.DeepCopyObject()
		}
		out, err := fn(in)
		if err != nil {
			if fromCache {
				// The cached guess may be stale: judge again on etcd's copy.
				if fresh, ferr := r.getFromEtcd(ctx, rel); ferr == nil && !sameEntry(fresh, cur) {
					cur, fromCache = fresh, false
					continue
				}
			}
			return nil, err
		}
		if out == nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("update of %s returned no object", r.cfg.GroupResource))
		}
		// A stale value (written with an older encryption key) is rewritten
		// even when unchanged, so GET+PUT re-encrypts it, as upstream.
		if cur != nil && !cur.stale && unchanged(out, cur.obj) {
			if fromCache {
				fresh, err := r.getFromEtcd(ctx, rel)
				if err != nil {
					return nil, err
				}
				if !sameEntry(fresh, cur) {
					cur, fromCache = fresh, false
					continue
				}
			}
			return cur.obj.DeepCopyObject(), nil
		}
		data, err := r.encode(out, key)
		if err != nil {
			return nil, err
		}
		var rev int64
		if cur != nil {
			rev = int64(cur.rev)
		}
		resp, err := r.s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(data))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, etcdError(err)
		}
		if resp.Succeeded {
			setRV(out, uint64(resp.Header.Revision))
			return out, nil
		}
		cur, fromCache = nil, false
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			cur, err = r.decode(rel, kvs[0].Value, uint64(kvs[0].ModRevision))
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
		}
	}
}

func sameEntry(a, b *entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.rev == b.rev
}

// unchanged reports whether out is semantically equal to cur, ignoring
// resourceVersion (which fn may have cleared or set from the request).
func unchanged(out, cur runtime.Object) bool {
	oa, err := meta.Accessor(out)
	if err != nil {
		return false
	}
	ca, err := meta.Accessor(cur)
	if err != nil {
		return false
	}
	orv := oa.GetResourceVersion()
	oa.SetResourceVersion(ca.GetResourceVersion())
	eq := equality.Semantic.DeepEqual(out, cur)
	oa.SetResourceVersion(orv)
	return eq
}

// Delete removes the object if precondition accepts it; the returned object
// (the last stored state, caller-owned) has the resourceVersion of that state.
func (r *resource) Delete(ctx context.Context, namespace, name string, precondition func(cur runtime.Object) error) (runtime.Object, error) {
	rel, err := r.relKey(namespace, name)
	if err != nil {
		return nil, err
	}
	key := r.keyPrefix + rel
	cur, fromCache, err := r.current(ctx, rel)
	if err != nil {
		return nil, err
	}
	for {
		if cur == nil {
			return nil, apierrors.NewNotFound(r.cfg.GroupResource, name)
		}
		if precondition != nil {
			if err := precondition(cur.obj); err != nil {
				if fromCache {
					fresh, ferr := r.getFromEtcd(ctx, rel)
					if ferr == nil && !sameEntry(fresh, cur) {
						cur, fromCache = fresh, false
						continue
					}
				}
				return nil, err
			}
		}
		resp, err := r.s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", int64(cur.rev))).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, etcdError(err)
		}
		if resp.Succeeded {
			return cur.obj.DeepCopyObject(), nil
		}
		cur, fromCache = nil, false
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			cur, err = r.decode(rel, kvs[0].Value, uint64(kvs[0].ModRevision))
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
		}
	}
}
