package allocator

import (
	"errors"
	"fmt"
)

// Sentinels matched with errors.Is.
var (
	// ErrAllocated: the requested value is already in use.
	ErrAllocated = errors.New("allocator: already allocated")
	// ErrNotInRange: the requested value is outside the managed range.
	ErrNotInRange = errors.New("allocator: not in range")
	// ErrFull: no free value is left.
	ErrFull = errors.New("allocator: range is full")
	// ErrRangeChanged: the range stored in etcd differs from the configured
	// one (the service CIDR or node port range was changed). Allocation is
	// refused until Repair rewrites the key for the new range.
	ErrRangeChanged = errors.New("allocator: stored range differs from the configured range; run Repair")
)

// RangeError is returned for a refused request. Its Error text is the
// user-facing message upstream Kubernetes uses; Unwrap gives the sentinel.
type RangeError struct {
	// Err is ErrAllocated, ErrNotInRange or ErrFull.
	Err error
	// Kind is "IP" or "port".
	Kind string
	// Range is the valid range in its usual notation: "10.43.0.0/16" or
	// "30000-32767".
	Range string
}

func (e *RangeError) Error() string {
	switch e.Err {
	case ErrAllocated:
		return fmt.Sprintf("provided %s is already allocated", e.Kind)
	case ErrNotInRange:
		return fmt.Sprintf("provided %s is not in the valid range. The range of valid %ss is %s", e.Kind, e.Kind, e.Range)
	case ErrFull:
		return "range is full"
	}
	return e.Err.Error()
}

func (e *RangeError) Unwrap() error { return e.Err }
