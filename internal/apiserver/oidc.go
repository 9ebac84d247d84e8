package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"net/http"
	"strings"
)

// Service-account issuer discovery: the OpenID Connect metadata and the
// key set that verify service-account tokens, as upstream serves them at
// these two paths (authorized by system:service-account-issuer-discovery).
const (
	oidcConfigPath = "/.well-known/openid-configuration"
	oidcJWKSPath   = "/openid/v1/jwks"
	// oidcMaxAge is how long clients may cache either document.
	oidcMaxAge = "public, max-age=3600"
)

type openIDMetadata struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	ResponseTypes []string `json:"response_types_supported"`
	SubjectTypes  []string `json:"subject_types_supported"`
	SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
}

type jsonWebKey struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	Alg string `json:"alg"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

type jsonWebKeySet struct {
	Keys []jsonWebKey `json:"keys"`
}

// serveOIDC answers the two discovery paths; it reports false for others
// and when no token issuer is configured (the paths then 404 as any).
func (s *APIServer) serveOIDC(w http.ResponseWriter, r *http.Request) bool {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if (path != oidcConfigPath && path != oidcJWKSPath) || s.cfg.Tokens == nil {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, methodNotAllowed())
		return true
	}
	key := s.cfg.Tokens.PublicKey()
	jwk := ecJWK(key, s.cfg.Tokens.KeyID())
	w.Header().Set("Cache-Control", oidcMaxAge)
	if path == oidcJWKSPath {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(mustJSON(jsonWebKeySet{Keys: []jsonWebKey{jwk}}))
		return true
	}
	jwks := s.cfg.JWKSURI
	if jwks == "" {
		jwks = strings.TrimSuffix(s.cfg.Tokens.Issuer, "/") + oidcJWKSPath
	}
	w.Header().Set("Content-Type", mediaJSON)
	_, _ = w.Write(mustJSON(openIDMetadata{
		Issuer:        s.cfg.Tokens.Issuer,
		JWKSURI:       jwks,
		ResponseTypes: []string{"id_token"},
		SubjectTypes:  []string{"public"},
		SigningAlgs:   []string{jwk.Alg},
	}))
	return true
}

// ecJWK renders an ECDSA public key as a JSON web key.
func ecJWK(key *ecdsa.PublicKey, kid string) jsonWebKey {
	size := (key.Curve.Params().BitSize + 7) / 8
	crv, alg := "P-256", "ES256"
	switch key.Curve {
	case elliptic.P384():
		crv, alg = "P-384", "ES384"
	case elliptic.P521():
		crv, alg = "P-521", "ES512"
	}
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	return jsonWebKey{
		Use: "sig", Kty: "EC", Kid: kid, Crv: crv, Alg: alg,
		X: enc(key.X.FillBytes(make([]byte, size))), Y: enc(key.Y.FillBytes(make([]byte, size))),
	}
}
