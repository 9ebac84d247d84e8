package encryption_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/encryption"
	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/storagetest"
)

var secretsGR = schema.GroupResource{Resource: "secrets"}

func configWith(t *testing.T, providers string) *encryption.Transformers {
	t.Helper()
	cfg, err := encryption.Parse([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" + providers))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := encryption.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func aescbc(names ...string) string {
	s := "  - aescbc:\n      keys:\n"
	for _, n := range names {
		s += "      - name: " + n + "\n        secret: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(n[:1]), 32)) + "\n"
	}
	return s
}

func startStore(t *testing.T, client *clientv3.Client, ts *encryption.Transformers) (*storage.Store, storage.Resource) {
	t.Helper()
	s, err := storage.New(storage.Config{Client: client, CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Register(storage.ResourceConfig{
		GroupResource: secretsGR,
		GVK:           corev1.SchemeGroupVersion.WithKind("Secret"),
		Namespaced:    true,
		New:           func() runtime.Object { return &corev1.Secret{} },
		Transformer:   ts.For(secretsGR),
	})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, res
}

func raw(t *testing.T, client *clientv3.Client) []byte {
	t.Helper()
	resp, err := client.Get(context.Background(), "/registry/core/secrets/default/s")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get: %v %v", resp, err)
	}
	return resp.Kvs[0].Value
}

func TestStorageEncryptsAndRotates(t *testing.T) {
	ctx := context.Background()
	client := storagetest.StartEtcd(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"}, Data: map[string][]byte{"password": []byte("hunter2-very-secret")}}

	// 1. Encrypt with "a".
	s, res := startStore(t, client, configWith(t, aescbc("a")+"  - identity: {}\n"))
	if _, err := res.Create(ctx, "default", "s", secret); err != nil {
		t.Fatal(err)
	}
	v := raw(t, client)
	if !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:a:")) || bytes.Contains(v, []byte("hunter2")) {
		t.Fatalf("etcd holds %q; want it encrypted with key a", v[:min(40, len(v))])
	}
	s.Stop()

	// 2. Key "b" first, "a" still readable: reads work; an unchanged update
	// re-encrypts with "b".
	_, res = startStore(t, client, configWith(t, aescbc("b", "a")))
	for _, rv := range []string{"", "0"} {
		got, err := res.Get(ctx, "default", "s", storage.GetOptions{ResourceVersion: rv})
		if err != nil || string(got.(*corev1.Secret).Data["password"]) != "hunter2-very-secret" {
			t.Fatalf("get rv=%q: %v %v", rv, got, err)
		}
	}
	if _, err := res.Update(ctx, "default", "s", func(cur runtime.Object) (runtime.Object, error) { return cur, nil }); err != nil {
		t.Fatal(err)
	}
	if v := raw(t, client); !bytes.HasPrefix(v, []byte("k8s:enc:aescbc:v1:b:")) {
		t.Fatalf("after rewrite etcd holds %q; want key b", v[:min(40, len(v))])
	}
}
