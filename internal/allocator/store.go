package allocator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Option configures an allocator.
type Option func(*options)

type options struct {
	intn func(n int) int
}

// WithRand sets the source of AllocateNext's scan start: intn(n) must
// return a value in [0, n) and be safe for concurrent use. Tests pass a
// deterministic function; the default is math/rand/v2.IntN.
func WithRand(intn func(n int) int) Option {
	return func(o *options) { o.intn = intn }
}

func buildOptions(opts []Option) options {
	o := options{intn: rand.IntN}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// store keeps one bitmap in one etcd key with compare-and-swap updates.
type store struct {
	kv        clientv3.KV
	key       string
	rangeDesc string
	size      int

	// opMu serializes mutating calls of this allocator; it is held across
	// etcd round trips. Lock order: opMu, then mu.
	opMu sync.Mutex

	mu sync.Mutex // guards the fields below; never held across I/O
	// cur is the last bitmap known to be stored at revision rev.
	cur *bitmap
	// rev is the mod revision of the key that cur reflects; 0 means the key
	// did not exist (or has not been read yet).
	rev int64
	// rangeChanged is set when the stored range differs from rangeDesc; cur
	// is then empty and only repair may write.
	rangeChanged bool
}

func newStore(kv clientv3.KV, key, rangeDesc string, size int) *store {
	return &store{kv: kv, key: key, rangeDesc: rangeDesc, size: size, cur: newBitmap(size)}
}

// update applies fn to a copy of the bitmap and stores the result with a
// compare-and-swap on the key's mod revision, reloading and retrying when
// another writer got there first. fn reports whether it changed the copy;
// when it did not, or when it failed, the same transaction still verifies
// that the copy was current, so its answer is never based on stale state.
// fn may run several times. With repair set, fn runs even when the stored
// range differs from the configured one, and its result is always written.
func (s *store) update(ctx context.Context, repair bool, fn func(b *bitmap) (changed bool, err error)) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	for {
		s.mu.Lock()
		b, rev, rangeChanged := s.cur.clone(), s.rev, s.rangeChanged
		s.mu.Unlock()

		var changed bool
		var opErr error
		switch {
		case repair:
			_, opErr = fn(b)
			changed = opErr == nil
		case rangeChanged:
			opErr = ErrRangeChanged
		default:
			changed, opErr = fn(b)
			if opErr != nil {
				changed = false
			}
		}

		var then []clientv3.Op
		if changed {
			val, err := encodeBitmap(s.rangeDesc, b)
			if err != nil {
				return err
			}
			then = append(then, clientv3.OpPut(s.key, string(val)))
		}
		resp, err := s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(s.key), "=", rev)).
			Then(then...).
			Else(clientv3.OpGet(s.key)).
			Commit()
		if err != nil {
			return fmt.Errorf("allocator: %s: %w", s.key, err)
		}
		if resp.Succeeded {
			if changed {
				s.mu.Lock()
				s.cur, s.rev, s.rangeChanged = b, resp.Header.Revision, false
				s.mu.Unlock()
			}
			return opErr
		}
		if err := s.load(resp.Responses[0].GetResponseRange().Kvs); err != nil {
			return err
		}
	}
}

// refresh reloads the key.
func (s *store) refresh(ctx context.Context) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	resp, err := s.kv.Get(ctx, s.key)
	if err != nil {
		return fmt.Errorf("allocator: %s: %w", s.key, err)
	}
	return s.load(resp.Kvs)
}

// load replaces the in-memory copy with kvs (the result of a Get of the key).
func (s *store) load(kvs []*mvccpb.KeyValue) error {
	if len(kvs) == 0 {
		s.mu.Lock()
		s.cur, s.rev, s.rangeChanged = newBitmap(s.size), 0, false
		s.mu.Unlock()
		return nil
	}
	kv := kvs[0]
	storedRange, b, err := decodeBitmap(kv.Value, s.size)
	if err != nil {
		return fmt.Errorf("%w (key %s)", err, s.key)
	}
	rangeChanged := b == nil || storedRange != s.rangeDesc
	if rangeChanged {
		b = newBitmap(s.size)
	}
	s.mu.Lock()
	s.cur, s.rev, s.rangeChanged = b, kv.ModRevision, rangeChanged
	s.mu.Unlock()
	return nil
}

func (s *store) has(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.has(i)
}

func (s *store) used() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur.used
}

// allocate marks offset i used; rangeErr builds the refusal.
func (s *store) allocate(ctx context.Context, i int, refused func(error) error) error {
	return s.update(ctx, false, func(b *bitmap) (bool, error) {
		if !b.set(i) {
			return false, refused(ErrAllocated)
		}
		return true, nil
	})
}

// allocateNext marks a free offset in [lo, size) used, scanning from a
// start chosen by intn, and returns it.
func (s *store) allocateNext(ctx context.Context, lo int, intn func(int) int, refused func(error) error) (int, error) {
	if s.size <= lo {
		return 0, refused(ErrFull)
	}
	start := lo + intn(s.size-lo)
	var got int
	err := s.update(ctx, false, func(b *bitmap) (bool, error) {
		got = b.nextFree(lo, start)
		if got < 0 {
			return false, refused(ErrFull)
		}
		b.set(got)
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	return got, nil
}

func (s *store) release(ctx context.Context, i int) error {
	return s.update(ctx, false, func(b *bitmap) (bool, error) { return b.clear(i), nil })
}

// repair stores a bitmap holding exactly the given offsets.
func (s *store) repair(ctx context.Context, offsets []int) error {
	return s.update(ctx, true, func(b *bitmap) (bool, error) {
		*b = *newBitmap(s.size)
		for _, i := range offsets {
			b.set(i)
		}
		return true, nil
	})
}
