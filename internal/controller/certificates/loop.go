package certificates

import (
	"context"
	"log/slog"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// runQueue is the loop the signer and the approver share: every added or
// changed CSR is queued by name, and sync works the queue until ctx ends.
func runQueue(ctx context.Context, name string, informer cache.SharedIndexInformer, clk clock.WithTicker, log *slog.Logger,
	maxDelay time.Duration, workers int, sync ctrlutil.SyncFunc[string]) error {
	queue := ctrlutil.NewQueue[string](name, clk, 0, maxDelay)
	enqueue := func(obj any) {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
			queue.Add(csr.Name)
		}
	}
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	if err != nil {
		return err
	}
	defer func() { _ = informer.RemoveEventHandler(reg) }()
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), informer.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	log.Info("started", "workers", workers)
	ctrlutil.RunWorkers(ctx, log, queue, workers, sync)
	return nil
}
