package allocator

import (
	"context"
	"errors"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestNewPortAllocatorValidation(t *testing.T) {
	tests := []struct {
		name       string
		base, size int
		wantErr    bool
		wantRange  string
	}{
		{name: "default", base: DefaultNodePortBase, size: DefaultNodePortSize, wantRange: "30000-32767"},
		{name: "single port", base: 80, size: 1, wantRange: "80-80"},
		{name: "zero size", base: 30000, size: 0, wantErr: true},
		{name: "past 65535", base: 65000, size: 1000, wantErr: true},
		{name: "port zero", base: 0, size: 10, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewPortAllocator(nil, "k", tc.base, tc.size)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v; want error %v", err, tc.wantErr)
			}
			if err == nil && a.Range() != tc.wantRange {
				t.Errorf("Range() = %q; want %q", a.Range(), tc.wantRange)
			}
		})
	}
}

func TestPortAllocatorSequence(t *testing.T) {
	cli, ctx := startEtcd(t), context.Background()
	a, err := NewPortAllocator(cli, "/registry/ranges/servicenodeports", 30000, 4, WithRand(func(n int) int { return n - 1 }))
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		op      string // allocate, next, release
		port    int
		want    int
		wantErr error
		wantMsg string
	}
	steps := []step{
		{op: "next", want: 30003}, // scan starts at the last port
		{op: "next", want: 30000}, // and wraps
		{op: "allocate", port: 30001},
		{op: "allocate", port: 30001, wantErr: ErrAllocated, wantMsg: "provided port is already allocated"},
		{op: "allocate", port: 30004, wantErr: ErrNotInRange,
			wantMsg: "provided port is not in the valid range. The range of valid ports is 30000-30003"},
		{op: "allocate", port: 29999, wantErr: ErrNotInRange},
		{op: "next", want: 30002},
		{op: "next", wantErr: ErrFull, wantMsg: "range is full"},
		{op: "release", port: 30001},
		{op: "release", port: 40000},
		{op: "next", want: 30001},
	}
	for i, s := range steps {
		var err error
		switch s.op {
		case "allocate":
			err = a.Allocate(ctx, s.port)
		case "release":
			err = a.Release(ctx, s.port)
		case "next":
			var p int
			p, err = a.AllocateNext(ctx)
			if err == nil && p != s.want {
				t.Errorf("step %d: AllocateNext = %d; want %d", i, p, s.want)
			}
		}
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d (%s %d): error = %v; want %v", i, s.op, s.port, err, s.wantErr)
		}
		if s.wantMsg != "" && err.Error() != s.wantMsg {
			t.Errorf("step %d: message = %q; want %q", i, err.Error(), s.wantMsg)
		}
	}
	if a.Free() != 0 || a.Used() != 4 {
		t.Errorf("Free()=%d Used()=%d; want 0 and 4", a.Free(), a.Used())
	}
}

func TestPortAllocatorConcurrentServersAndRepair(t *testing.T) {
	cli1, ctx := startEtcd(t), context.Background()
	cli2, err := clientv3.New(clientv3.Config{Endpoints: cli1.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli2.Close() })
	const key = "/registry/ranges/servicenodeports"
	servers := make([]*PortAllocator, 2)
	for i, cli := range []*clientv3.Client{cli1, cli2} {
		if servers[i], err = NewPortAllocator(cli, key, 30000, 100); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			for {
				p, err := servers[w%2].AllocateNext(ctx)
				if errors.Is(err, ErrFull) {
					return
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				got[p]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 100 {
		t.Errorf("allocated %d distinct ports; want 100", len(got))
	}
	for p, n := range got {
		if n != 1 {
			t.Errorf("port %d handed out %d times", p, n)
		}
	}

	// Only three Services were actually written: Repair frees the rest.
	if err := servers[0].Repair(ctx, []int{30005, 30050, 31000}); err != nil {
		t.Fatal(err)
	}
	restarted, err := NewPortAllocator(cli2, key, 30000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if restarted.Used() != 2 || !restarted.Has(30005) || !restarted.Has(30050) {
		t.Errorf("after Repair Used()=%d Has(30005)=%v Has(30050)=%v; want 2, true, true",
			restarted.Used(), restarted.Has(30005), restarted.Has(30050))
	}
	if err := servers[1].Allocate(ctx, 30050); !errors.Is(err, ErrAllocated) {
		t.Errorf("Allocate(30050) error = %v; want ErrAllocated", err)
	}
	if err := servers[1].Allocate(ctx, 30051); err != nil {
		t.Errorf("Allocate(30051) after Repair: %v", err)
	}
}
