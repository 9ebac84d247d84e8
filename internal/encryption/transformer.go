package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Transformer transforms one resource's values to and from etcd; it has
// the method set of storage.Transformer, so it can be assigned to
// storage.ResourceConfig.Transformer. key is the full etcd key.
type Transformer interface {
	TransformToStorage(data []byte, key string) ([]byte, error)
	TransformFromStorage(data []byte, key string) (out []byte, stale bool, err error)
}

// encPrefix starts every encrypted value; identity refuses to read it.
const encPrefix = "k8s:enc:"

// sealer encrypts and decrypts a value without its prefix.
type sealer interface {
	seal(plain []byte, key string) ([]byte, error)
	open(sealed []byte, key string) ([]byte, error)
}

// step is one (provider, key): values written by it start with prefix.
type step struct {
	prefix []byte // empty for identity
	sealer sealer // nil for identity
}

// chain is the Transformer of one resource: steps[0] writes, every step
// reads the values with its prefix.
type chain struct {
	steps []step
}

var _ Transformer = (*chain)(nil)

// TransformToStorage writes data with the first provider's first key.
func (c *chain) TransformToStorage(data []byte, key string) ([]byte, error) {
	w := c.steps[0]
	if w.sealer == nil {
		return bytes.Clone(data), nil
	}
	sealed, err := w.sealer.seal(data, key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(w.prefix)+len(sealed))
	return append(append(out, w.prefix...), sealed...), nil
}

// TransformFromStorage reads data with the first step whose prefix it
// carries; stale unless that is the writing step.
func (c *chain) TransformFromStorage(data []byte, key string) ([]byte, bool, error) {
	for i, s := range c.steps {
		if s.sealer == nil {
			if bytes.HasPrefix(data, []byte(encPrefix)) {
				// Identity never reads encrypted data; a later provider may.
				continue
			}
			return bytes.Clone(data), i != 0, nil
		}
		if !bytes.HasPrefix(data, s.prefix) {
			continue
		}
		out, err := s.sealer.open(data[len(s.prefix):], key)
		if err != nil {
			return nil, false, fmt.Errorf("encryption: %s: %w", bytes.TrimSuffix(s.prefix, []byte(":")), err)
		}
		return out, i != 0, nil
	}
	if bytes.HasPrefix(data, []byte(encPrefix)) {
		return nil, false, fmt.Errorf("%w: value starts with %q", ErrNoMatchingPrefix, prefixOf(data))
	}
	return nil, false, fmt.Errorf("%w: value is not encrypted and identity is not a provider", ErrNoMatchingPrefix)
}

// prefixOf returns "k8s:enc:<provider>:<version>:<key>:" of an encrypted
// value, for error messages (never any of the ciphertext).
func prefixOf(data []byte) []byte {
	n := 0
	for i, b := range data {
		if b == ':' {
			if n++; n == 5 {
				return data[:i+1]
			}
		}
	}
	return []byte(encPrefix)
}

// ----- AES-CBC -----

type cbcSealer struct{ block cipher.Block }

var errShort = errors.New("stored data is shorter than the required size")

func (c cbcSealer) seal(plain []byte, _ string) ([]byte, error) {
	bs := aes.BlockSize
	pad := bs - len(plain)%bs
	out := make([]byte, bs+len(plain)+pad)
	iv := out[:bs]
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	body := out[bs:]
	copy(body, plain)
	for i := len(plain); i < len(body); i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(body, body)
	return out, nil
}

func (c cbcSealer) open(sealed []byte, _ string) ([]byte, error) {
	bs := aes.BlockSize
	if len(sealed) < 2*bs {
		return nil, errShort
	}
	if len(sealed)%bs != 0 {
		return nil, errors.New("stored data is not a multiple of the block size")
	}
	out := make([]byte, len(sealed)-bs)
	cipher.NewCBCDecrypter(c.block, sealed[:bs]).CryptBlocks(out, sealed[bs:])
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, errors.New("invalid PKCS#7 padding")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("invalid PKCS#7 padding")
		}
	}
	return out[:len(out)-pad], nil
}

// ----- AES-GCM -----

// gcmSealer binds every value to its etcd key (GCM additional data), so a
// value copied under another key fails to open.
type gcmSealer struct{ aead cipher.AEAD }

func (g gcmSealer) seal(plain []byte, key string) ([]byte, error) {
	ns := g.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+g.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return g.aead.Seal(out, out[:ns], plain, []byte(key)), nil
}

func (g gcmSealer) open(sealed []byte, key string) ([]byte, error) {
	ns := g.aead.NonceSize()
	if len(sealed) < ns {
		return nil, errShort
	}
	return g.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(key))
}

// ----- secretbox -----

type boxSealer struct{ key [32]byte }

const boxNonceSize = 24

func (s boxSealer) seal(plain []byte, _ string) ([]byte, error) {
	var nonce [boxNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	return secretbox.Seal(nonce[:], plain, &nonce, &s.key), nil
}

func (s boxSealer) open(sealed []byte, _ string) ([]byte, error) {
	if len(sealed) < boxNonceSize {
		return nil, errShort
	}
	var nonce [boxNonceSize]byte
	copy(nonce[:], sealed)
	out, ok := secretbox.Open(nil, sealed[boxNonceSize:], &nonce, &s.key)
	if !ok {
		return nil, errors.New("secretbox: message authentication failed")
	}
	return out, nil
}

// ----- building -----

// providerSteps returns the steps of one provider, its first key first.
func providerSteps(p ProviderConfiguration) ([]step, error) {
	set := 0
	for _, ok := range []bool{p.AESGCM != nil, p.AESCBC != nil, p.Secretbox != nil, p.Identity != nil, p.KMS != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, invalid("each provider must set exactly one of aesgcm, aescbc, secretbox, identity, kms; got %d", set)
	}
	var steps []step
	switch {
	case p.Identity != nil:
		return []step{{}}, nil
	case p.KMS != nil:
		return nil, fmt.Errorf("%w: kms (%q)", ErrUnsupportedProvider, p.KMS.Name)
	case p.AESCBC != nil:
		keys, err := decodeKeys("aescbc", p.AESCBC.Keys, 16, 24, 32)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			block, err := aes.NewCipher(k)
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{prefix: []byte("k8s:enc:aescbc:v1:" + p.AESCBC.Keys[i].Name + ":"), sealer: cbcSealer{block}})
		}
	case p.AESGCM != nil:
		keys, err := decodeKeys("aesgcm", p.AESGCM.Keys, 16, 24, 32)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			block, err := aes.NewCipher(k)
			if err != nil {
				return nil, err
			}
			aead, err := cipher.NewGCM(block)
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{prefix: []byte("k8s:enc:aesgcm:v1:" + p.AESGCM.Keys[i].Name + ":"), sealer: gcmSealer{aead}})
		}
	case p.Secretbox != nil:
		keys, err := decodeKeys("secretbox", p.Secretbox.Keys, 32)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			s := boxSealer{}
			copy(s.key[:], k)
			steps = append(steps, step{prefix: []byte("k8s:enc:secretbox:v1:" + p.Secretbox.Keys[i].Name + ":"), sealer: s})
		}
	}
	return steps, nil
}

// Transformers maps resources to the Transformer that encrypts them.
type Transformers struct {
	// byResource is keyed by schema.GroupResource where Resource or Group
	// may be "*"; see For for the lookup order.
	byResource map[schema.GroupResource]*chain
}

// Build checks cfg and builds its transformers. A resource named by more
// than one entry, or covered by an earlier wildcard, is an error (upstream
// refuses such masked entries too).
func Build(cfg *EncryptionConfiguration) (*Transformers, error) {
	t := &Transformers{byResource: map[schema.GroupResource]*chain{}}
	if len(cfg.Resources) == 0 {
		return nil, invalid("resources must not be empty")
	}
	for i, rc := range cfg.Resources {
		if len(rc.Resources) == 0 {
			return nil, invalid("resources[%d].resources must not be empty", i)
		}
		if len(rc.Providers) == 0 {
			return nil, invalid("resources[%d].providers must not be empty", i)
		}
		c := &chain{}
		for _, p := range rc.Providers {
			steps, err := providerSteps(p)
			if err != nil {
				return nil, fmt.Errorf("resources[%d]: %w", i, err)
			}
			c.steps = append(c.steps, steps...)
		}
		for _, s := range rc.Resources {
			group, resource, err := parseResource(s)
			if err != nil {
				return nil, err
			}
			gr := schema.GroupResource{Group: group, Resource: resource}
			if prev := t.lookup(gr); prev != nil {
				return nil, invalid("resources[%d]: %q is masked by an earlier entry", i, s)
			}
			t.byResource[gr] = c
		}
	}
	return t, nil
}

// lookup finds the chain for gr: exact, then "*.group", then "*.*".
func (t *Transformers) lookup(gr schema.GroupResource) *chain {
	for _, k := range []schema.GroupResource{gr, {Group: gr.Group, Resource: "*"}, {Group: "*", Resource: "*"}} {
		if c := t.byResource[k]; c != nil {
			return c
		}
	}
	return nil
}

// For returns the Transformer for a resource, or nil when the resource is
// not configured (stored in plain text). t may be nil.
func (t *Transformers) For(gr schema.GroupResource) Transformer {
	if t == nil {
		return nil
	}
	if c := t.lookup(gr); c != nil {
		return c
	}
	return nil
}
