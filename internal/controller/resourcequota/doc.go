// Package resourcequota is the resource quota controller: it keeps every
// ResourceQuota's status.hard equal to spec.hard and recomputes status.used
// from the objects that exist in the quota's namespace.
//
// # Who charges, who corrects
//
// The ResourceQuota admission plugin charges status.used as objects are
// created (and services and claims grow); it never gives a charge back.
// This controller is what releases usage: when objects are deleted, when
// pods finish (Succeeded and Failed pods, and pods past their deletion
// grace period, count for nothing), and when a charged write failed after
// admission. Both sides measure objects with the same code
// (admission.QuotaEvaluatorFor), so they agree on what an object costs and
// on which objects a quota's scopes select (Terminating, NotTerminating,
// BestEffort, NotBestEffort, PriorityClass, CrossNamespacePodAffinity).
//
// # What is measured
//
// Objects of the kinds in Config.Sources are read from informer caches:
// pods (pods, count/pods, cpu and memory requests and limits, extended
// resources, hugepages), services (services, services.nodeports,
// services.loadbalancers), persistentvolumeclaims (claims and
// requests.storage, in total and per storage class), and counted kinds
// such as configmaps and secrets. Any other count/<resource>.<group> a
// quota limits is resolved through the REST mapper and counted with a
// metadata list from the API server's watch cache; names no served kind
// measures keep whatever value they had.
//
// # When
//
// A quota is synced when it is added, when its spec changes or its status
// lacks a limit, a short debounce after an object in its namespace changes
// in a way that alters usage (so a burst of creates costs one sync), and
// every ResyncPeriod (5 minutes by default, as upstream). The write is an
// update of the status subresource guarded by the quota's
// resourceVersion: a concurrent admission charge makes it conflict, and the
// sync is retried on fresh data.
//
// Run registers the handlers, waits for the caches, runs the workers until
// its context ends, then shuts the queue down and waits for the workers.
package resourcequota
