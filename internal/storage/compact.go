package storage

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// compactKey holds the last compacted revision; its etcd Version counts the
// compactions, which lets several servers sharing one etcd agree on who
// compacts each interval.
const compactKey = "compact_rev_key"

// runCompactor compacts etcd every CompactInterval to the revision observed
// one interval earlier, so a list or watch has at least one interval to
// resume before its revision disappears.
func (s *Store) runCompactor() {
	t := s.clock.NewTicker(s.cfg.CompactInterval)
	defer t.Stop()
	var version, rev int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
		}
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		v, r, err := s.compactOnce(ctx, version, rev)
		cancel()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("storage: compaction failed", "err", err, "rev", rev)
			}
			continue
		}
		version, rev = v, r
	}
}

// compactOnce claims this round by bumping compactKey's version with a
// compare-and-swap on the version this server last saw, then compacts to
// rev (0: nothing yet to compact). Losing the race means another server
// compacted; its version is adopted. It returns the version and the current
// revision, which is what the next round compacts to.
func (s *Store) compactOnce(ctx context.Context, version, rev int64) (int64, int64, error) {
	key := s.prefix + compactKey
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(key), "=", version)).
		Then(clientv3.OpPut(key, strconv.FormatInt(rev, 10))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return version, rev, err
	}
	cur := resp.Header.Revision
	if !resp.Succeeded {
		var v int64
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			v = kvs[0].Version
		}
		return v, cur, nil
	}
	version++
	if rev > 0 {
		if _, err := s.client.Compact(ctx, rev); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
			return version, cur, err
		}
		s.log.Debug("storage: compacted", "rev", rev)
	}
	return version, cur, nil
}
