// Package endpointslice publishes where a Service's pods are: three
// controllers that turn Services and pods into discovery objects.
//
//   - SliceController keeps the EndpointSlices of every Service that has a
//     selector: one group of slices per address type (the Service's IP
//     families) and per set of resolved ports, at most 100 endpoints a
//     slice, labelled kubernetes.io/service-name and
//     endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
//     and owned by the Service. Endpoints carry ready/serving/terminating
//     conditions, hostname (pods whose subdomain is the Service), nodeName,
//     zone and, under spec.trafficDistribution, topology hints (forZones for
//     PreferClose/PreferSameZone, forNodes too for PreferSameNode).
//   - EndpointsController keeps the legacy Endpoints object of the same
//     Services: subsets of addresses and notReadyAddresses grouped by port
//     set, capped at 1000 addresses (then annotated over-capacity).
//   - MirroringController copies user-managed Endpoints of selector-less
//     Services into EndpointSlices managed by
//     endpointslicemirroring-controller.k8s.io; Endpoints labelled
//     endpointslice.kubernetes.io/skip-mirror=true (the apiserver's own
//     default/kubernetes) are not mirrored.
//
// Each controller's handlers only enqueue the Service (or Endpoints) key;
// Sync reads listers, computes the wanted objects and writes the
// difference. Run registers handlers, waits for caches, runs workers until
// the context ends and waits for them.
package endpointslice
