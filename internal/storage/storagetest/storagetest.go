// Package storagetest starts an embedded etcd for tests: StartEtcd runs one
// in t.TempDir() on random loopback ports and stops it in t.Cleanup.
package storagetest

import (
	"context"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skiff-sh/skiff/internal/datastore"
)

// StartEtcd starts an embedded etcd whose data lives in a fresh temporary
// directory and returns a client to it. Both are closed when the test ends.
func StartEtcd(t testing.TB) *clientv3.Client {
	t.Helper()
	return StartEtcdIn(t, t.TempDir())
}

// StartEtcdIn is StartEtcd with the data in dir, so a test can restart an
// etcd on the same data. The returned Embedded's Close may be called early.
func StartEtcdIn(t testing.TB, dir string) *clientv3.Client {
	t.Helper()
	e := StartEmbedded(t, dir)
	return e.Client()
}

// StartEmbedded starts an embedded etcd in dir and closes it at cleanup.
func StartEmbedded(t testing.TB, dir string) *datastore.Embedded {
	t.Helper()
	e, err := datastore.StartEmbedded(context.Background(), dir, datastore.EmbeddedOptions{})
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
