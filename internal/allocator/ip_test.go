package allocator

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func cidr(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func zeroRand(int) int { return 0 }

func newIPAlloc(t *testing.T, cli clientv3.KV, key, c string) *IPAllocator {
	t.Helper()
	a, err := NewIPAllocator(cli, key, cidr(t, c), WithRand(zeroRand))
	if err != nil {
		t.Fatalf("NewIPAllocator: %v", err)
	}
	return a
}

func TestNewIPAllocatorValidation(t *testing.T) {
	tests := []struct {
		cidr     string
		wantErr  bool
		wantSize int
	}{
		{cidr: "10.43.0.0/16", wantSize: 65534},
		{cidr: "10.96.0.0/12", wantSize: 1<<20 - 2},
		{cidr: "10.0.0.0/11", wantErr: true},
		{cidr: "10.0.0.0/30", wantSize: 2},
		{cidr: "10.0.0.0/31", wantErr: true},
		{cidr: "fd00::/120", wantSize: 255},
		{cidr: "fd00::/64", wantSize: MaxRangeSize},
		{cidr: "fd00::/48", wantErr: true},
		{cidr: "fd00::/127", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.cidr, func(t *testing.T) {
			a, err := NewIPAllocator(nil, "k", cidr(t, tc.cidr))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v; want error %v", err, tc.wantErr)
			}
			if err == nil && a.Free() != tc.wantSize {
				t.Errorf("Free() = %d; want %d", a.Free(), tc.wantSize)
			}
		})
	}
}

func TestIPAllocatorSequence(t *testing.T) {
	cli := startEtcd(t)
	ctx := context.Background()

	type step struct {
		op      string // allocate, next, release, has
		ip      string
		want    string // next: wanted IP; has: "true"/"false"
		wantErr error
		wantMsg string
	}
	tests := []struct {
		name  string
		cidr  string
		steps []step
	}{
		{
			name: "IPv4 /29",
			cidr: "10.0.0.0/29", // usable 10.0.0.1-10.0.0.6
			steps: []step{
				{op: "next", want: "10.0.0.2"}, // .1 is kept for the kubernetes service
				{op: "allocate", ip: "10.0.0.1"},
				{op: "allocate", ip: "10.0.0.1", wantErr: ErrAllocated, wantMsg: "provided IP is already allocated"},
				{op: "allocate", ip: "10.0.0.0", wantErr: ErrNotInRange,
					wantMsg: "provided IP is not in the valid range. The range of valid IPs is 10.0.0.0/29"},
				{op: "allocate", ip: "10.0.0.7", wantErr: ErrNotInRange},
				{op: "allocate", ip: "10.0.1.1", wantErr: ErrNotInRange},
				{op: "allocate", ip: "fd00::1", wantErr: ErrNotInRange},
				{op: "allocate", ip: "10.0.0.4"},
				{op: "next", want: "10.0.0.3"},
				{op: "next", want: "10.0.0.5"},
				{op: "next", want: "10.0.0.6"},
				{op: "next", wantErr: ErrFull, wantMsg: "range is full"},
				{op: "has", ip: "10.0.0.4", want: "true"},
				{op: "release", ip: "10.0.0.4"},
				{op: "release", ip: "10.0.0.4"}, // twice is fine
				{op: "release", ip: "192.168.0.1"},
				{op: "has", ip: "10.0.0.4", want: "false"},
				{op: "next", want: "10.0.0.4"},
				{op: "release", ip: "10.0.0.1"},
				{op: "next", wantErr: ErrFull}, // .1 is free but kept
			},
		},
		{
			name: "IPv6 /124",
			cidr: "fd00::/124",
			steps: []step{
				{op: "next", want: "fd00::2"},
				{op: "allocate", ip: "fd00::1"},
				{op: "allocate", ip: "fd00::f"}, // no broadcast in IPv6
				{op: "allocate", ip: "fd00::", wantErr: ErrNotInRange},
				{op: "allocate", ip: "10.0.0.1", wantErr: ErrNotInRange},
				{op: "has", ip: "fd00::f", want: "true"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newIPAlloc(t, cli, "/registry/ranges/"+tc.name, tc.cidr)
			for i, s := range tc.steps {
				var err error
				switch s.op {
				case "allocate":
					err = a.Allocate(ctx, net.ParseIP(s.ip))
				case "release":
					err = a.Release(ctx, net.ParseIP(s.ip))
				case "next":
					var ip net.IP
					ip, err = a.AllocateNext(ctx)
					if err == nil && ip.String() != s.want {
						t.Errorf("step %d: AllocateNext = %v; want %v", i, ip, s.want)
					}
				case "has":
					if got := a.Has(net.ParseIP(s.ip)); (got && s.want != "true") || (!got && s.want != "false") {
						t.Errorf("step %d: Has(%s) = %v; want %s", i, s.ip, got, s.want)
					}
				}
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d (%s %s): error = %v; want %v", i, s.op, s.ip, err, s.wantErr)
				}
				if s.wantMsg != "" && err.Error() != s.wantMsg {
					t.Errorf("step %d: message = %q; want %q", i, err.Error(), s.wantMsg)
				}
			}
		})
	}
}

func TestIPAllocatorConcurrentServers(t *testing.T) {
	// Two allocators with their own etcd clients stand for two API servers.
	cli1, ctx := startEtcd(t), context.Background()
	cli2, err := clientv3.New(clientv3.Config{Endpoints: cli1.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli2.Close() })
	const key = "/registry/ranges/serviceips"
	c := cidr(t, "10.43.0.0/25") // 126 usable, 125 for AllocateNext
	servers := make([]*IPAllocator, 2)
	for i, cli := range []*clientv3.Client{cli1, cli2} {
		if servers[i], err = NewIPAllocator(cli, key, c); err != nil { // random scan starts
			t.Fatal(err)
		}
	}
	if err := servers[0].Allocate(ctx, net.ParseIP("10.43.0.1")); err != nil {
		t.Fatalf("allocate kubernetes service IP: %v", err)
	}

	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			a := servers[w%2]
			for {
				ip, err := a.AllocateNext(ctx)
				if errors.Is(err, ErrFull) {
					return
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				got[ip.String()]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if len(got) != 125 {
		t.Errorf("allocated %d distinct IPs; want 125", len(got))
	}
	for ip, n := range got {
		if n != 1 {
			t.Errorf("%s handed out %d times", ip, n)
		}
		if ip == "10.43.0.1" || ip == "10.43.0.0" || ip == "10.43.0.127" {
			t.Errorf("handed out reserved address %s", ip)
		}
	}
	for i, a := range servers {
		if err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if a.Free() != 0 {
			t.Errorf("server %d: Free() = %d; want 0", i, a.Free())
		}
	}
}

func TestIPAllocatorPersistenceAndStaleCopies(t *testing.T) {
	cli, ctx := startEtcd(t), context.Background()
	const key = "/registry/ranges/serviceips"
	first := newIPAlloc(t, cli, key, "10.43.0.0/16")
	var taken []net.IP
	for range 5 {
		ip, err := first.AllocateNext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, ip)
	}

	// A new allocator (a restarted server) sees the same state...
	second := newIPAlloc(t, cli, key, "10.43.0.0/16")
	if err := second.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ip := range taken {
		if !second.Has(ip) {
			t.Errorf("after restart Has(%v) = false; want true", ip)
		}
	}
	if got, want := second.Used(), 5; got != want {
		t.Errorf("after restart Used() = %d; want %d", got, want)
	}

	// ...and a stale copy never gives a wrong answer: first has not seen
	// what second does next.
	ip, err := second.AllocateNext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Has(ip) {
		t.Fatalf("test setup: first already knows %v", ip)
	}
	if err := first.Allocate(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Errorf("stale Allocate(%v) error = %v; want ErrAllocated", ip, err)
	}
	if err := second.Release(ctx, ip); err != nil {
		t.Fatal(err)
	}
	// first believes ip is allocated (it just reloaded); release via second
	// made it free, so first must be able to take it again.
	if err := first.Allocate(ctx, ip); err != nil {
		t.Errorf("Allocate(%v) after release elsewhere: %v", ip, err)
	}
	// A release through a copy that never saw the allocation still frees it.
	third := newIPAlloc(t, cli, key, "10.43.0.0/16")
	if err := third.Release(ctx, taken[0]); err != nil {
		t.Fatal(err)
	}
	if err := first.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if first.Has(taken[0]) {
		t.Errorf("release through a fresh allocator did not free %v", taken[0])
	}
}

func TestIPAllocatorRepair(t *testing.T) {
	cli, ctx := startEtcd(t), context.Background()
	tests := []struct {
		name       string
		storedCIDR string // allocator that wrote the key before (a previous configuration)
		cidr       string
		inUse      []string
		wantUsed   []string
	}{
		{
			name:       "drops leaked allocations",
			storedCIDR: "10.43.0.0/24",
			cidr:       "10.43.0.0/24",
			inUse:      []string{"10.43.0.1", "10.43.0.77", "192.168.1.1"},
			wantUsed:   []string{"10.43.0.1", "10.43.0.77"},
		},
		{
			name:       "service CIDR changed",
			storedCIDR: "10.43.0.0/24",
			cidr:       "10.44.0.0/16",
			inUse:      []string{"10.43.0.2", "10.44.3.3"},
			wantUsed:   []string{"10.44.3.3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "/registry/ranges/" + tc.name
			old := newIPAlloc(t, cli, key, tc.storedCIDR)
			for range 10 {
				if _, err := old.AllocateNext(ctx); err != nil {
					t.Fatal(err)
				}
			}
			a := newIPAlloc(t, cli, key, tc.cidr)
			if tc.storedCIDR != tc.cidr {
				if _, err := a.AllocateNext(ctx); !errors.Is(err, ErrRangeChanged) {
					t.Fatalf("AllocateNext before Repair error = %v; want ErrRangeChanged", err)
				}
			}
			var inUse []net.IP
			for _, s := range tc.inUse {
				inUse = append(inUse, net.ParseIP(s))
			}
			if err := a.Repair(ctx, inUse); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			check := newIPAlloc(t, cli, key, tc.cidr)
			if err := check.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if check.Used() != len(tc.wantUsed) {
				t.Errorf("Used() = %d; want %d", check.Used(), len(tc.wantUsed))
			}
			for _, s := range tc.wantUsed {
				if !check.Has(net.ParseIP(s)) {
					t.Errorf("Has(%s) = false after Repair", s)
				}
			}
			if _, err := a.AllocateNext(ctx); err != nil {
				t.Errorf("AllocateNext after Repair: %v", err)
			}
		})
	}
}
