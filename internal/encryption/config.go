package encryption

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// The configuration's API version and kind, as upstream names them.
const (
	APIVersion = "apiserver.config.k8s.io/v1"
	Kind       = "EncryptionConfiguration"
)

// Sentinel errors.
var (
	// ErrInvalidConfig wraps every problem found in a configuration file.
	ErrInvalidConfig = errors.New("encryption: invalid configuration")
	// ErrUnsupportedProvider is returned for KMS providers, which Skiff
	// does not implement.
	ErrUnsupportedProvider = errors.New("encryption: unsupported provider")
	// ErrNoMatchingPrefix is returned when no provider can read a value.
	ErrNoMatchingPrefix = errors.New("encryption: no matching prefix found")
)

// EncryptionConfiguration is upstream's apiserver.config.k8s.io/v1
// EncryptionConfiguration.
type EncryptionConfiguration struct {
	APIVersion string                  `json:"apiVersion,omitempty"`
	Kind       string                  `json:"kind,omitempty"`
	Resources  []ResourceConfiguration `json:"resources"`
}

// ResourceConfiguration lists resources ("secrets", "deployments.apps",
// "*.apps", "*." for the core group, "*.*" for everything) and the
// providers that encrypt them.
type ResourceConfiguration struct {
	Resources []string                `json:"resources"`
	Providers []ProviderConfiguration `json:"providers"`
}

// ProviderConfiguration sets exactly one provider.
type ProviderConfiguration struct {
	AESGCM    *AESConfiguration       `json:"aesgcm,omitempty"`
	AESCBC    *AESConfiguration       `json:"aescbc,omitempty"`
	Secretbox *SecretboxConfiguration `json:"secretbox,omitempty"`
	Identity  *IdentityConfiguration  `json:"identity,omitempty"`
	KMS       *KMSConfiguration       `json:"kms,omitempty"`
}

// AESConfiguration holds the keys of an AES provider.
type AESConfiguration struct {
	Keys []Key `json:"keys"`
}

// SecretboxConfiguration holds the keys of a secretbox provider.
type SecretboxConfiguration struct {
	Keys []Key `json:"keys"`
}

// Key is a named key; Secret is its base64 (standard encoding) bytes.
type Key struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// IdentityConfiguration is the (empty) identity provider.
type IdentityConfiguration struct{}

// KMSConfiguration is parsed so the file is understood, but Build refuses it.
type KMSConfiguration struct {
	APIVersion string  `json:"apiVersion,omitempty"`
	Name       string  `json:"name"`
	CacheSize  *int32  `json:"cachesize,omitempty"`
	Endpoint   string  `json:"endpoint"`
	Timeout    *string `json:"timeout,omitempty"`
}

// Load reads and builds the configuration file at path.
func Load(path string) (*Transformers, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Build(cfg)
}

// Parse decodes a configuration in YAML or JSON; unknown fields are errors.
func Parse(data []byte) (*EncryptionConfiguration, error) {
	var cfg EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if cfg.APIVersion != APIVersion || cfg.Kind != Kind {
		return nil, fmt.Errorf("%w: got apiVersion %q kind %q, want %s %s", ErrInvalidConfig, cfg.APIVersion, cfg.Kind, APIVersion, Kind)
	}
	return &cfg, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// decodeKeys checks a provider's keys and returns their bytes.
func decodeKeys(provider string, keys []Key, sizes ...int) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, invalid("%s: keys must not be empty", provider)
	}
	seen := map[string]bool{}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if k.Name == "" {
			return nil, invalid("%s: keys[%d].name must not be empty", provider, i)
		}
		if seen[k.Name] {
			return nil, invalid("%s: key name %q is used more than once", provider, k.Name)
		}
		seen[k.Name] = true
		b, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, invalid("%s: key %q: secret is not valid base64: %v", provider, k.Name, err)
		}
		ok := false
		for _, n := range sizes {
			ok = ok || len(b) == n
		}
		if !ok {
			return nil, invalid("%s: key %q: secret is %d bytes, want one of %v", provider, k.Name, len(b), sizes)
		}
		out[i] = b
	}
	return out, nil
}

// parseResource turns "secrets", "deployments.apps", "*.apps", "*." or
// "*.*" into a (group, resource) pair; "*" is a wildcard in either.
func parseResource(s string) (group, resource string, err error) {
	if s == "" || s == "*" || strings.ToLower(s) != s {
		return "", "", invalid("resource %q: want a lower-case resource[.group], *.group, *. or *.*", s)
	}
	resource, group, _ = strings.Cut(s, ".")
	if resource == "" || (group == "*" && resource != "*") {
		return "", "", invalid("resource %q: want a lower-case resource[.group], *.group, *. or *.*", s)
	}
	return group, resource, nil
}
