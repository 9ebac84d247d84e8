package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// filter is a compiled namespace + label + field selector.
type filter struct {
	ns     string // "" = all namespaces
	label  labels.Selector
	field  fields.Selector
	always bool // no label or field selector
}

func newFilter(ns string, l labels.Selector, f fields.Selector) filter {
	if l != nil && l.Empty() {
		l = nil
	}
	if f != nil && f.Empty() {
		f = nil
	}
	return filter{ns: ns, label: l, field: f, always: l == nil && f == nil}
}

func (f *filter) matches(e *entry) bool {
	if e == nil {
		return false
	}
	if f.ns != "" && e.ns != f.ns {
		return false
	}
	if f.always {
		return true
	}
	if f.label != nil && !f.label.Matches(e.labels) {
		return false
	}
	if f.field != nil && !f.field.Matches(e.fields) {
		return false
	}
	return true
}

// continueToken is the opaque continue value: base64 of this JSON.
type continueToken struct {
	V     string `json:"v"`
	RV    int64  `json:"rv"`
	Start string `json:"start"` // next key, relative to the resource prefix
}

func encodeContinue(rv int64, start string) string {
	b, _ := json.Marshal(continueToken{V: "meta.k8s.io/v1", RV: rv, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, err
	}
	if t.V != "meta.k8s.io/v1" || t.RV <= 0 || strings.Contains(t.Start, "..") {
		return t, errors.New("unsupported token")
	}
	return t, nil
}

// List returns the matching objects; see ListOptions.
func (r *resource) List(ctx context.Context, namespace string, opts ListOptions) (*ListResult, error) {
	if !r.cfg.Namespaced {
		namespace = ""
	}
	f := newFilter(namespace, opts.Label, opts.Field)
	if opts.Continue != "" {
		tok, err := decodeContinue(opts.Continue)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("continue key is not valid: %v", err))
		}
		return r.listEtcd(ctx, f, opts.Limit, tok.RV, tok.Start, true)
	}
	rv := uint64(0)
	if opts.ResourceVersion != "" {
		var err error
		if rv, err = parseRV(opts.ResourceVersion); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.ResourceVersion == "":
		if opts.Limit > 0 {
			return r.listEtcd(ctx, f, opts.Limit, 0, "", false)
		}
		if err := r.s.waitFresh(ctx); err != nil {
			return nil, err
		}
		return r.listCache(f, 0), nil
	case opts.ResourceVersionMatch == string(metav1.ResourceVersionMatchExact) && rv != 0:
		for {
			r.mu.RLock()
			cur := r.cacheRev()
			r.mu.RUnlock()
			if rv < cur || opts.Limit > 0 {
				return r.listEtcd(ctx, f, opts.Limit, int64(rv), "", false)
			}
			if rv == cur {
				if res := r.listCache(f, rv); res != nil {
					return res, nil
				}
				continue // the cache moved on meanwhile: read etcd
			}
			if err := r.s.waitForRev(ctx, rv); err != nil {
				return nil, err
			}
		}
	default: // "0" or NotOlderThan
		if rv != 0 && opts.Limit > 0 {
			// Upstream serves paginated lists from etcd at the latest
			// revision, which is not older than rv.
			return r.listEtcd(ctx, f, opts.Limit, 0, "", false)
		}
		if err := r.s.waitForRev(ctx, rv); err != nil {
			return nil, err
		}
		return r.listCache(f, 0), nil
	}
}

// listCache serves a list from the cache. With exact != 0 it returns nil
// unless the cache is at exactly that revision.
func (r *resource) listCache(f filter, exact uint64) *ListResult {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rev := r.cacheRev()
	if exact != 0 && rev != exact {
		return nil
	}
	sorted := r.sorted
	if f.ns != "" {
		p := f.ns + "/"
		lo := sort.Search(len(sorted), func(i int) bool { return sorted[i].key >= p })
		hi := lo + sort.Search(len(sorted)-lo, func(i int) bool { return !strings.HasPrefix(sorted[lo+i].key, p) })
		sorted = sorted[lo:hi]
	}
	n := len(sorted)
	if !f.always {
		n = 0
	}
	items := make([]runtime.Object, 0, n)
	for _, e := range sorted {
		if f.always || f.matches(e) {
			items = append(items, e.obj)
		}
	}
	return &ListResult{Items: items, ResourceVersion: rev}
}

// listEtcd reads one page from etcd at rev (0: the latest), starting at
// start (relative key; "" = from the beginning of the list's range).
// Objects whose mod revision matches the cache reuse the cached copy.
func (r *resource) listEtcd(ctx context.Context, f filter, limit int64, rev int64, start string, isContinue bool) (*ListResult, error) {
	base := r.keyPrefix
	if f.ns != "" {
		base += f.ns + "/"
	}
	end := clientv3.GetPrefixRangeEnd(base)
	key := base
	if start != "" {
		key = r.keyPrefix + start
		if !strings.HasPrefix(key, base) {
			return nil, apierrors.NewBadRequest("continue key is not valid: outside the listed range")
		}
	}
	chunk := limit
	if chunk <= 0 || chunk > 10000 {
		chunk = 10000
	}
	if !f.always && chunk < 100 {
		chunk = 100
	}
	res := &ListResult{}
	var lastKey string
	more := false
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(chunk)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := r.s.client.Get(ctx, key, opts...)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				if isContinue {
					return nil, apierrors.NewResourceExpired(msgInconsistentContinue)
				}
				return nil, apierrors.NewResourceExpired(msgListTooOld)
			}
			if errors.Is(err, rpctypes.ErrFutureRev) {
				// A continue token (or exact resourceVersion) from the
				// future: upstream's 504, no Retry-After.
				return nil, tooLargeResourceVersionRetry(uint64(rev), r.s.rev.Load(), 0)
			}
			return nil, etcdError(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			rel := string(kv.Key[len(r.keyPrefix):])
			e, err := r.entryFor(rel, kv.Value, uint64(kv.ModRevision))
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			lastKey = rel
			if !f.matches(e) {
				continue
			}
			res.Items = append(res.Items, e.obj)
			if limit > 0 && int64(len(res.Items)) == limit {
				more = i < len(resp.Kvs)-1 || resp.More
				if more && f.always {
					remaining := resp.Count - int64(i) - 1
					res.RemainingItemCount = &remaining
				}
				break
			}
		}
		if (limit > 0 && int64(len(res.Items)) == limit) || !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = r.keyPrefix + lastKey + "\x00"
		// Filtering: fetch bigger chunks until the page fills.
		if chunk < 10000 {
			chunk *= 2
		}
	}
	res.ResourceVersion = uint64(rev)
	if more {
		res.Continue = encodeContinue(rev, lastKey+"\x00")
	}
	if res.Items == nil {
		res.Items = []runtime.Object{}
	}
	return res, nil
}

// entryFor returns the cached entry when it is the same revision, else
// decodes the value.
func (r *resource) entryFor(rel string, value []byte, rev uint64) (*entry, error) {
	r.mu.RLock()
	e := r.objs[rel]
	r.mu.RUnlock()
	if e != nil && e.rev == rev {
		return e, nil
	}
	return r.decode(rel, value, rev)
}
