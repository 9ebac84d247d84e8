// Package validation checks objects of every kind Skiff serves the way the
// upstream API server does, before they are stored.
//
// ValidateCreate runs on a new object after defaulting and name generation;
// ValidateUpdate runs on the new version of an object against the stored
// one, and includes every create check on the new object plus the rules
// about what may not change (metadata.uid, metadata.name, a Deployment's
// selector, a Pod's spec, ...); ValidateStatusUpdate runs on writes to the
// status subresource and checks metadata and status. Each returns a
// field.ErrorList whose paths ("spec.containers[0].image"), types (Required,
// Invalid, NotSupported, Duplicate, Forbidden, TooLong, ...) and messages
// follow upstream's as closely as practical, so that the API server can turn
// them into a 422 Invalid status with apierrors.NewInvalid(kind, name, errs).
//
// Updates do not require metadata.resourceVersion: optimistic concurrency
// is checked by the API server and storage, and an unconditional update
// legitimately arrives without one.
//
// Objects of unknown types get metadata-only validation with a DNS-1123
// subdomain name; their scope is then taken from whether they carry a
// namespace. Validation never mutates its arguments. The package holds no
// state and starts nothing; it is safe for concurrent use.
package validation
