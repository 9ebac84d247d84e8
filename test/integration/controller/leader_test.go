package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// Two managers with leader election: one holds the Lease and collects;
// when it stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	run := func(id string) (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- manager.Run(ctx, managerConfig(s), manager.Options{
				UseServiceAccountCredentials: true,
				Logger:                       slog.New(slog.NewTextHandler(io.Discard, nil)),
				MaxRetryDelay:                time.Second,
				LeaderElect:                  true,
				LeaderElection: manager.LeaderElection{
					Identity: id, LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond,
				},
			})
		}()
		return cancel, done
	}
	cancelA, doneA := run("a")
	holder := func() string {
		l, err := c.CoordinationV1().Leases("kube-system").Get(context.Background(), "skiff-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	eventually(t, 10*time.Second, func() (bool, string) { return holder() == "a", "lease holder = " + holder() })
	cancelB, doneB := run("b")
	t.Cleanup(func() {
		cancelB()
		if err := <-doneB; err != nil {
			t.Errorf("manager b: %v", err)
		}
	})

	collects := func(ns string) {
		createNamespace(t, c, ns)
		owner := createConfigMap(t, c, ns, "owner", nil)
		createConfigMap(t, c, ns, "dep", nil, ownedBy(owner, false))
		deleteWith(t, c, ns, "owner", metav1.DeletePropagationBackground)
		eventually(t, 20*time.Second, func() (bool, string) { return configMapGone(c, ns, "dep") })
	}
	collects("le-a")

	cancelA()
	if err := <-doneA; err != nil {
		t.Fatalf("manager a: %v", err)
	}
	eventually(t, 15*time.Second, func() (bool, string) { return holder() == "b", fmt.Sprintf("lease holder = %q", holder()) })
	collects("le-b")
}
