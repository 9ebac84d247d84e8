package allocator

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Default NodePort range, 30000-32767.
const (
	DefaultNodePortBase = 30000
	DefaultNodePortSize = 2768
)

// PortAllocator hands out ports from [base, base+size).
type PortAllocator struct {
	base int
	intn func(int) int
	desc string
	s    *store
}

// NewPortAllocator returns an allocator for the ports base..base+size-1
// whose state lives under key (for example "/registry/ranges/servicenodeports").
// client is usually a *clientv3.Client. No I/O happens here.
func NewPortAllocator(client clientv3.KV, key string, base, size int, opts ...Option) (*PortAllocator, error) {
	if base < 1 || size < 1 || base+size-1 > 65535 {
		return nil, fmt.Errorf("allocator: invalid port range base %d size %d", base, size)
	}
	o := buildOptions(opts)
	desc := fmt.Sprintf("%d-%d", base, base+size-1)
	return &PortAllocator{base: base, intn: o.intn, desc: desc, s: newStore(client, key, desc, size)}, nil
}

// Range returns the managed range as "30000-32767".
func (a *PortAllocator) Range() string { return a.desc }

func (a *PortAllocator) offset(port int) int {
	i := port - a.base
	if i < 0 || i >= a.s.size {
		return -1
	}
	return i
}

func (a *PortAllocator) refused(err error) error {
	return &RangeError{Err: err, Kind: "port", Range: a.desc}
}

// Contains reports whether port may be allocated from this range.
func (a *PortAllocator) Contains(port int) bool { return a.offset(port) >= 0 }

// Allocate marks port used. It fails with a *RangeError wrapping
// ErrNotInRange or ErrAllocated, with ErrRangeChanged, or with an etcd error.
func (a *PortAllocator) Allocate(ctx context.Context, port int) error {
	i := a.offset(port)
	if i < 0 {
		return a.refused(ErrNotInRange)
	}
	return a.s.allocate(ctx, i, a.refused)
}

// AllocateNext marks a free port used and returns it. It fails with a
// *RangeError wrapping ErrFull, with ErrRangeChanged, or with an etcd error.
func (a *PortAllocator) AllocateNext(ctx context.Context) (int, error) {
	i, err := a.s.allocateNext(ctx, 0, a.intn, a.refused)
	if err != nil {
		return 0, err
	}
	return a.base + i, nil
}

// Release marks port free. Releasing a free or out-of-range port is not an
// error.
func (a *PortAllocator) Release(ctx context.Context, port int) error {
	i := a.offset(port)
	if i < 0 {
		return nil
	}
	return a.s.release(ctx, i)
}

// Has reports whether port is allocated according to the in-memory copy.
func (a *PortAllocator) Has(port int) bool {
	i := a.offset(port)
	return i >= 0 && a.s.has(i)
}

// Free returns the number of unallocated ports according to the in-memory copy.
func (a *PortAllocator) Free() int { return a.s.size - a.s.used() }

// Used returns the number of allocated ports according to the in-memory copy.
func (a *PortAllocator) Used() int { return a.s.used() }

// Refresh reloads the in-memory copy from etcd.
func (a *PortAllocator) Refresh(ctx context.Context) error { return a.s.refresh(ctx) }

// Repair stores exactly inUse as the allocated set, replacing whatever was
// stored (also a different range). Ports outside the range are skipped;
// check them with Contains.
func (a *PortAllocator) Repair(ctx context.Context, inUse []int) error {
	offsets := make([]int, 0, len(inUse))
	for _, p := range inUse {
		if i := a.offset(p); i >= 0 {
			offsets = append(offsets, i)
		}
	}
	return a.s.repair(ctx, offsets)
}
