package encryption

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// ReencryptResult counts what Reencrypt did.
type ReencryptResult struct {
	// Rewritten objects were stored with an older key (or provider) and
	// were written again with the current one.
	Rewritten int
	// Current objects were already stored with the current key; the
	// server skipped their unchanged update.
	Current int
	// Raced objects were changed or deleted by someone else meanwhile;
	// that write stored them with the current key, or they are gone.
	Raced int
}

// Reencrypt rewrites every object of one resource through the API: it
// lists them in pages of pageSize and updates each one unchanged. Storage
// skips unchanged updates unless the stored value is stale (read with
// anything but the first provider's first key), so only stale objects are
// written, with the current key — the same thing as upstream's
// `kubectl get secrets -A -o json | kubectl replace -f -`. A conflict or
// NotFound counts as done: someone else's write re-encrypted the object or
// removed it. Objects created while it runs are written with the current
// key already. It stops at the first other error.
func Reencrypt(ctx context.Context, client dynamic.NamespaceableResourceInterface, pageSize int64) (ReencryptResult, error) {
	var res ReencryptResult
	opts := metav1.ListOptions{Limit: pageSize}
	restarted := false
	for {
		list, err := client.List(ctx, opts)
		if apierrors.IsResourceExpired(err) && !restarted {
			// The continue token outlived compaction: start over once;
			// objects already rewritten are now no-ops.
			restarted, opts.Continue = true, ""
			continue
		}
		if err != nil {
			return res, fmt.Errorf("list: %w", err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			out, err := client.Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{})
			switch {
			case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
				res.Raced++
			case err != nil:
				return res, fmt.Errorf("update %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
			case out.GetResourceVersion() != obj.GetResourceVersion():
				res.Rewritten++
			default:
				res.Current++
			}
		}
		if list.GetContinue() == "" {
			return res, nil
		}
		opts.Continue = list.GetContinue()
	}
}
