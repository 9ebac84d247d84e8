package proxy

import (
	"context"
	"fmt"
	"testing"
)

// recordingWriter keeps the last transaction instead of writing it.
type recordingWriter struct{ last *nfTx }

func (w *recordingWriter) write(_ context.Context, tx *nfTx) error        { w.last = tx; return nil }
func (w *recordingWriter) list(context.Context, string) ([]string, error) { return nil, nil }
func (w *recordingWriter) close()                                         {}

// BenchmarkFullSyncEncode: the user-space part of a full sync of 2,000
// Services of 5 endpoints each, without the kernel: building the rules
// and the transaction (sync), and encoding it as netlink messages (nl).
func BenchmarkFullSyncEncode(b *testing.B) {
	tp := newTestProxier(&testing.T{}, testConfig())
	rec := &recordingWriter{}
	tp.writer = rec
	for i := range 2000 {
		name := fmt.Sprintf("svc-%05d", i)
		var eps []ep
		for j := range 5 {
			n := i*5 + j
			eps = append(eps, ep{ip: fmt.Sprintf("10.42.%d.%d", n/250, n%250+1), node: fmt.Sprintf("node-%d", j)})
		}
		tp.set(svc("bench", name, fmt.Sprintf("10.43.%d.%d", i/250, i%250+1)), httpSlice("bench", name, eps...))
	}
	if _, err := tp.sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Run("sync", func(b *testing.B) {
		for b.Loop() {
			tp.full = true
			if _, err := tp.sync(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	var rc ruleCache
	b.Run("nl", func(b *testing.B) {
		for b.Loop() {
			rc.generation(1 << 20)
			nb := nlBatch{rules: &rc}
			if err := nb.add(rec.last.ops); err != nil {
				b.Fatal(err)
			}
		}
	})
}
