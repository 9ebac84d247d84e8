// Package fieldsel knows, per served kind, which fields a field selector may
// name and what those fields hold on a given object.
//
// There are two halves, mirroring how a Kubernetes API server treats
// ?fieldSelector=:
//
//   - Request side: ConvertSelector (and ValidateSelector) check every
//     requirement of a selector against the kind the request names, rewrite
//     legacy or version-specific labels to their canonical form (Pod
//     spec.host -> spec.nodeName; events.k8s.io regarding.name ->
//     involvedObject.name) and reject unknown labels with a 400 BadRequest
//     carrying upstream's message.
//   - Object side: Fields (and Attrs, the storage layer's hook) return an
//     object's selectable fields under their canonical labels. A selector
//     that passed ConvertSelector is matched against this set.
//
// The two halves can disagree exactly where upstream's do: an accepted
// label that no object sets (Pod status.podIPs) matches only the empty
// value, and a field an object sets but no request may name (ReplicaSet
// status.replicas, apps/v1 registering no field label conversion) is
// unreachable.
//
// The package holds only immutable tables; all functions are safe for
// concurrent use. Returned sets and slices belong to the caller.
package fieldsel
