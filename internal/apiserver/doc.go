// Package apiserver serves the Kubernetes REST API over HTTP: routing,
// discovery, content negotiation (JSON, YAML, protobuf, Table,
// PartialObjectMetadata), the CRUD, watch and patch verbs, and the status
// and scale subresources. Objects live in internal/storage; per-kind
// behaviour (defaulting, validation, selectable fields, tables) comes from
// internal/resources.
//
// An APIServer is built by New and is an http.Handler; it starts no
// goroutines of its own. Long-running requests (watches) end when the
// request context is cancelled, which the HTTP server does at shutdown.
package apiserver
