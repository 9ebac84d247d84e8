package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Security configuration of the e2e server, written by securityFlags
// before it starts.
var (
	secDataDir   string // the server's --data-dir
	auditLogPath string // --audit-log-path
)

// tokenUser is one line of the --token-auth-file.
type tokenUser struct{ token, name, uid, groups string }

var tokenUsers = map[string]tokenUser{
	"alice": {"alice-e2e-token", "alice", "1001", "dev"},
	"bob":   {"bob-e2e-token", "bob", "1002", "dev"},
	"carol": {"carol-e2e-token", "carol", "1003", ""},
	"n1":    {"n1-e2e-token", "system:node:n1", "2001", "system:nodes"},
	"n2":    {"n2-e2e-token", "system:node:n2", "2002", "system:nodes"},
}

// auditedNamespace is where secrets are audited at RequestResponse.
const auditedNamespace = "audited"

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-controller-manager", "system:kube-scheduler"]
- level: RequestResponse
  resources: [{group: "", resources: ["secrets"]}]
  namespaces: ["` + auditedNamespace + `"]
- level: Metadata
`

const encryptionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ["secrets"]
  providers:
  - aescbc:
      keys:
      - name: e2ekey
        secret: %s
  - identity: {}
`

// securityFlags writes the token file, audit policy and encryption
// configuration under tmp and returns the server flags that use them.
func securityFlags(tmp, dataDir string) ([]string, error) {
	secDataDir = dataDir
	auditLogPath = filepath.Join(tmp, "audit.log")
	var tokens strings.Builder
	for _, u := range tokenUsers {
		fmt.Fprintf(&tokens, "%s,%s,%s", u.token, u.name, u.uid)
		if u.groups != "" {
			fmt.Fprintf(&tokens, ",%q", u.groups)
		}
		tokens.WriteString("\n")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	files := map[string]string{
		"tokens.csv":        tokens.String(),
		"audit-policy.yaml": auditPolicy,
		"encryption.yaml":   fmt.Sprintf(encryptionConfig, base64.StdEncoding.EncodeToString(key)),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	return []string{
		"--token-auth-file", filepath.Join(tmp, "tokens.csv"),
		"--audit-policy-file", filepath.Join(tmp, "audit-policy.yaml"),
		"--audit-log-path", auditLogPath,
		"--encryption-provider-config", filepath.Join(tmp, "encryption.yaml"),
	}, nil
}

// writeKubeconfig writes a kubeconfig for the e2e cluster (server and CA
// from the admin kubeconfig) authenticating with token ("" for none).
func writeKubeconfig(t *testing.T, name, token string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = cluster
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// userKubeconfig is writeKubeconfig for a user of the token file.
func userKubeconfig(t *testing.T, user string) string {
	t.Helper()
	u, ok := tokenUsers[user]
	if !ok {
		t.Fatalf("no token user %q", user)
	}
	return writeKubeconfig(t, user, u.token)
}

// kubectlAs runs the default kubectl with another kubeconfig.
func kubectlAs(t *testing.T, kc string, args ...string) result {
	t.Helper()
	return kubectlWith(t, "", cmdOpts{env: []string{"KUBECONFIG=" + kc}}, args...)
}

func mustKubectlAs(t *testing.T, kc string, args ...string) string {
	t.Helper()
	r := kubectlAs(t, kc, args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s (as %s): %s", strings.Join(args, " "), filepath.Base(kc), r)
	}
	return r.Stdout
}

// expectForbidden runs kubectl as kc and checks it fails with exactly want
// on stderr.
func expectFailure(t *testing.T, kc, want string, args ...string) {
	t.Helper()
	r := kubectlAs(t, kc, args...)
	if r.Code != 1 || r.Stderr != want+"\n" {
		t.Errorf("kubectl %s (as %s):\n%s\nwant exit 1, stderr %q", strings.Join(args, " "), filepath.Base(kc), r, want)
	}
}

// canI answers `kubectl auth can-i` as kc.
func canI(t *testing.T, kc string, args ...string) string {
	t.Helper()
	r := kubectlAs(t, kc, append([]string{"auth", "can-i"}, args...)...)
	switch {
	case r.Code == 0 && r.Stdout == "yes\n":
		return "yes"
	case r.Code == 1 && r.Stdout == "no\n":
		return "no"
	}
	t.Fatalf("kubectl auth can-i %s: %s", strings.Join(args, " "), r)
	return ""
}

// waitCanI polls until can-i gives want (RBAC changes reach the
// authorizer through a watch).
func waitCanI(t *testing.T, kc, want string, args ...string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := canI(t, kc, args...); got != want {
			return fmt.Errorf("can-i %s = %s; want %s", strings.Join(args, " "), got, want)
		}
		return nil
	})
}

func forbidden(user, verb, resource, group, ns string) string {
	scope := "at the cluster scope"
	if ns != "" {
		scope = fmt.Sprintf("in the namespace %q", ns)
	}
	plural := resource
	if group != "" {
		plural += "." + group
	}
	return fmt.Sprintf("Error from server (Forbidden): %s is forbidden: User %q cannot %s resource %q in API group %q %s",
		plural, user, verb, resource, group, scope)
}

func TestSecurityRBACMatrix(t *testing.T) {
	t.Parallel()
	nsA, nsB, nsC, nsD := newNamespace(t), newNamespace(t), newNamespace(t), newNamespace(t)
	alice, bob, carol := userKubeconfig(t, "alice"), userKubeconfig(t, "bob"), userKubeconfig(t, "carol")

	mustKubectl(t, "", "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", nsA)
	mustKubectl(t, "", "create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob", "-n", nsC)
	mustKubectl(t, "", "create", "rolebinding", "carol-admin", "--clusterrole=admin", "--user=carol", "-n", nsD)
	mustKubectl(t, "", "create", "secret", "generic", "s1", "--from-literal=k=v", "-n", nsA)
	mustKubectl(t, "", "run", "p1", "--image=nginx", "-n", nsA)
	waitCanI(t, alice, "yes", "list", "pods", "-n", nsA)
	waitCanI(t, bob, "yes", "create", "deployments.apps", "-n", nsC)
	waitCanI(t, carol, "yes", "create", "roles.rbac.authorization.k8s.io", "-n", nsD)

	t.Run("view", func(t *testing.T) {
		if got := mustKubectlAs(t, alice, "get", "pods", "-n", nsA, "-o", "name"); got != "pod/p1\n" {
			t.Errorf("alice get pods = %q; want pod/p1", got)
		}
		if got := mustKubectlAs(t, alice, "get", "pod", "p1", "-n", nsA, "-o", "jsonpath={.metadata.name}"); got != "p1" {
			t.Errorf("alice get pod p1 = %q", got)
		}
		// watch: a raw watch with a short timeout ends cleanly with 200.
		if r := doToken(t, tokenUsers["alice"].token, "GET", "/api/v1/namespaces/"+nsA+"/pods?watch=1&timeoutSeconds=1", nil); r.code != http.StatusOK {
			t.Errorf("alice watch pods in %s: %d %s", nsA, r.code, r.body)
		}
		expectFailure(t, alice, forbidden("alice", "create", "pods", "", nsA), "run", "p2", "--image=nginx", "-n", nsA)
		expectFailure(t, alice, forbidden("alice", "list", "secrets", "", nsA), "get", "secrets", "-n", nsA)
		expectFailure(t, alice, `Error from server (Forbidden): secrets "s1" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "`+nsA+`"`,
			"get", "secret", "s1", "-n", nsA)
		expectFailure(t, alice, forbidden("alice", "list", "pods", "", nsB), "get", "pods", "-n", nsB)
		r := doToken(t, tokenUsers["alice"].token, "GET", "/api/v1/namespaces/"+nsB+"/pods?watch=1&timeoutSeconds=1", nil)
		st := expectStatus(t, rawResponse{r.code, r.header, r.body}, http.StatusForbidden, metav1.StatusReasonForbidden)
		if want := fmt.Sprintf(`pods is forbidden: User "alice" cannot watch resource "pods" in API group "" in the namespace %q`, nsB); st.Message != want {
			t.Errorf("watch in %s: message %q; want %q", nsB, st.Message, want)
		}
	})

	t.Run("exec needs create", func(t *testing.T) {
		// A WebSocket exec is a GET, but since 1.35 upstream also asks for
		// "create" on pods/exec: "get" alone is refused.
		mustKubectl(t, "", "create", "role", "exec-get", "--verb=get", "--resource=pods/exec", "-n", nsA)
		mustKubectl(t, "", "create", "rolebinding", "alice-exec-get", "--role=exec-get", "--user=alice", "-n", nsA)
		waitCanI(t, alice, "yes", "get", "pods", "--subresource=exec", "-n", nsA)
		path := "/api/v1/namespaces/" + nsA + "/pods/p1/exec?command=true&stdout=true"
		st := expectStatus(t, doToken(t, tokenUsers["alice"].token, "GET", path, nil), http.StatusForbidden, metav1.StatusReasonForbidden)
		if want := fmt.Sprintf(`pods "p1" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace %q`, nsA); st.Message != want {
			t.Errorf("GET exec with get only: message %q; want %q", st.Message, want)
		}
		mustKubectl(t, "", "create", "role", "exec-create", "--verb=create", "--resource=pods/exec", "-n", nsA)
		mustKubectl(t, "", "create", "rolebinding", "alice-exec-create", "--role=exec-create", "--user=alice", "-n", nsA)
		waitCanI(t, alice, "yes", "create", "pods", "--subresource=exec", "-n", nsA)
		// Authorized now: what remains is that p1 has no node.
		st = expectStatus(t, doToken(t, tokenUsers["alice"].token, "GET", path, nil), http.StatusBadRequest, metav1.StatusReasonBadRequest)
		if want := "pod p1 does not have a host assigned"; st.Message != want {
			t.Errorf("GET exec with get and create: message %q; want %q", st.Message, want)
		}
	})

	t.Run("edit", func(t *testing.T) {
		if got := mustKubectlAs(t, bob, "create", "deployment", "d1", "--image=nginx", "-n", nsC); got != "deployment.apps/d1 created\n" {
			t.Errorf("bob create deployment = %q", got)
		}
		if got := mustKubectlAs(t, bob, "create", "secret", "generic", "s2", "--from-literal=k=v", "-n", nsC); got != "secret/s2 created\n" {
			t.Errorf("bob create secret = %q", got)
		}
		expectFailure(t, bob, forbidden("bob", "create", "roles", "rbac.authorization.k8s.io", nsC),
			"create", "role", "r1", "--verb=get", "--resource=pods", "-n", nsC)
		// kubectl create rolebinding words its errors itself.
		expectFailure(t, bob, "error: failed to create rolebinding: "+strings.TrimPrefix(forbidden("bob", "create", "rolebindings", "rbac.authorization.k8s.io", nsC), "Error from server (Forbidden): "),
			"create", "rolebinding", "rb1", "--clusterrole=view", "--user=dave", "-n", nsC)
	})

	t.Run("admin", func(t *testing.T) {
		if got := mustKubectlAs(t, carol, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", nsD); got != "role.rbac.authorization.k8s.io/pod-reader created\n" {
			t.Errorf("carol create role = %q", got)
		}
		if got := mustKubectlAs(t, carol, "create", "rolebinding", "dave-reader", "--role=pod-reader", "--user=dave", "-n", nsD); got != "rolebinding.rbac.authorization.k8s.io/dave-reader created\n" {
			t.Errorf("carol create rolebinding = %q", got)
		}
		if got := mustKubectlAs(t, carol, "create", "rolebinding", "dave-edit", "--clusterrole=edit", "--user=dave", "-n", nsD); got != "rolebinding.rbac.authorization.k8s.io/dave-edit created\n" {
			t.Errorf("carol bind edit = %q", got)
		}
		expectFailure(t, carol, forbidden("carol", "create", "roles", "rbac.authorization.k8s.io", nsA),
			"create", "role", "r1", "--verb=get", "--resource=pods", "-n", nsA)
	})

	t.Run("no escalation", func(t *testing.T) {
		// bob may create rolebindings in nsC, but only to roles whose
		// rights he holds: binding admin (which can manage RBAC) escalates.
		mustKubectl(t, "", "create", "role", "binder", "--verb=create", "--resource=rolebindings.rbac.authorization.k8s.io", "-n", nsC)
		mustKubectl(t, "", "create", "rolebinding", "bob-binder", "--role=binder", "--user=bob", "-n", nsC)
		waitCanI(t, bob, "yes", "create", "rolebindings.rbac.authorization.k8s.io", "-n", nsC)
		if got := mustKubectlAs(t, bob, "create", "rolebinding", "dave-view", "--clusterrole=view", "--user=dave", "-n", nsC); got != "rolebinding.rbac.authorization.k8s.io/dave-view created\n" {
			t.Errorf("bob bind view = %q", got)
		}
		r := kubectlAs(t, bob, "create", "rolebinding", "dave-admin", "--clusterrole=admin", "--user=dave", "-n", nsC)
		wantFirst := `error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io "dave-admin" is forbidden: user "bob" (groups=["dev" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:`
		lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
		if r.Code != 1 || lines[0] != wantFirst {
			t.Fatalf("bob bind admin:\n%s\nwant first line %q", r, wantFirst)
		}
		// Each missing rule is one line in upstream's compact form; admin's
		// rights over roles are among them.
		rolesLine := regexp.MustCompile(`^\{APIGroups:\["rbac.authorization.k8s.io"\], Resources:\["roles"\], Verbs:\[.*"delete".*\]\}$`)
		found := false
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "{APIGroups:[") {
				t.Errorf("missing-rule line %q is not in upstream's compact form", l)
			}
			found = found || rolesLine.MatchString(l)
		}
		if !found {
			t.Errorf("no missing rule for roles in:\n%s", r.Stderr)
		}
		if r := kubectl(t, "", "get", "rolebinding", "dave-admin", "-n", nsC); r.Code != 1 ||
			r.Stderr != `Error from server (NotFound): rolebindings.rbac.authorization.k8s.io "dave-admin" not found`+"\n" {
			t.Errorf("the refused binding exists: %s", r)
		}
	})

	t.Run("can-i", func(t *testing.T) {
		for _, tc := range []struct {
			kc   string
			args []string
			want string
		}{
			{alice, []string{"get", "pods", "-n", nsA}, "yes"},
			{alice, []string{"watch", "pods", "-n", nsA}, "yes"},
			{alice, []string{"create", "pods", "-n", nsA}, "no"},
			{alice, []string{"get", "secrets", "-n", nsA}, "no"},
			{alice, []string{"list", "pods", "-n", nsB}, "no"},
			{bob, []string{"create", "secrets", "-n", nsC}, "yes"},
			{bob, []string{"create", "roles.rbac.authorization.k8s.io", "-n", nsC}, "no"},
			{carol, []string{"create", "rolebindings.rbac.authorization.k8s.io", "-n", nsD}, "yes"},
			{carol, []string{"delete", "namespaces"}, "no"},
		} {
			if got := canI(t, tc.kc, tc.args...); got != tc.want {
				t.Errorf("%s: can-i %s = %s; want %s", filepath.Base(tc.kc), strings.Join(tc.args, " "), got, tc.want)
			}
		}
		list := mustKubectlAs(t, alice, "auth", "can-i", "--list", "-n", nsA)
		header := regexp.MustCompile(`(?m)^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$`)
		pods := regexp.MustCompile(`(?m)^pods\s+\[\]\s+\[\]\s+\[get list watch\]$`)
		review := regexp.MustCompile(`(?m)^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$`)
		healthz := regexp.MustCompile(`(?m)^\s+\[/healthz\]\s+\[\]\s+\[get\]$`)
		for _, re := range []*regexp.Regexp{header, pods, review, healthz} {
			if !re.MatchString(list) {
				t.Errorf("can-i --list lacks %v:\n%s", re, list)
			}
		}
		if strings.Contains(list, "\nsecrets ") {
			t.Errorf("can-i --list shows secrets for a viewer:\n%s", list)
		}
	})

	t.Run("whoami", func(t *testing.T) {
		out := mustKubectlAs(t, alice, "auth", "whoami")
		for _, re := range []string{`(?m)^ATTRIBUTE\s+VALUE$`, `(?m)^Username\s+alice$`, `(?m)^UID\s+1001$`, `(?m)^Groups\s+\[dev system:authenticated\]$`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("whoami lacks %s:\n%s", re, out)
			}
		}
		node := mustKubectlAs(t, userKubeconfig(t, "n1"), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if node != `system:node:n1 ["system:nodes","system:authenticated"]` {
			t.Errorf("node whoami = %q", node)
		}
	})

	t.Run("impersonation", func(t *testing.T) {
		r := kubectl(t, "", "--as=alice", "get", "pods", "-n", nsA, "-o", "name")
		if r.Code != 0 || r.Stdout != "pod/p1\n" {
			t.Errorf("admin --as=alice get pods: %s", r)
		}
		r = kubectl(t, "", "--as=alice", "get", "pods", "-n", nsB)
		if r.Code != 1 || r.Stderr != forbidden("alice", "list", "pods", "", nsB)+"\n" {
			t.Errorf("admin --as=alice in %s: %s", nsB, r)
		}
		who := mustKubectl(t, "", "--as=alice", "--as-group=dev", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if who != `alice ["dev","system:authenticated"]` {
			t.Errorf("whoami --as=alice --as-group=dev = %q", who)
		}
		expectFailure(t, alice, `Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`,
			"--as=bob", "get", "pods", "-n", nsA)
	})
}

// doToken makes a raw request with a bearer token ("" for none), trusting
// the cluster CA, without a client certificate.
func doToken(t *testing.T, token, method, path string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, serverURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := caOnlyClient(t, nil).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// caOnlyClient trusts the cluster CA and presents cert (if any).
func caOnlyClient(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(restConfig.CAData) {
		ca, err := os.ReadFile(restConfig.CAFile)
		if err != nil || !pool.AppendCertsFromPEM(ca) {
			t.Fatalf("no cluster CA in the admin kubeconfig (%v)", err)
		}
	}
	cfg := &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}
	if cert != nil {
		// Present cert whatever CAs the server names as acceptable (as
		// curl does); Go's default would silently send none.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 20 * time.Second}
}

func TestSecurityNodeAuthorizer(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	n1, n2 := userKubeconfig(t, "n1"), userKubeconfig(t, "n2")
	mustKubectl(t, "", "create", "secret", "generic", "s2", "--from-literal=k=node-secret", "-n", ns)
	mustStdin(t, "", `apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: `+ns+`}
spec:
  nodeName: n2
  containers: [{name: c, image: nginx, volumeMounts: [{name: s, mountPath: /s}]}]
  volumes: [{name: s, secret: {secretName: s2}}]
`, "create")
	eventually(t, 10*time.Second, func() error {
		r := kubectlAs(t, n2, "get", "secret", "s2", "-n", ns, "-o", "jsonpath={.data.k}")
		if r.Code != 0 {
			return fmt.Errorf("n2 get secret: %s", r)
		}
		if want := base64.StdEncoding.EncodeToString([]byte("node-secret")); r.Stdout != want {
			t.Fatalf("n2 read s2 = %q; want %q", r.Stdout, want)
		}
		return nil
	})
	expectFailure(t, n1, `Error from server (Forbidden): secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "`+ns+`": no relationship found between node 'n1' and this object`,
		"get", "secret", "s2", "-n", ns)
}

func TestSecurityAnonymous(t *testing.T) {
	t.Parallel()
	r := doToken(t, "", "GET", "/api/v1/namespaces/default/pods", nil)
	st := expectStatus(t, r, http.StatusForbidden, metav1.StatusReasonForbidden)
	if want := `pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"`; st.Message != want {
		t.Errorf("anonymous list pods: %q; want %q", st.Message, want)
	}
	if r := doToken(t, "", "GET", "/healthz", nil); r.code != http.StatusOK || string(r.body) != "ok" {
		t.Errorf("anonymous /healthz: %d %q; want 200 ok", r.code, r.body)
	}
	r = doToken(t, "", "GET", "/version", nil)
	var v struct{ Major, Minor, GitVersion string }
	if err := json.Unmarshal(r.body, &v); r.code != http.StatusOK || err != nil || v.Major != "1" || v.GitVersion == "" {
		t.Errorf("anonymous /version: %d %s (%v)", r.code, r.body, err)
	}
	// A bad token is not anonymous: 401, as upstream.
	r = doToken(t, "not-a-token", "GET", "/healthz", nil)
	st = expectStatus(t, r, http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	if st.Message != "Unauthorized" {
		t.Errorf("bad token message %q; want Unauthorized", st.Message)
	}
}

func TestSecurityServiceAccountTokens(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	noCreds := writeKubeconfig(t, "nocreds", "")
	mustKubectl(t, "", "create", "serviceaccount", "robot", "-n", ns)
	mustKubectl(t, "", "create", "rolebinding", "robot-view", "--clusterrole=view", "--serviceaccount="+ns+":robot", "-n", ns)
	mustKubectl(t, "", "create", "configmap", "cm1", "--from-literal=a=b", "-n", ns)
	token := strings.TrimSpace(mustKubectl(t, "", "create", "token", "robot", "-n", ns))
	user := "system:serviceaccount:" + ns + ":robot"

	eventually(t, 10*time.Second, func() error {
		r := kubectlAs(t, noCreds, "--token", token, "get", "configmaps", "cm1", "-n", ns, "-o", "name")
		if r.Code != 0 || r.Stdout != "configmap/cm1\n" {
			return fmt.Errorf("get configmaps with the SA token: %s", r)
		}
		return nil
	})
	expectFailure(t, noCreds, forbidden(user, "list", "secrets", "", ns), "--token", token, "get", "secrets", "-n", ns)
	who := mustKubectlAs(t, noCreds, "--token", token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
	if want := fmt.Sprintf(`%s ["system:serviceaccounts","system:serviceaccounts:%s","system:authenticated"]`, user, ns); who != want {
		t.Errorf("SA whoami = %q; want %q", who, want)
	}

	const unauthorized = "error: You must be logged in to the server (Unauthorized)"
	t.Run("other audience", func(t *testing.T) {
		other := strings.TrimSpace(mustKubectl(t, "", "create", "token", "robot", "-n", ns, "--audience", "other"))
		expectFailure(t, noCreds, unauthorized, "--token", other, "get", "configmaps", "-n", ns)
		expectStatus(t, doToken(t, other, "GET", "/api/v1/namespaces/"+ns+"/configmaps", nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	})

	t.Run("expired", func(t *testing.T) {
		// A token signed with the server's own key (DATA-DIR/tls) for the
		// live service account, differing only in its expiry.
		uid := mustKubectl(t, "", "get", "serviceaccount", "robot", "-n", ns, "-o", "jsonpath={.metadata.uid}")
		now := time.Now()
		live := forgeToken(t, ns, "robot", uid, now.Add(-time.Minute), now.Add(time.Hour))
		// Five minutes past expiry: beyond any clock-skew leeway.
		expired := forgeToken(t, ns, "robot", uid, now.Add(-15*time.Minute), now.Add(-5*time.Minute))
		if r := doToken(t, live, "GET", "/api/v1/namespaces/"+ns+"/configmaps/cm1", nil); r.code != http.StatusOK {
			t.Fatalf("a live token signed with the server key: %d %s", r.code, r.body)
		}
		expectStatus(t, doToken(t, expired, "GET", "/api/v1/namespaces/"+ns+"/configmaps/cm1", nil), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
		expectFailure(t, noCreds, unauthorized, "--token", expired, "get", "configmaps", "-n", ns)

		review := fmt.Sprintf(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":%q}}`, expired)
		r := doRaw(t, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", []byte(review))
		var tr struct {
			Status struct {
				Authenticated bool
				Error         string
			}
		}
		if err := json.Unmarshal(r.body, &tr); r.code != http.StatusCreated || err != nil {
			t.Fatalf("TokenReview: %d %s (%v)", r.code, r.body, err)
		}
		if tr.Status.Authenticated || !strings.Contains(tr.Status.Error, "service account token has expired") {
			t.Errorf("TokenReview of an expired token: %+v; want unauthenticated, error %q", tr.Status, "service account token has expired")
		}
	})

	t.Run("deleted service account", func(t *testing.T) {
		mustKubectl(t, "", "delete", "serviceaccount", "robot", "-n", ns)
		eventually(t, 10*time.Second, func() error {
			r := doToken(t, token, "GET", "/api/v1/namespaces/"+ns+"/configmaps", nil)
			if r.code != http.StatusUnauthorized {
				return fmt.Errorf("token of the deleted SA: %d %s", r.code, r.body)
			}
			return nil
		})
		expectFailure(t, noCreds, unauthorized, "--token", token, "get", "configmaps", "-n", ns)
	})
}

// forgeToken signs a service-account JWT with the server's signing key,
// shaped as the server issues them.
func forgeToken(t *testing.T, ns, name, uid string, notBefore, expires time.Time) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(secDataDir, "tls", "service-account.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("service-account.key: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://kubernetes.default.svc.cluster.local"
	claims := jwt.MapClaims{
		"iss": issuer,
		"sub": "system:serviceaccount:" + ns + ":" + name,
		"aud": []string{issuer},
		"iat": notBefore.Unix(),
		"nbf": notBefore.Unix(),
		"exp": expires.Unix(),
		"jti": fmt.Sprintf("e2e-%d", time.Now().UnixNano()),
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]string{"name": name, "uid": uid},
		},
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestSecurityAdmission(t *testing.T) {
	t.Parallel()
	t.Run("enforce restricted", func(t *testing.T) {
		ns := newNamespace(t)
		mustKubectl(t, "", "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
		r := kubectlWith(t, "", cmdOpts{stdin: `apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
`}, "create", "-n", ns, "-f", "-")
		want := `Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: violates PodSecurity "restricted:latest": ` +
			`privileged (container "c" must not set securityContext.privileged=true), ` +
			`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
			`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
			`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
			`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")` + "\n"
		if r.Code != 1 || r.Stderr != want {
			t.Errorf("privileged pod in a restricted namespace:\n%s\nwant stderr %q", r, want)
		}
	})

	t.Run("warn restricted", func(t *testing.T) {
		ns := newNamespace(t)
		mustKubectl(t, "", "label", "namespace", ns, "pod-security.kubernetes.io/enforce=baseline", "pod-security.kubernetes.io/warn=restricted")
		r := kubectl(t, "", "run", "web", "--image=nginx", "-n", ns)
		want := `Warning: would violate PodSecurity "restricted:latest": ` +
			`allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false), ` +
			`unrestricted capabilities (container "web" must set securityContext.capabilities.drop=["ALL"]), ` +
			`runAsNonRoot != true (pod or container "web" must set securityContext.runAsNonRoot=true), ` +
			`seccompProfile (pod or container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")` + "\n"
		if r.Code != 0 || r.Stdout != "pod/web created\n" || r.Stderr != want {
			t.Errorf("baseline pod with warn=restricted:\n%s\nwant stderr %q", r, want)
		}
	})

	t.Run("limitrange defaults", func(t *testing.T) {
		ns := newNamespace(t)
		mustStdin(t, "", `apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m, memory: 64Mi}
`, "create", "-n", ns)
		mustKubectl(t, "", "run", "lr", "--image=nginx", "-n", ns)
		got := mustKubectl(t, "", "get", "pod", "lr", "-n", ns, "-o", `jsonpath={.spec.containers[0].resources}{"\n"}{.metadata.annotations.kubernetes\.io/limit-ranger}`)
		want := `{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}` + "\n" +
			"LimitRanger plugin set: cpu, memory request for container lr; cpu, memory limit for container lr"
		if got != want {
			t.Errorf("pod resources and annotation:\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("quota under concurrency", func(t *testing.T) {
		ns := newNamespace(t)
		mustKubectl(t, "", "create", "quota", "q", "--hard=pods=5", "-n", ns)
		eventually(t, 10*time.Second, func() error {
			if got := mustKubectl(t, "", "get", "resourcequota", "q", "-n", ns, "-o", "jsonpath={.status.hard.pods}/{.status.used.pods}"); got != "5/0" {
				return fmt.Errorf("quota status = %q; want 5/0", got)
			}
			return nil
		})
		cs, err := kubernetes.NewForConfig(restConfig)
		if err != nil {
			t.Fatal(err)
		}
		const creators = 20
		errs := make([]error, creators)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range creators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("q-%d", i)},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
				}
				_, errs[i] = cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
			}()
		}
		close(start)
		wg.Wait()
		var created []string
		for i, err := range errs {
			name := fmt.Sprintf("q-%d", i)
			if err == nil {
				created = append(created, name)
				continue
			}
			want := fmt.Sprintf(`pods %q is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5`, name)
			if !apierrors.IsForbidden(err) || err.Error() != want {
				t.Errorf("create %s: %v; want 403 %q", name, err, want)
			}
		}
		if len(created) != 5 {
			t.Errorf("%d pods created (%v); want exactly 5", len(created), created)
		}
		out := mustKubectl(t, "", "get", "pods", "-n", ns, "-o", "name")
		if n := strings.Count(out, "pod/"); n != 5 {
			t.Errorf("%d pods stored; want 5:\n%s", n, out)
		}
		eventually(t, 10*time.Second, func() error {
			if got := mustKubectl(t, "", "get", "resourcequota", "q", "-n", ns, "-o", "jsonpath={.status.used.pods}"); got != "5" {
				return fmt.Errorf("quota used = %q; want 5", got)
			}
			return nil
		})
	})
}

// TestSecurityForeignClientCert presents a client certificate (for
// system:admin in system:masters) signed by a CA the server does not
// know. As upstream, the handshake asks for but does not verify client
// certificates; the authenticator rejects this one with 401 Unauthorized.
func TestSecurityForeignClientCert(t *testing.T) {
	t.Parallel()
	cert := throwawayClientCert(t, "system:admin", "system:masters")
	resp, err := caOnlyClient(t, &cert).Get(serverURL + "/api/v1/namespaces")
	if err != nil {
		t.Fatalf("GET with a client certificate from another CA: %v; want HTTP 401", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"reason":"Unauthorized"`) {
		t.Fatalf("GET with a client certificate from another CA: HTTP %d %s; want 401 Unauthorized", resp.StatusCode, body)
	}
	// The same connection setup without the certificate works (anonymous).
	if r := doToken(t, "", "GET", "/healthz", nil); r.code != http.StatusOK {
		t.Errorf("/healthz without a certificate: %d", r.code)
	}
}

// throwawayClientCert is a client certificate for cn/org signed by a CA
// made up on the spot.
func throwawayClientCert(t *testing.T, cn, org string) tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "throwaway-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// auditEvent is the part of an audit.k8s.io/v1 Event the tests read.
type auditEvent struct {
	Level     string
	Stage     string
	Verb      string
	User      struct{ Username string }
	ObjectRef *struct {
		Resource, Namespace, Name string
	}
	ResponseStatus *struct{ Code int }
	RequestObject  json.RawMessage
	ResponseObject json.RawMessage
	Annotations    map[string]string
}

func readAudit(t *testing.T) []auditEvent {
	t.Helper()
	data, err := os.ReadFile(auditLogPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditEvent
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev auditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("audit line is not an event: %v: %s", err, line)
		}
		out = append(out, ev)
	}
	return out
}

// findAudit polls the audit log for an event match accepts.
func findAudit(t *testing.T, what string, match func(auditEvent) bool) auditEvent {
	t.Helper()
	var found auditEvent
	eventually(t, 10*time.Second, func() error {
		for _, ev := range readAudit(t) {
			if match(ev) {
				found = ev
				return nil
			}
		}
		var near []string
		for _, ev := range readAudit(t) {
			if ev.ObjectRef != nil && ev.ObjectRef.Namespace == auditedNamespace || ev.User.Username == "alice" {
				near = append(near, fmt.Sprintf("%+v", ev))
			}
		}
		return fmt.Errorf("no audit event for %s; nearby events:\n%s", what, strings.Join(near, "\n"))
	})
	return found
}

func TestSecurityAudit(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	alice := userKubeconfig(t, "alice")
	expectFailure(t, alice, forbidden("alice", "list", "pods", "", ns), "get", "pods", "-n", ns)
	ev := findAudit(t, "alice's forbidden list", func(ev auditEvent) bool {
		return ev.User.Username == "alice" && ev.Verb == "list" && ev.Stage == "ResponseComplete" &&
			ev.ObjectRef != nil && ev.ObjectRef.Resource == "pods" && ev.ObjectRef.Namespace == ns
	})
	if ev.Level != "Metadata" || ev.ResponseStatus == nil || ev.ResponseStatus.Code != 403 ||
		ev.Annotations["authorization.k8s.io/decision"] != "forbid" || ev.RequestObject != nil || ev.ResponseObject != nil {
		t.Errorf("alice's forbidden list: %+v; want level Metadata, code 403, decision forbid, no objects", ev)
	}

	if r := kubectl(t, "", "get", "namespace", auditedNamespace); r.Code != 0 {
		mustKubectl(t, "", "create", "namespace", auditedNamespace)
	}
	// kubectl create -f sends JSON (kubectl create secret sends protobuf,
	// whose body the audit log leaves out).
	mustStdin(t, "", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"audited-secret"},"stringData":{"k":"audit-me"}}`,
		"create", "-n", auditedNamespace)
	ev = findAudit(t, "the secret create in "+auditedNamespace, func(ev auditEvent) bool {
		return ev.Verb == "create" && ev.Stage == "ResponseComplete" && ev.ObjectRef != nil &&
			ev.ObjectRef.Resource == "secrets" && ev.ObjectRef.Namespace == auditedNamespace && ev.ObjectRef.Name == "audited-secret"
	})
	var req corev1.Secret
	if err := json.Unmarshal(ev.RequestObject, &req); err != nil || ev.Level != "RequestResponse" ||
		req.StringData["k"] != "audit-me" || ev.ResponseObject == nil || ev.Annotations["authorization.k8s.io/decision"] != "allow" {
		t.Errorf("secret create in %s: level %s, requestObject %s (%v), responseObject %d bytes; want RequestResponse with both objects",
			auditedNamespace, ev.Level, ev.RequestObject, err, len(ev.ResponseObject))
	}
	for _, ev := range readAudit(t) {
		if u := ev.User.Username; u == "system:kube-controller-manager" || u == "system:kube-scheduler" {
			t.Fatalf("audit log has an event of %s, whose level is None: %+v", u, ev)
		}
		if ev.ObjectRef != nil && ev.ObjectRef.Resource == "secrets" && ev.ObjectRef.Namespace != auditedNamespace && ev.Level != "Metadata" {
			t.Fatalf("secret event outside %s at level %s; want Metadata", auditedNamespace, ev.Level)
		}
	}
}

func TestSecurityEncryptionAtRest(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	plain := fmt.Sprintf("plaintext-%d-must-not-hit-disk", time.Now().UnixNano())
	mustKubectl(t, "", "create", "secret", "generic", "enc", "--from-literal=k="+plain, "-n", ns)
	if got := mustKubectl(t, "", "get", "secret", "enc", "-n", ns, "-o", "jsonpath={.data.k}"); got != base64.StdEncoding.EncodeToString([]byte(plain)) {
		t.Errorf("secret reads back as %q", got)
	}
	db := filepath.Join(secDataDir, "db")
	prefix := []byte("k8s:enc:aescbc:v1:e2ekey:")
	needles := [][]byte{[]byte(plain), []byte(base64.StdEncoding.EncodeToString([]byte(plain)))}
	// The WAL has the write when the create returns; bbolt within its
	// commit interval. Poll until both carry the envelope.
	eventually(t, 10*time.Second, func() error {
		var walHits, boltHits int
		err := filepath.WalkDir(db, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, n := range needles {
				if bytes.Contains(data, n) {
					t.Fatalf("%s holds the secret's plaintext %q", path, n)
				}
			}
			if bytes.Contains(data, prefix) {
				switch {
				case strings.Contains(path, string(filepath.Separator)+"wal"+string(filepath.Separator)):
					walHits++
				case filepath.Base(path) == "db":
					boltHits++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if walHits == 0 || boltHits == 0 {
			return fmt.Errorf("%s prefix found in %d WAL files and %d bbolt files; want both", prefix, walHits, boltHits)
		}
		return nil
	})
}
