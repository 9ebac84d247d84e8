// Package openapi builds and serves the API server's OpenAPI documents:
// the swagger 2.0 document at /openapi/v2 and the OpenAPI 3.0 index and
// per-group-version documents under /openapi/v3.
//
// The documents are derived from the Go types of the served kinds by
// reflection: definition names follow the Go package path as upstream does
// (k8s.io/api/core/v1.Pod → io.k8s.api.core.v1.Pod), properties follow the
// json tags, descriptions come from each type's SwaggerDoc, patch metadata
// from the patchStrategy and patchMergeKey tags, and the apimachinery types
// with a custom JSON form (Quantity, IntOrString, Time, ...) from the
// OpenAPISchemaType methods they implement. What upstream reads from comment
// markers (+optional, +listType, +listMapKey, +mapType, +structType) comes
// from markers_table.go, generated from the k8s.io/api sources by
// ./markergen (go generate). Paths and operations mirror
// upstream's, including the query parameters clients probe for
// (fieldValidation on PATCH tells kubectl the server validates fields).
//
// A Handler owns no goroutines. It builds every document once, on Warm or
// on the first request, keeps the serialized bytes and serves them
// concurrently; protobuf and gzip encodings are derived on first demand and
// cached too. Nothing is ever rebuilt: the served kinds are fixed at start.
package openapi
