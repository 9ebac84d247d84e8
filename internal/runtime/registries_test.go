package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRegistries(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"empty", "", ""},
		{"mirror without scheme", "mirrors:\n  docker.io:\n    endpoint: [mirror.local:5000]\n", ""},
		{"bad scheme", "mirrors:\n  docker.io:\n    endpoint: [\"ftp://mirror\"]\n", "scheme must be http or https"},
		{"not yaml", "mirrors: [", "registries.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRegistries([]byte(tt.yaml))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v; want error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRegistriesTranslation: k3s's examples become containerd's
// hosts.toml files (mirrors in order, the registry itself last, TLS per
// endpoint host) and config.toml credentials.
func TestRegistriesTranslation(t *testing.T) {
	r, err := ParseRegistries([]byte(`
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
      - "http://127.0.0.1:5001/v2/dockerhub"
  registry.example.com:
    endpoint: ["registry-mirror.example.com"]
    rewrite:
      "^library/(.*)": "mirrored/$1"
  "*":
    endpoint: ["http://cache.local"]
configs:
  mirror.example.com:5000:
    auth:
      username: user
      password: "pa\"ss"
    tls:
      ca_file: /etc/ssl/mirror-ca.pem
      cert_file: /etc/ssl/client.pem
      key_file: /etc/ssl/client-key.pem
  registry.example.com:
    tls:
      insecure_skip_verify: true
  private.example.com:
    auth:
      auth: dXNlcjpwYXNz
`))
	if err != nil {
		t.Fatal(err)
	}
	files, warnings := r.HostsFiles()
	want := map[string]string{
		"docker.io": `server = "https://registry-1.docker.io"

[host."https://mirror.example.com:5000"]
  capabilities = ["pull", "resolve"]
  ca = "/etc/ssl/mirror-ca.pem"
  client = [["/etc/ssl/client.pem", "/etc/ssl/client-key.pem"]]

[host."http://127.0.0.1:5001/v2/dockerhub"]
  capabilities = ["pull", "resolve"]
  override_path = true
`,
		"registry.example.com": `server = "https://registry.example.com"
skip_verify = true

[host."https://registry-mirror.example.com"]
  capabilities = ["pull", "resolve"]
`,
		// Pulled from directly, the mirror host gets its TLS settings too.
		"mirror.example.com:5000": `server = "https://mirror.example.com:5000"
ca = "/etc/ssl/mirror-ca.pem"
client = [["/etc/ssl/client.pem", "/etc/ssl/client-key.pem"]]
`,
		"_default": `
[host."http://cache.local"]
  capabilities = ["pull", "resolve"]
`,
	}
	if len(files) != len(want) {
		t.Errorf("files %v; want %d", keys(files), len(want))
	}
	for name, w := range want {
		if got := files[name]; got != w {
			t.Errorf("%s/hosts.toml:\n%s\nwant:\n%s", name, got, w)
		}
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "rewrite") || !strings.Contains(warnings[1], "containerd 1.7") {
		t.Errorf("warnings %q; want rewrite and _default ones", warnings)
	}

	c := NewContainerd(ContainerdConfig{Dir: "/var/lib/skiff/agent/containerd", Registries: r})
	cfg := c.Config()
	for _, w := range []string{
		`config_path = "/var/lib/skiff/agent/containerd/certs.d"`,
		"[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"mirror.example.com:5000\".auth]\n    username = \"user\"\n    password = \"pa\\\"ss\"\n",
		"[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"private.example.com\".auth]\n    auth = \"dXNlcjpwYXNz\"\n",
	} {
		if !strings.Contains(cfg, w) {
			t.Errorf("config.toml lacks\n%s\nin:\n%s", w, cfg)
		}
	}
	if strings.Contains(cfg, "registry.example.com\".auth") {
		t.Error("config.toml has credentials for a registry without auth")
	}

	dir := filepath.Join(t.TempDir(), "certs.d")
	if err := os.MkdirAll(filepath.Join(dir, "stale.example.com"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WriteHostsDir(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "docker.io", "hosts.toml"))
	if err != nil || string(got) != want["docker.io"] {
		t.Errorf("written docker.io/hosts.toml = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.example.com")); !os.IsNotExist(err) {
		t.Errorf("a registry no longer configured keeps its directory: %v", err)
	}
}

// TestNoRegistries: without registries.yaml containerd still has a
// (empty) hosts directory and pulls from each registry directly.
func TestNoRegistries(t *testing.T) {
	var r *Registries
	if files, warnings := r.HostsFiles(); len(files) != 0 || len(warnings) != 0 {
		t.Errorf("nil registries: %v %v", files, warnings)
	}
	cfg := NewContainerd(ContainerdConfig{Dir: "/d"}).Config()
	if !strings.Contains(cfg, `config_path = "/d/certs.d"`) || strings.Contains(cfg, ".auth]") {
		t.Errorf("config without registries:\n%s", cfg)
	}
	got, file, err := LoadRegistries([]string{filepath.Join(t.TempDir(), "none.yaml")})
	if got != nil || file != "" || err != nil {
		t.Errorf("LoadRegistries of a missing file = %v %q %v; want nothing", got, file, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
