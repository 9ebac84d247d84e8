package kubelet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// recordingAuthorizer allows users in allow and records every question.
type recordingAuthorizer struct {
	allow map[string]bool
	mu    sync.Mutex
	asked []Attributes
}

func (a *recordingAuthorizer) Authorize(_ context.Context, at Attributes) (bool, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, at)
	return a.allow[at.User], "", nil
}

// emptyRuntime is a CRI runtime with no sandboxes or containers.
type emptyRuntime struct {
	runtimeapi.RuntimeServiceClient
}

func (emptyRuntime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest, ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{}, nil
}

// testCA makes a CA and a function issuing client certificates from it.
func testCA(t *testing.T) (*x509.CertPool, func(cn string, groups ...string) tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serial := int64(2)
	issue := func(cn string, groups ...string) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: groups},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return pool, issue
}

func TestServerAuthnAuthz(t *testing.T) {
	pool, issue := testCA(t)
	_, otherIssue := testCA(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	authz := &recordingAuthorizer{allow: map[string]bool{"apiserver": true}}
	srv, err := NewServer(ServerConfig{Listener: ln, NodeName: "n1", ClientCAs: pool, Authorizer: authz, Runtime: emptyRuntime{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "https://" + ln.Addr().String()

	do := func(cert *tls.Certificate, method, path string) (int, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a self-signed test server
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error() // the TLS handshake refused the client
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	apiserver := issue("apiserver", "system:masters")
	user := issue("mallory")
	stranger := otherIssue("apiserver")

	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		method string
		path   string
		code   int
	}{
		{"no certificate", nil, "GET", "/healthz", http.StatusUnauthorized},
		{"certificate of another CA", &stranger, "GET", "/healthz", 0},
		{"denied user", &user, "GET", "/containerLogs/ns/p/c", http.StatusForbidden},
		{"allowed healthz", &apiserver, "GET", "/healthz", http.StatusOK},
		{"logs of an unknown pod", &apiserver, "GET", "/containerLogs/ns/p/c", http.StatusNotFound},
		{"exec into an unknown pod", &apiserver, "POST", "/exec/ns/p/c?command=true&stdout=true", http.StatusNotFound},
		{"exec without streams", &apiserver, "POST", "/exec/ns/p/c?command=true", http.StatusBadRequest},
		{"unknown path", &apiserver, "GET", "/nope", http.StatusNotFound},
	} {
		if code, body := do(tc.cert, tc.method, tc.path); code != tc.code {
			t.Errorf("%s: %s %s: got %d (%s); want %d", tc.name, tc.method, tc.path, code, body, tc.code)
		}
	}

	authz.mu.Lock()
	defer authz.mu.Unlock()
	want := map[string]Attributes{
		"/healthz": {User: "apiserver", Groups: []string{"system:masters"}, Verb: "get", Subresource: "healthz", Name: "n1"},
		"/exec":    {User: "apiserver", Groups: []string{"system:masters"}, Verb: "create", Subresource: "proxy", Name: "n1"},
	}
	seen := map[string]bool{}
	for _, a := range authz.asked {
		for _, w := range want {
			if a.User == w.User && a.Verb == w.Verb && a.Subresource == w.Subresource && a.Name == w.Name && len(a.Groups) == 1 && a.Groups[0] == w.Groups[0] {
				seen[w.Verb+" "+w.Subresource] = true
			}
		}
	}
	if !seen["get healthz"] || !seen["create proxy"] {
		t.Errorf("authorizer was asked %+v; want get nodes/healthz and create nodes/proxy for node n1", authz.asked)
	}
}
