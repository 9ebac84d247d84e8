// Package encryption encrypts API objects at rest, configured by the file
// named by --encryption-provider-config in upstream's format
// (apiVersion apiserver.config.k8s.io/v1, kind EncryptionConfiguration).
//
// # What it owns
//
// Load and Parse read the configuration; Build turns it into Transformers,
// which hand the storage layer one storage.Transformer per resource
// (Transformers.For). Values are stored exactly as upstream stores them,
// so an etcd written by either can be read by the other given the same
// keys (Skiff's etcd key layout differs, so AES-GCM values, which are bound
// to their key, only move between servers that agree on keys):
//
//	aescbc     k8s:enc:aescbc:v1:<key name>:    IV(16) | AES-CBC(PKCS#7 padded data)
//	aesgcm     k8s:enc:aesgcm:v1:<key name>:    nonce(12) | AES-GCM seal, etcd key as additional data
//	secretbox  k8s:enc:secretbox:v1:<key name>: nonce(24) | NaCl secretbox
//	identity   the plain value, no prefix
//
// The first key of the first provider encrypts every write. Reads pick the
// provider and key by prefix, trying them in order; a value read by
// anything but the first is "stale" and storage rewrites it on the next
// update, even an unchanged one. That is how keys are rotated:
//
//  1. add the new key second in the list, restart every server (all can read it);
//  2. move it first, restart (all write it);
//  3. rewrite every object: `skiff secrets-encrypt reencrypt` (or upstream's
//     `kubectl get secrets -A -o json | kubectl replace -f -`);
//  4. remove the old key, restart.
//
// As upstream, data stored in plain text can only be read while identity is
// one of the providers, and AES-GCM keys must be rotated well before 2^32
// writes (random 96-bit nonces). KMS providers are refused
// (ErrUnsupportedProvider).
//
// # Concurrency
//
// Transformers and every Transformer are immutable after Build and safe for
// concurrent use. Nothing here starts goroutines.
package encryption
