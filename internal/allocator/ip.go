package allocator

import (
	"context"
	"fmt"
	"math/big"
	"net"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxRangeSize is the largest number of values one allocator tracks: an IPv4
// /12. Larger IPv6 ranges are cut to their first MaxRangeSize addresses.
const MaxRangeSize = 1 << 20

// IPAllocator hands out addresses from a service CIDR.
//
// The network address is never handed out, nor, for IPv4, the broadcast
// address. The first usable address (10.43.0.1 in 10.43.0.0/16) is kept for
// the "kubernetes" service: AllocateNext never returns it, Allocate does.
type IPAllocator struct {
	cidr  *net.IPNet
	first *big.Int // the first usable address (network + 1) as an integer
	v4    bool
	intn  func(int) int
	s     *store
}

// NewIPAllocator returns an allocator for cidr whose state lives under key
// (for example "/registry/ranges/serviceips"). client is usually a
// *clientv3.Client. IPv4 ranges may be /12 to /30; IPv6 ranges /64 to /126,
// tracked up to MaxRangeSize addresses. No I/O happens here.
func NewIPAllocator(client clientv3.KV, key string, cidr *net.IPNet, opts ...Option) (*IPAllocator, error) {
	if cidr == nil {
		return nil, fmt.Errorf("allocator: nil CIDR")
	}
	ones, bits := cidr.Mask.Size()
	network := cidr.IP.Mask(cidr.Mask)
	if network == nil || bits == 0 {
		return nil, fmt.Errorf("allocator: invalid CIDR %v", cidr)
	}
	v4 := bits == 32
	hostBits := bits - ones
	var size int
	switch {
	case v4 && (hostBits < 2 || hostBits > 20):
		return nil, fmt.Errorf("allocator: IPv4 service CIDR %v must be between /12 and /30", cidr)
	case v4:
		size = 1<<hostBits - 2 // no network, no broadcast address
	case hostBits < 2 || hostBits > 64:
		return nil, fmt.Errorf("allocator: IPv6 service CIDR %v must be between /64 and /126", cidr)
	case hostBits > 20:
		size = MaxRangeSize
	default:
		size = 1<<hostBits - 1 // no network address
	}
	if v4 {
		network = network.To4()
	}
	norm := &net.IPNet{IP: network, Mask: cidr.Mask}
	o := buildOptions(opts)
	first := new(big.Int).SetBytes(network)
	first.Add(first, big.NewInt(1))
	return &IPAllocator{
		cidr:  norm,
		first: first,
		v4:    v4,
		intn:  o.intn,
		s:     newStore(client, key, norm.String(), size),
	}, nil
}

// CIDR returns the managed range. Callers must not modify it.
func (a *IPAllocator) CIDR() *net.IPNet { return a.cidr }

// offset returns ip's position in the range, or -1 when it is outside.
func (a *IPAllocator) offset(ip net.IP) int {
	if a.v4 {
		ip = ip.To4()
	} else if ip.To4() != nil {
		ip = nil // IPv4 (or IPv4-mapped) address in an IPv6 range
	}
	if ip == nil || !a.cidr.Contains(ip) {
		return -1
	}
	n := new(big.Int).SetBytes(ip)
	n.Sub(n, a.first)
	if n.Sign() < 0 || n.Cmp(big.NewInt(int64(a.s.size))) >= 0 {
		return -1
	}
	return int(n.Int64())
}

func (a *IPAllocator) ipAt(i int) net.IP {
	n := new(big.Int).Add(a.first, big.NewInt(int64(i)))
	out := make(net.IP, len(a.cidr.IP))
	n.FillBytes(out)
	return out
}

func (a *IPAllocator) refused(err error) error {
	return &RangeError{Err: err, Kind: "IP", Range: a.cidr.String()}
}

// Contains reports whether ip may be allocated from this range.
func (a *IPAllocator) Contains(ip net.IP) bool { return a.offset(ip) >= 0 }

// Allocate marks ip used. It fails with a *RangeError wrapping
// ErrNotInRange or ErrAllocated, with ErrRangeChanged, or with an etcd error.
func (a *IPAllocator) Allocate(ctx context.Context, ip net.IP) error {
	i := a.offset(ip)
	if i < 0 {
		return a.refused(ErrNotInRange)
	}
	return a.s.allocate(ctx, i, a.refused)
}

// AllocateNext marks a free address used and returns it. It never returns
// the first usable address (kept for the kubernetes service). It fails with
// a *RangeError wrapping ErrFull, with ErrRangeChanged, or with an etcd error.
func (a *IPAllocator) AllocateNext(ctx context.Context) (net.IP, error) {
	i, err := a.s.allocateNext(ctx, 1, a.intn, a.refused)
	if err != nil {
		return nil, err
	}
	return a.ipAt(i), nil
}

// Release marks ip free. Releasing a free or out-of-range address is not
// an error.
func (a *IPAllocator) Release(ctx context.Context, ip net.IP) error {
	i := a.offset(ip)
	if i < 0 {
		return nil
	}
	return a.s.release(ctx, i)
}

// Has reports whether ip is allocated according to the in-memory copy.
func (a *IPAllocator) Has(ip net.IP) bool {
	i := a.offset(ip)
	return i >= 0 && a.s.has(i)
}

// Free returns the number of unallocated addresses according to the
// in-memory copy, counting the one kept for the kubernetes service.
func (a *IPAllocator) Free() int { return a.s.size - a.s.used() }

// Used returns the number of allocated addresses according to the
// in-memory copy.
func (a *IPAllocator) Used() int { return a.s.used() }

// Refresh reloads the in-memory copy from etcd.
func (a *IPAllocator) Refresh(ctx context.Context) error { return a.s.refresh(ctx) }

// Repair stores exactly inUse as the allocated set, replacing whatever was
// stored (also a different range). Addresses outside the range are
// skipped; check them with Contains. See the package documentation for when
// to call it.
func (a *IPAllocator) Repair(ctx context.Context, inUse []net.IP) error {
	offsets := make([]int, 0, len(inUse))
	for _, ip := range inUse {
		if i := a.offset(ip); i >= 0 {
			offsets = append(offsets, i)
		}
	}
	return a.s.repair(ctx, offsets)
}
