package kubelet

import (
	"time"
)

// Restart back-off, as upstream: the first restart is immediate, then 10 s
// doubling to 5 min; a container that ran without a restart for twice the
// maximum starts over at 10 s.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
)

// backoff tracks restart delays by key (a container name, or "pull/" +
// name for image pulls). It is owned by one pod worker and not safe for
// concurrent use.
type backoff struct {
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

func newBackoff() *backoff { return &backoff{entries: map[string]*backoffEntry{}} }

// waiting reports whether a restart for key is still held back at now,
// for an event (the container's exit) at since, and the current delay.
func (b *backoff) waiting(key string, since, now time.Time) (bool, time.Duration) {
	e, ok := b.entries[key]
	if !ok || now.Sub(e.lastUpdate) > 2*backoffMax {
		return false, 0
	}
	return now.Sub(since) < e.delay, e.delay
}

// sinceUpdate reports whether key is held back at now counting from its
// last recorded attempt (upstream's IsInBackOffSinceUpdate, which image
// pulls use), and when it may go ahead.
func (b *backoff) sinceUpdate(key string, now time.Time) (bool, time.Time) {
	e, ok := b.entries[key]
	if !ok || now.Sub(e.lastUpdate) > 2*backoffMax {
		return false, now
	}
	at := e.lastUpdate.Add(e.delay)
	return now.Before(at), at
}

// retryAt is when a restart for key, held back since the event at since,
// may go ahead.
func (b *backoff) retryAt(key string, since time.Time) time.Time {
	if e, ok := b.entries[key]; ok {
		return since.Add(e.delay)
	}
	return since
}

// next records a restart for key at now and grows its delay.
func (b *backoff) next(key string, now time.Time) {
	e, ok := b.entries[key]
	switch {
	case !ok || now.Sub(e.lastUpdate) > 2*backoffMax:
		b.entries[key] = &backoffEntry{delay: backoffInitial, lastUpdate: now}
	default:
		e.delay = min(2*e.delay, backoffMax)
		e.lastUpdate = now
	}
}

// reset forgets key (an image that was pulled, a pod that restarts over).
func (b *backoff) reset(key string) { delete(b.entries, key) }
