package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

const (
	resyncPeriod = 5 * time.Minute
	resyncRetry  = time.Second
)

// resyncLoop is the server's own small reconcilers (the IPAddress mirror,
// FlowSchema status): sync runs at start, after every change of the
// watched resource (events arriving together coalesce into one sync), and
// every resyncPeriod. sync is level-based: it reads everything it needs
// and is safe to run any time. Run returns when ctx ends.
type resyncLoop struct {
	name    string
	watched storage.Resource
	sync    func(ctx context.Context) error
	clock   clock.WithTicker
	log     *slog.Logger
}

// Run syncs until ctx ends, as the system user.
func (l *resyncLoop) Run(ctx context.Context) {
	ctx = auth.WithUser(ctx, systemUser)
	for ctx.Err() == nil {
		// The list's revision is where the watch starts: nothing between
		// the sync and the watch is missed.
		list, err := l.watched.List(ctx, "", storage.ListOptions{Limit: 1})
		if err == nil {
			err = l.sync(ctx)
		}
		if err != nil {
			l.log.Warn("sync failed", "loop", l.name, "err", err)
			l.sleep(ctx, resyncRetry)
			continue
		}
		l.watch(ctx, list.ResourceVersion)
	}
}

// watch syncs on every change until the watch ends, ctx ends, a sync
// fails or the resync period passes.
func (l *resyncLoop) watch(ctx context.Context, rv uint64) {
	w, err := l.watched.Watch(ctx, "", storage.WatchOptions{ResourceVersion: strconv.FormatUint(rv, 10)})
	if err != nil {
		l.sleep(ctx, resyncRetry)
		return
	}
	defer w.Stop()
	resync := l.clock.NewTimer(resyncPeriod)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C():
			return
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		drain:
			for {
				select {
				case _, ok := <-w.ResultChan():
					if !ok {
						return
					}
				default:
					break drain
				}
			}
			if err := l.sync(ctx); err != nil {
				l.log.Warn("sync failed", "loop", l.name, "err", err)
				return
			}
		}
	}
}

func (l *resyncLoop) sleep(ctx context.Context, d time.Duration) {
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
	}
}
