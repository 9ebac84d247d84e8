package daemonset

import (
	"sync"
	"time"
)

// expectationTimeout is how long unobserved expectations hold a set back
// before it is synced anyway (a lost watch event must not wedge it).
const expectationTimeout = 5 * time.Minute

// expectations counts, per set key, pod creations and deletions made
// but not yet seen in the informer cache.
type expectations struct {
	mu sync.Mutex // guards m
	m  map[string]*expected
}

type expected struct {
	adds, dels int
	at         time.Time
}

func newExpectations() *expectations { return &expectations{m: map[string]*expected{}} }

// expect records adds creations and dels deletions about to be made.
func (e *expectations) expect(key string, adds, dels int, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expected{adds: adds, dels: dels, at: now}
}

// observed lowers the count of creations (add) or deletions.
func (e *expectations) observed(key string, add bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.m[key]; x != nil {
		if add {
			x.adds--
		} else {
			x.dels--
		}
	}
}

// satisfied reports whether everything expected for key was seen, or the
// expectations expired.
func (e *expectations) satisfied(key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.m[key]
	return x == nil || (x.adds <= 0 && x.dels <= 0) || now.Sub(x.at) > expectationTimeout
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
