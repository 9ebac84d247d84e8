package leader

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// TestRunCampaignsAgainAfterLoss makes a leader's renewals fail: its term
// must end, and it must lead again once they succeed — never with two
// terms at once.
func TestRunCampaignsAgainAfterLoss(t *testing.T) {
	client := fake.NewClientset()
	var failing atomic.Bool
	client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewServiceUnavailable("renewals refused")
		}
		return false, nil, nil
	})
	cfg := Config{Namespace: "kube-system", Name: "l", Identity: "me", Client: client,
		LeaseDuration: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
	var terms, running, overlaps atomic.Int32
	started := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, func(lctx context.Context) error {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			terms.Add(1)
			started <- struct{}{}
			<-lctx.Done()
			return lctx.Err()
		})
	}()
	waitTerm := func() {
		t.Helper()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("no term started; %d so far", terms.Load())
		}
	}
	waitTerm()

	// The API refuses renewals until the term has ended (the fake
	// clientset has no optimistic concurrency, so a stolen Lease would
	// simply be overwritten; test/integration steals one for real).
	failing.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("term still running while renewals fail")
		}
		time.Sleep(10 * time.Millisecond)
	}
	failing.Store(false)
	waitTerm()
	if got := terms.Load(); got != 2 {
		t.Errorf("terms = %d; want 2", got)
	}
	if got := overlaps.Load(); got != 0 {
		t.Errorf("%d terms overlapped", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	l, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "l", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := ptr.Deref(l.Spec.HolderIdentity, ""); h != "" {
		t.Errorf("holder after Run returned = %q; want the Lease released", h)
	}
}

// TestRunReturnsLeadError ends Run with an error lead returns while it
// still leads.
func TestRunReturnsLeadError(t *testing.T) {
	cfg := Config{Namespace: "kube-system", Name: "l", Identity: "me", Client: fake.NewClientset(),
		LeaseDuration: 600 * time.Millisecond, RenewDeadline: 400 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}
	errBoom := context.DeadlineExceeded
	err := Run(context.Background(), cfg, func(context.Context) error { return errBoom })
	if err != errBoom {
		t.Fatalf("Run: got %v; want %v", err, errBoom)
	}
}

func TestRunNeedsClient(t *testing.T) {
	if err := Run(context.Background(), Config{}, nil); err != ErrNoClient {
		t.Fatalf("Run without a client: got %v; want ErrNoClient", err)
	}
}
