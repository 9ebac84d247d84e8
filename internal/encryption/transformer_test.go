package encryption

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
	b64  = base64.StdEncoding.EncodeToString
)

const secretKey = "/registry/core/secrets/default/s1"

var secrets = schema.GroupResource{Resource: "secrets"}

func mustBuild(t *testing.T, yml string) *Transformers {
	t.Helper()
	cfg, err := Parse([]byte(yml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ts, err := Build(cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return ts
}

func config(providers string) string {
	return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" + providers
}

func keys(provider string, ks ...[]byte) string {
	s := "  - " + provider + ":\n      keys:\n"
	for _, k := range ks {
		// Keys are named by their first byte: key1 is "k1" wherever it is.
		s += "      - name: k" + string(rune('0'+k[0])) + "\n        secret: " + b64(k) + "\n"
	}
	return s
}

// openUpstream decodes a stored value following the documented upstream
// format directly with the standard library, independently of the code
// under test.
func openUpstream(t *testing.T, provider string, k []byte, stored []byte, etcdKey string) []byte {
	t.Helper()
	switch provider {
	case "aescbc":
		block, _ := aes.NewCipher(k)
		iv, body := stored[:16], bytes.Clone(stored[16:])
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
		return body[:len(body)-int(body[len(body)-1])]
	case "aesgcm":
		block, _ := aes.NewCipher(k)
		aead, _ := cipher.NewGCM(block)
		out, err := aead.Open(nil, stored[:12], stored[12:], []byte(etcdKey))
		if err != nil {
			t.Fatalf("upstream gcm open: %v", err)
		}
		return out
	case "secretbox":
		var nonce [24]byte
		var kk [32]byte
		copy(nonce[:], stored)
		copy(kk[:], k)
		out, ok := secretbox.Open(nil, stored[24:], &nonce, &kk)
		if !ok {
			t.Fatal("upstream secretbox open failed")
		}
		return out
	}
	t.Fatalf("unknown provider %s", provider)
	return nil
}

func TestRoundTripUpstreamFormat(t *testing.T) {
	for _, provider := range []string{"aescbc", "aesgcm", "secretbox"} {
		for _, plain := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("k8s"), 100), bytes.Repeat([]byte{0}, 16)} {
			t.Run(provider, func(t *testing.T) {
				tr := mustBuild(t, config(keys(provider, key1))).For(secrets)
				stored, err := tr.TransformToStorage(plain, secretKey)
				if err != nil {
					t.Fatal(err)
				}
				prefix := "k8s:enc:" + provider + ":v1:k1:"
				if !bytes.HasPrefix(stored, []byte(prefix)) {
					t.Fatalf("stored value starts %q; want prefix %q", stored[:min(len(stored), 30)], prefix)
				}
				if bytes.Contains(stored, plain) && len(plain) > 8 {
					t.Fatal("stored value contains the plain text")
				}
				if got := openUpstream(t, provider, key1, stored[len(prefix):], secretKey); !bytes.Equal(got, plain) {
					t.Fatalf("upstream decoding = %q; want %q", got, plain)
				}
				got, stale, err := tr.TransformFromStorage(stored, secretKey)
				if err != nil || stale || !bytes.Equal(got, plain) {
					t.Fatalf("TransformFromStorage = %q, %v, %v; want %q, false, nil", got, stale, err, plain)
				}
			})
		}
	}
}

func TestRotation(t *testing.T) {
	plain := []byte("hello")
	tests := []struct {
		name      string
		write     string // config that wrote the value
		read      string // config that reads it
		wantStale bool
		wantErr   error
	}{
		{"same key", keys("aescbc", key1), keys("aescbc", key1), false, nil},
		{"old key second", keys("aescbc", key1), keys("aescbc", key2, key1), true, nil},
		{"old provider second", keys("aescbc", key1), keys("secretbox", key2) + keys("aescbc", key1), true, nil},
		{"gcm old key second", keys("aesgcm", key1), keys("aesgcm", key2, key1), true, nil},
		{"old key removed", keys("aescbc", key1), keys("aescbc", key2), false, ErrNoMatchingPrefix},
		{"plain read by identity last", "  - identity: {}\n", keys("aescbc", key1) + "  - identity: {}\n", true, nil},
		{"plain without identity", "  - identity: {}\n", keys("aescbc", key1), false, ErrNoMatchingPrefix},
		{"encrypted read past identity first", keys("aescbc", key1), "  - identity: {}\n" + keys("aescbc", key1), true, nil},
		{"encrypted, identity only", keys("aescbc", key1), "  - identity: {}\n", false, ErrNoMatchingPrefix},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored, err := mustBuild(t, config(tc.write)).For(secrets).TransformToStorage(plain, secretKey)
			if err != nil {
				t.Fatal(err)
			}
			got, stale, err := mustBuild(t, config(tc.read)).For(secrets).TransformFromStorage(stored, secretKey)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || stale != tc.wantStale || !bytes.Equal(got, plain) {
				t.Fatalf("got %q, stale %v, err %v; want %q, stale %v", got, stale, err, plain, tc.wantStale)
			}
		})
	}
}

func TestTamperAndKeyBinding(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		readKey string
		mangle  func([]byte) []byte
		wantErr bool
	}{
		{"gcm other etcd key", keys("aesgcm", key1), "/registry/core/secrets/default/s2", nil, true},
		{"gcm flipped bit", keys("aesgcm", key1), secretKey, flipLast, true},
		{"secretbox flipped bit", keys("secretbox", key1), secretKey, flipLast, true},
		{"cbc truncated", keys("aescbc", key1), secretKey, func(b []byte) []byte { return b[:len(b)-1] }, true},
		{"cbc is not bound to its key (as upstream)", keys("aescbc", key1), "/registry/core/secrets/default/s2", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustBuild(t, config(tc.cfg)).For(secrets)
			stored, err := tr.TransformToStorage([]byte("payload"), secretKey)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mangle != nil {
				stored = tc.mangle(stored)
			}
			_, _, err = tr.TransformFromStorage(stored, tc.readKey)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v; want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "payload") {
				t.Fatalf("error leaks plain text: %v", err)
			}
		})
	}
}

func flipLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 1
	return b
}

func TestFor(t *testing.T) {
	ts := mustBuild(t, `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets, deployments.apps]
  providers: [{aescbc: {keys: [{name: a, secret: `+b64(key1)+`}]}}]
- resources: ["*.apps"]
  providers: [{secretbox: {keys: [{name: b, secret: `+b64(key1)+`}]}}]
- resources: ["*."]
  providers: [{aesgcm: {keys: [{name: c, secret: `+b64(key1)+`}]}}]
- resources: ["*.*"]
  providers: [{identity: {}}]
`)
	tests := []struct {
		gr   schema.GroupResource
		want string // prefix of a stored value; "" = plain
	}{
		{schema.GroupResource{Resource: "secrets"}, "k8s:enc:aescbc:v1:a:"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "k8s:enc:aescbc:v1:a:"},
		{schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "k8s:enc:secretbox:v1:b:"},
		{schema.GroupResource{Resource: "configmaps"}, "k8s:enc:aesgcm:v1:c:"},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.gr.String(), func(t *testing.T) {
			out, err := ts.For(tc.gr).TransformToStorage([]byte("{}"), "/k")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && string(out) != "{}" || !bytes.HasPrefix(out, []byte(tc.want)) {
				t.Fatalf("stored %q; want prefix %q", out, tc.want)
			}
		})
	}
	if got := mustBuild(t, config(keys("aescbc", key1))).For(schema.GroupResource{Resource: "configmaps"}); got != nil {
		t.Fatalf("For(unconfigured) = %v; want nil", got)
	}
	var none *Transformers
	if got := none.For(secrets); got != nil {
		t.Fatalf("nil Transformers.For = %v; want nil", got)
	}
}

func TestInvalidConfig(t *testing.T) {
	short := b64(bytes.Repeat([]byte{1}, 10))
	tests := []struct {
		name string
		yml  string
		want error
	}{
		{"wrong kind", "apiVersion: apiserver.config.k8s.io/v1\nkind: Other\nresources: []\n", ErrInvalidConfig},
		{"unknown field", config("  - identity: {}\n") + "extra: 1\n", ErrInvalidConfig},
		{"no resources", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n", ErrInvalidConfig},
		{"no providers", config("  []\n"), ErrInvalidConfig},
		{"two in one provider", config("  - {identity: {}, aescbc: {keys: [{name: a, secret: " + b64(key1) + "}]}}\n"), ErrInvalidConfig},
		{"short key", config("  - aescbc: {keys: [{name: a, secret: " + short + "}]}\n"), ErrInvalidConfig},
		{"secretbox 16 bytes", config("  - secretbox: {keys: [{name: a, secret: " + b64(key1[:16]) + "}]}\n"), ErrInvalidConfig},
		{"bad base64", config("  - aesgcm: {keys: [{name: a, secret: '!!'}]}\n"), ErrInvalidConfig},
		{"duplicate key name", config("  - aesgcm: {keys: [{name: a, secret: " + b64(key1) + "}, {name: a, secret: " + b64(key2) + "}]}\n"), ErrInvalidConfig},
		{"empty key name", config("  - aesgcm: {keys: [{name: '', secret: " + b64(key1) + "}]}\n"), ErrInvalidConfig},
		{"no keys", config("  - aesgcm: {keys: []}\n"), ErrInvalidConfig},
		{"kms", config("  - kms: {name: vault, endpoint: unix:///kms.sock}\n"), ErrUnsupportedProvider},
		{"masked by wildcard", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- {resources: ['*.*'], providers: [{identity: {}}]}\n- {resources: [secrets], providers: [{identity: {}}]}\n", ErrInvalidConfig},
		{"bad resource", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- {resources: ['Secrets'], providers: [{identity: {}}]}\n", ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yml))
			if err == nil {
				_, err = Build(cfg)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
		})
	}
}
