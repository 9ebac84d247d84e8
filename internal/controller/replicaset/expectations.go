package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationTTL is how long a sync waits for the informer to report the
// creations and deletions it asked for before it trusts the cache again (a
// watch event can be lost, for example across a relist).
const expectationTTL = 5 * time.Minute

// expectations records, per workload key, the pod creations and deletions a
// sync has asked for and the pod informer has not yet reported. While any
// are outstanding the workload's pods are not managed again, so a sync that
// runs on a cache which has not caught up never creates or deletes twice.
//
// Safe for concurrent use.
type expectations struct {
	clock clock.PassiveClock

	mu    sync.Mutex // guards byKey
	byKey map[string]*expected
}

// expected is what one workload waits for.
type expected struct {
	adds int                 // creations not yet observed
	dels map[string]struct{} // keys of pods whose deletion is not yet observed
	set  time.Time           // when these were recorded
}

func newExpectations(clk clock.PassiveClock) *expectations {
	return &expectations{clock: clk, byKey: map[string]*expected{}}
}

// satisfied reports whether the workload may be managed: nothing is
// outstanding, nothing was ever recorded, or the record has expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.dels) == 0 {
		return true
	}
	return e.clock.Since(x.set) > expectationTTL
}

// expectCreations replaces the record for key with n pending creations.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expected{adds: n, set: e.clock.Now()}
}

// expectDeletions replaces the record for key with the given pending pod
// deletions (pod keys).
func (e *expectations) expectDeletions(key string, podKeys []string) {
	dels := make(map[string]struct{}, len(podKeys))
	for _, k := range podKeys {
		dels[k] = struct{}{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expected{dels: dels, set: e.clock.Now()}
}

// creationObserved lowers the pending creations of key by one.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// deletionObserved marks the deletion of podKey as seen; pods that were not
// expected are ignored, so a deletion is never counted twice.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok {
		delete(x.dels, podKey)
	}
}

// forget drops the record of key (the workload is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
