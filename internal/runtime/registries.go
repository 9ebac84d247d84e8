package runtime

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Registries is k3s's registries.yaml: registry mirrors and per-registry
// credentials and TLS settings, which the agent translates into the
// configuration of the containerd it starts (Config and WriteHostsDir).
//
//	mirrors:
//	  docker.io:
//	    endpoint: ["https://mirror.example.com:5000"]
//	  "*":                       # every registry (containerd 1.7+)
//	    endpoint: ["http://127.0.0.1:5000"]
//	configs:
//	  mirror.example.com:5000:
//	    auth: {username: u, password: p}   # or auth:, identitytoken:
//	    tls: {ca_file: /etc/ssl/ca.pem, cert_file: c.pem, key_file: k.pem, insecure_skip_verify: false}
//
// Mirrors are tried in order, then the registry itself. Configs are
// keyed by the host (and port) they apply to: a mirror endpoint's or a
// registry's own. Rewrites need k3s's patched containerd and are not
// applied (Translate warns).
type Registries struct {
	Mirrors map[string]Mirror         `json:"mirrors,omitempty"`
	Configs map[string]RegistryConfig `json:"configs,omitempty"`
}

// Mirror lists the endpoints to pull a registry's images from.
type Mirror struct {
	Endpoints []string          `json:"endpoint,omitempty"`
	Rewrites  map[string]string `json:"rewrite,omitempty"`
}

// RegistryConfig holds the credentials and TLS settings for one host.
type RegistryConfig struct {
	Auth *RegistryAuth `json:"auth,omitempty"`
	TLS  *RegistryTLS  `json:"tls,omitempty"`
}

// RegistryAuth is a registry login: a user name and password, their
// base64 "user:password" (auth), or an identity token.
type RegistryAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// RegistryTLS is the TLS client configuration for one host.
type RegistryTLS struct {
	CAFile             string `json:"ca_file,omitempty"`
	CertFile           string `json:"cert_file,omitempty"`
	KeyFile            string `json:"key_file,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// ErrRegistries wraps every problem with a registries.yaml.
var ErrRegistries = errors.New("runtime: registries.yaml")

// RegistriesPaths are where the agent looks for registries.yaml, in
// order: DATA-DIR/registries.yaml, then /etc/skiff/registries.yaml.
func RegistriesPaths(dataDir string) []string {
	return []string{filepath.Join(dataDir, "registries.yaml"), "/etc/skiff/registries.yaml"}
}

// LoadRegistries reads the first of paths that exists; with none it
// returns nil and "".
func LoadRegistries(paths []string) (*Registries, string, error) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, p, fmt.Errorf("%w: %v", ErrRegistries, err)
		}
		r, err := ParseRegistries(data)
		return r, p, err
	}
	return nil, "", nil
}

// ParseRegistries parses a registries.yaml and checks its endpoints.
func ParseRegistries(data []byte) (*Registries, error) {
	var r Registries
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistries, err)
	}
	for name, m := range r.Mirrors {
		for _, e := range m.Endpoints {
			if _, err := endpointURL(e); err != nil {
				return nil, fmt.Errorf("%w: mirror %q: %v", ErrRegistries, name, err)
			}
		}
	}
	return &r, nil
}

// endpointURL parses a mirror endpoint; without a scheme it is https.
func endpointURL(e string) (*url.URL, error) {
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", e)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("endpoint %q has no host", e)
	}
	return u, nil
}

// defaultServer is the registry's own endpoint, tried after its mirrors.
func defaultServer(registry string) string {
	if registry == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return "https://" + registry
}

// hostsDirName is the certs.d directory of a registry ("*": _default).
func hostsDirName(registry string) string {
	if registry == "*" {
		return "_default"
	}
	// containerd looks up host:port as host_port_ on some platforms and
	// as is on Linux; a port colon is fine here.
	return registry
}

// config returns the settings for host, falling back to the "*" entry.
func (r *Registries) config(host string) (RegistryConfig, bool) {
	if c, ok := r.Configs[host]; ok {
		return c, true
	}
	c, ok := r.Configs["*"]
	return c, ok
}

// HostsFiles translates mirrors and TLS settings into containerd's
// hosts.toml files (config_path), by directory name under the hosts
// directory. Warnings name what containerd cannot express.
func (r *Registries) HostsFiles() (files map[string]string, warnings []string) {
	files = map[string]string{}
	if r == nil {
		return files, nil
	}
	registries := map[string]bool{}
	for name := range r.Mirrors {
		registries[name] = true
	}
	for name := range r.Configs {
		if name != "*" && r.Configs[name].TLS != nil {
			registries[name] = true
		}
	}
	names := make([]string, 0, len(registries))
	for n := range registries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		var b strings.Builder
		m := r.Mirrors[name]
		if len(m.Rewrites) > 0 {
			warnings = append(warnings, fmt.Sprintf("mirror %q: rewrite needs k3s's containerd and is ignored", name))
		}
		if name != "*" {
			server := defaultServer(name)
			fmt.Fprintf(&b, "server = %s\n", tomlString(server))
			if c, ok := r.Configs[name]; ok {
				writeTLS(&b, "", c.TLS)
			}
		}
		for _, e := range m.Endpoints {
			u, _ := endpointURL(e) // checked by ParseRegistries
			key := u.Scheme + "://" + u.Host
			override := u.Path != "" && u.Path != "/"
			if override {
				key += strings.TrimSuffix(u.Path, "/")
			}
			fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(key))
			b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
			if override {
				b.WriteString("  override_path = true\n")
			}
			if c, ok := r.config(u.Host); ok {
				writeTLS(&b, "  ", c.TLS)
			}
		}
		files[hostsDirName(name)] = b.String()
	}
	if len(r.Mirrors["*"].Endpoints) > 0 {
		warnings = append(warnings, `mirror "*" (directory _default) needs containerd 1.7 or newer`)
	}
	if c, ok := r.Configs["*"]; ok && c.Auth != nil {
		warnings = append(warnings, `configs "*": containerd takes credentials per host only; the auth is used for none`)
	}
	return files, warnings
}

func writeTLS(b *strings.Builder, indent string, t *RegistryTLS) {
	if t == nil {
		return
	}
	if t.CAFile != "" {
		fmt.Fprintf(b, "%sca = %s\n", indent, tomlString(t.CAFile))
	}
	if t.CertFile != "" {
		if t.KeyFile != "" {
			fmt.Fprintf(b, "%sclient = [[%s, %s]]\n", indent, tomlString(t.CertFile), tomlString(t.KeyFile))
		} else {
			fmt.Fprintf(b, "%sclient = %s\n", indent, tomlString(t.CertFile))
		}
	}
	if t.InsecureSkipVerify {
		fmt.Fprintf(b, "%sskip_verify = true\n", indent)
	}
}

// criAuthConfig is the config.toml section holding each host's
// credentials (containerd reads them by the host it contacts).
func (r *Registries) criAuthConfig() string {
	if r == nil {
		return ""
	}
	hosts := make([]string, 0, len(r.Configs))
	for h, c := range r.Configs {
		if h != "*" && c.Auth != nil {
			hosts = append(hosts, h)
		}
	}
	sort.Strings(hosts)
	var b strings.Builder
	for _, h := range hosts {
		a := r.Configs[h].Auth
		fmt.Fprintf(&b, "\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.%s.auth]\n", tomlString(h))
		for _, kv := range [][2]string{{"username", a.Username}, {"password", a.Password}, {"auth", a.Auth}, {"identitytoken", a.IdentityToken}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "    %s = %s\n", kv[0], tomlString(kv[1]))
			}
		}
	}
	return b.String()
}

// WriteHostsDir replaces dir's contents with r's hosts.toml files.
func (r *Registries) WriteHostsDir(dir string) ([]string, error) {
	files, warnings := r.HostsFiles()
	if err := os.RemoveAll(dir); err != nil {
		return warnings, fmt.Errorf("runtime: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return warnings, fmt.Errorf("runtime: %w", err)
	}
	for name, content := range files {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return warnings, fmt.Errorf("runtime: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(content), 0o600); err != nil {
			return warnings, fmt.Errorf("runtime: %w", err)
		}
	}
	return warnings, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
