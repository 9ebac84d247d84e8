package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
)

// Sentinel errors for misuse of the Store; API-facing errors are apierrors.
var (
	ErrStarted    = errors.New("storage: already started")
	ErrNotStarted = errors.New("storage: not started")
	ErrStopped    = errors.New("storage: stopped")
)

// Defaults for Config fields left zero.
const (
	DefaultPrefix           = "/registry/"
	DefaultCompactInterval  = 5 * time.Minute
	DefaultBookmarkInterval = time.Minute
	DefaultHistorySize      = 10000
	// waitTimeout bounds how long a read waits for the cache to reach a
	// requested revision before answering 504 "Too large resource version".
	waitTimeout = 3 * time.Second
	// initialPage is the etcd range size used when priming the caches.
	initialPage = 5000
)

// Config configures a Store.
type Config struct {
	// Client is the etcd client; required. The Store does not close it.
	Client *clientv3.Client
	// Prefix of every key; default "/registry/". A trailing "/" is added.
	Prefix string
	// Codec encodes and decodes stored values; default apimachinery's
	// protobuf serializer over client-go's scheme. ResourceConfig.Codec
	// overrides it per resource.
	Codec runtime.Codec
	// Clock drives bookmarks and compaction; default the real clock.
	Clock clock.WithTicker
	// CompactInterval between compactions; default 5 minutes; negative
	// disables compaction (another server, or etcd itself, compacts).
	CompactInterval time.Duration
	// BookmarkInterval between BOOKMARK events on watches that allow them;
	// default one minute.
	BookmarkInterval time.Duration
	// HistorySize is the number of events each resource keeps for watches
	// that resume from a resourceVersion; default 10000.
	HistorySize int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Store keeps every registered resource in etcd and serves reads and
// watches from one watch cache fed by a single etcd watch over Prefix.
//
// Lifecycle: New, Register each resource, Start (primes the caches and
// starts the watch, compaction and bookmark goroutines), Stop (cancels them
// and waits; safe twice). Resource methods may be called from any goroutine
// after Start returns.
type Store struct {
	cfg     Config
	client  *clientv3.Client
	prefix  string
	codec   runtime.Codec
	clock   clock.WithTicker
	log     *slog.Logger
	watcher clientv3.Watcher

	// resources is keyed by "group/resource/"; written only before Start.
	resources map[string]*resource
	started   atomic.Bool

	// rev is the revision up to which every event has been applied to the
	// caches. It is stored after the events are applied.
	rev atomic.Uint64
	// revMu guards revCh, which is closed (and replaced) whenever rev grows.
	revMu sync.Mutex
	revCh chan struct{}

	// bookmarkMu guards bookmarkCh, closed (and replaced) on each bookmark tick.
	bookmarkMu sync.Mutex
	bookmarkCh chan struct{}

	// progressReq (capacity 1) asks the progress goroutine to request a
	// progress notification from etcd.
	progressReq chan struct{}

	// watchMu guards stopping, which Stop sets before waiting on wg so no
	// watcher goroutine is added after the wait begins.
	watchMu  sync.Mutex
	stopping bool

	ctx      context.Context // canceled by Stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine started by Start and Watch
	stopOnce sync.Once
}

// New returns a Store; it does not talk to etcd until Start.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("storage: Config.Client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.Codec == nil {
		cfg.Codec = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = DefaultCompactInterval
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = DefaultBookmarkInterval
	}
	if cfg.HistorySize <= 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{
		cfg:         cfg,
		client:      cfg.Client,
		prefix:      cfg.Prefix,
		codec:       cfg.Codec,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		resources:   map[string]*resource{},
		revCh:       make(chan struct{}),
		bookmarkCh:  make(chan struct{}),
		progressReq: make(chan struct{}, 1),
		ctx:         ctx,
		cancel:      cancel,
	}, nil
}

// Register adds a resource; it must be called before Start. Registering the
// same GroupResource twice panics.
func (s *Store) Register(rc ResourceConfig) Resource {
	if s.started.Load() {
		panic("storage: Register after Start")
	}
	if rc.New == nil {
		panic("storage: ResourceConfig.New is required")
	}
	group := rc.GroupResource.Group
	if group == "" {
		group = "core"
	}
	rel := group + "/" + rc.GroupResource.Resource + "/"
	if _, ok := s.resources[rel]; ok {
		panic(fmt.Sprintf("storage: %s registered twice", rc.GroupResource))
	}
	r := newResource(s, rc, s.prefix+rel)
	s.resources[rel] = r
	return r
}

// Prefix returns the key prefix, ending in "/".
func (s *Store) Prefix() string { return s.prefix }

// CurrentRevision returns the revision the watch cache has reached.
func (s *Store) CurrentRevision() uint64 { return s.rev.Load() }

// Start lists every key under the prefix once, primes the caches and starts
// the watch from the next revision, plus the compaction and bookmark loops.
// It returns when the caches are ready.
func (s *Store) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	if s.ctx.Err() != nil {
		return ErrStopped
	}
	if _, err := s.prime(ctx); err != nil {
		return err
	}
	s.watcher = clientv3.NewWatcher(s.client)
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.runWatch() }()
	go func() { defer s.wg.Done(); s.runProgress() }()
	go func() { defer s.wg.Done(); s.runBookmarks() }()
	if s.cfg.CompactInterval > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runCompactor() }()
	}
	return nil
}

// Stop ends every watch and background loop and waits for them. It is
// safe to call more than once; it does not close the etcd client.
func (s *Store) Stop() {
	s.stopOnce.Do(func() {
		s.watchMu.Lock()
		s.stopping = true
		s.watchMu.Unlock()
		s.cancel()
		s.wg.Wait()
		if s.watcher != nil {
			_ = s.watcher.Close()
		}
	})
}

// prime reads the whole prefix at one revision into the caches and
// returns that revision.
func (s *Store) prime(ctx context.Context) (uint64, error) {
	end := clientv3.GetPrefixRangeEnd(s.prefix)
	key := s.prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(initialPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			return 0, fmt.Errorf("storage: initial list: %w", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			r, rel := s.lookup(kv.Key)
			if r == nil {
				continue
			}
			e, err := r.decode(rel, kv.Value, uint64(kv.ModRevision))
			if err != nil {
				s.log.Error("storage: skipping undecodable object", "key", string(kv.Key), "err", err)
				continue
			}
			r.objs[rel] = e
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, r := range s.resources {
		r.histFloor = uint64(rev)
		r.rebuildSorted()
	}
	s.setRev(uint64(rev))
	return uint64(rev), nil
}

// lookup maps an etcd key to its resource and the key relative to the
// resource ("ns/name" or "name").
func (s *Store) lookup(key []byte) (*resource, string) {
	k := string(key)
	if !strings.HasPrefix(k, s.prefix) {
		return nil, ""
	}
	k = k[len(s.prefix):]
	i := strings.IndexByte(k, '/')
	if i < 0 {
		return nil, ""
	}
	j := strings.IndexByte(k[i+1:], '/')
	if j < 0 {
		return nil, ""
	}
	r := s.resources[k[:i+j+2]]
	if r == nil {
		return nil, ""
	}
	return r, k[i+j+2:]
}

// setRev advances rev (never backwards) and wakes waiters.
func (s *Store) setRev(rev uint64) {
	s.revMu.Lock()
	if rev > s.rev.Load() {
		s.rev.Store(rev)
		close(s.revCh)
		s.revCh = make(chan struct{})
	}
	s.revMu.Unlock()
}

// revChanged returns a channel closed when rev next grows.
func (s *Store) revChanged() <-chan struct{} {
	s.revMu.Lock()
	defer s.revMu.Unlock()
	return s.revCh
}

// bookmarkTick returns a channel closed at the next bookmark tick.
func (s *Store) bookmarkTick() <-chan struct{} {
	s.bookmarkMu.Lock()
	defer s.bookmarkMu.Unlock()
	return s.bookmarkCh
}

// waitForRev blocks until the cache has reached rev. It asks etcd for a
// progress notification so an idle cache catches up, and gives up after
// waitTimeout with the upstream 504 "Too large resource version" error.
func (s *Store) waitForRev(ctx context.Context, rev uint64) error {
	if s.rev.Load() >= rev {
		return nil
	}
	if !s.started.Load() {
		return ErrNotStarted
	}
	timer := s.clock.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		ch := s.revChanged()
		cur := s.rev.Load()
		if cur >= rev {
			return nil
		}
		select {
		case s.progressReq <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-timer.C():
			return tooLargeResourceVersion(rev, s.rev.Load())
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrStopped
		}
	}
}

// consistentRev returns etcd's current revision with a cheap linearizable
// count-only range.
func (s *Store) consistentRev(ctx context.Context) (uint64, error) {
	resp, err := s.client.Get(ctx, s.prefix+"compact_rev_key", clientv3.WithCountOnly())
	if err != nil {
		return 0, etcdError(err)
	}
	return uint64(resp.Header.Revision), nil
}

// waitFresh waits until the cache holds everything etcd has committed.
func (s *Store) waitFresh(ctx context.Context) error {
	rev, err := s.consistentRev(ctx)
	if err != nil {
		return err
	}
	return s.waitForRev(ctx, rev)
}

// runWatch applies etcd events to the caches until Stop.
func (s *Store) runWatch() {
	for s.ctx.Err() == nil {
		wctx, cancel := context.WithCancel(s.ctx)
		wch := s.watcher.Watch(wctx, s.prefix, clientv3.WithPrefix(),
			clientv3.WithRev(int64(s.rev.Load())+1), clientv3.WithProgressNotify())
		err := s.consume(wch)
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			s.log.Error("storage: watch cache fell behind compaction; relisting")
			if err := s.relist(); err != nil {
				s.log.Error("storage: relist failed", "err", err)
			}
		} else if err != nil {
			s.log.Warn("storage: etcd watch ended; resuming", "err", err, "rev", s.rev.Load())
		}
		t := s.clock.NewTimer(100 * time.Millisecond)
		select {
		case <-t.C():
		case <-s.ctx.Done():
		}
		t.Stop()
	}
}

// consume applies responses from one etcd watch until it ends.
func (s *Store) consume(wch clientv3.WatchChan) error {
	var touched []*resource
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		if len(resp.Events) == 0 {
			// Progress notification (or the created notice): every event up
			// to the header revision has been delivered.
			if resp.IsProgressNotify() {
				s.setRev(uint64(resp.Header.Revision))
			}
			continue
		}
		touched = touched[:0]
		var last uint64
		for _, ev := range resp.Events {
			last = uint64(ev.Kv.ModRevision)
			r, rel := s.lookup(ev.Kv.Key)
			if r == nil {
				continue
			}
			if r.apply(rel, ev.Type == mvccpb.DELETE, ev.Kv.Value, last) && !contains(touched, r) {
				touched = append(touched, r)
			}
		}
		for _, r := range touched {
			r.notifyWatchers()
		}
		s.setRev(last)
	}
	return errors.New("watch channel closed")
}

func contains(rs []*resource, r *resource) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// relist replaces every cache after the watch lost events to compaction.
// Watchers of every resource are ended so their clients re-list.
func (s *Store) relist() error {
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	fresh := map[string]map[string]*entry{}
	end := clientv3.GetPrefixRangeEnd(s.prefix)
	key := s.prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(initialPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, opts...)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			r, rel := s.lookup(kv.Key)
			if r == nil {
				continue
			}
			e, err := r.decode(rel, kv.Value, uint64(kv.ModRevision))
			if err != nil {
				continue
			}
			m := fresh[r.rel]
			if m == nil {
				m = map[string]*entry{}
				fresh[r.rel] = m
			}
			m[rel] = e
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for rel, r := range s.resources {
		m := fresh[rel]
		if m == nil {
			m = map[string]*entry{}
		}
		r.reset(m, uint64(rev))
	}
	s.setRev(uint64(rev))
	return nil
}

// runProgress turns progress requests from readers into (coalesced) etcd
// RequestProgress calls on the cache's watch stream.
func (s *Store) runProgress() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.progressReq:
			if err := s.watcher.RequestProgress(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Debug("storage: request progress", "err", err)
			}
		}
	}
}

// runBookmarks wakes bookmark-enabled watchers every BookmarkInterval.
func (s *Store) runBookmarks() {
	t := s.clock.NewTicker(s.cfg.BookmarkInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
			s.bookmarkMu.Lock()
			close(s.bookmarkCh)
			s.bookmarkCh = make(chan struct{})
			s.bookmarkMu.Unlock()
		}
	}
}
