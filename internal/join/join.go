// Package join lets a machine with the cluster's join token become a node,
// k3s-style: the token pins the cluster CA by its hash and carries a
// bootstrap token (ID.SECRET); the server exchanges it for a client
// certificate for system:node:NAME.
//
// The server side is Handler, mounted under PathPrefix; the agent side is
// Join. Neither starts goroutines.
package join

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/pki"
)

// PathPrefix is where the join endpoints live on the API server's port.
const PathPrefix = "/skiff/v1/"

const (
	tokenPrefix    = "K10"
	bootstrapGroup = "system:bootstrappers"
	idChars        = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// Errors of token handling.
var (
	ErrBadToken  = errors.New("join: malformed join token (want K10<ca-sha256>::<id>.<secret>)")
	ErrCAChanged = errors.New("join: the server's CA does not match the join token")
)

// Token is a parsed join token.
type Token struct {
	// CAHash is the hex SHA-256 of the cluster CA certificate (PEM).
	CAHash string
	// ID and Secret form the bootstrap token "ID.SECRET".
	ID, Secret string
}

// String renders the token as users pass it to `skiff agent --token`.
func (t Token) String() string {
	return tokenPrefix + t.CAHash + "::" + t.ID + "." + t.Secret
}

// Bootstrap is the bearer token the token authenticates with.
func (t Token) Bootstrap() string { return t.ID + "." + t.Secret }

// NewToken makes a random token for a CA.
func NewToken(caPEM []byte) (Token, error) {
	id, err := randomString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(16)
	if err != nil {
		return Token{}, err
	}
	return Token{CAHash: caHash(caPEM), ID: id, Secret: secret}, nil
}

// FromSecret turns a user-chosen secret (`skiff server --token`) into a
// token for caPEM: a bootstrap ID and secret derived from it, so the same
// words give the same token on every server of a cluster.
func FromSecret(secret string, caPEM []byte) Token {
	if t, err := ParseToken(secret); err == nil {
		t.CAHash = caHash(caPEM)
		return t
	}
	sum := sha256.Sum256([]byte(secret))
	h := hex.EncodeToString(sum[:])
	return Token{CAHash: caHash(caPEM), ID: h[:6], Secret: h[6:22]}
}

// ParseToken parses "K10<hash>::<id>.<secret>".
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), tokenPrefix)
	if !ok {
		return Token{}, ErrBadToken
	}
	hash, creds, ok := strings.Cut(rest, "::")
	id, secret, ok2 := strings.Cut(creds, ".")
	if !ok || !ok2 || len(hash) != 64 || len(id) != 6 || len(secret) != 16 || !isTokenChars(id) || !isTokenChars(secret) {
		return Token{}, ErrBadToken
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return Token{}, ErrBadToken
	}
	return Token{CAHash: hash, ID: id, Secret: secret}, nil
}

func isTokenChars(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune(idChars, c) {
			return false
		}
	}
	return true
}

func caHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b), nil
}

// Identity is a node's client certificate and key (PEM) and the CA.
type Identity struct {
	Certificate []byte `json:"certificate"`
	Key         []byte `json:"key"`
	CA          []byte `json:"ca"`
}

// Issuer signs node client certificates.
type Issuer interface {
	IssueNodeCert(node string) (certPEM, keyPEM []byte, err error)
}

// Handler serves the join endpoints:
//
//	GET  PathPrefix+"cacerts"              the CA (anyone; the token pins it)
//	POST PathPrefix+"node-identity?node=N" a client certificate for
//	                                       system:node:N, for requests
//	                                       authenticated with a bootstrap
//	                                       token (or by an administrator)
//	GET  PathPrefix+"config"               the ClusterConfig, for nodes
//	                                       (and administrators)
type Handler struct {
	CA            []byte
	Issuer        Issuer
	Authenticator auth.Authenticator
	// Cluster is what agents learn from the config endpoint.
	Cluster ClusterConfig
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, PathPrefix) {
	case "cacerts":
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(h.CA)
	case "node-identity":
		h.nodeIdentity(w, r)
	case "config":
		h.serveClusterConfig(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) nodeIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	u, ok, err := h.Authenticator.AuthenticateRequest(r)
	if err != nil || !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !inGroup(u, bootstrapGroup) && !inGroup(u, auth.SystemPrivileged) {
		http.Error(w, fmt.Sprintf("user %q may not join nodes", u.Name), http.StatusForbidden)
		return
	}
	node := r.URL.Query().Get("node")
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		http.Error(w, fmt.Sprintf("invalid node name %q: %s", node, strings.Join(errs, "; ")), http.StatusBadRequest)
		return
	}
	cert, key, err := h.Issuer.IssueNodeCert(node)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Identity{Certificate: cert, Key: key, CA: h.CA})
}

func inGroup(u *auth.User, group string) bool {
	for _, g := range u.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// Join asks the server at serverURL for node's identity with a join
// token: it fetches the CA over an unverified connection, checks it
// against the token's hash, then requests the certificate over a
// connection that trusts only that CA.
func Join(ctx context.Context, serverURL string, token Token, node string) (*Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the CA is checked against the token below
	ca, err := fetch(ctx, insecure, http.MethodGet, serverURL+PathPrefix+"cacerts", "")
	if err != nil {
		return nil, err
	}
	if caHash(ca) != token.CAHash {
		return nil, ErrCAChanged
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("join: the server sent no CA certificate")
	}
	verified := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, err := fetch(ctx, verified, http.MethodPost, serverURL+PathPrefix+"node-identity?node="+url.QueryEscape(node), token.Bootstrap())
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(body, &id); err != nil {
		return nil, fmt.Errorf("join: bad answer: %w", err)
	}
	return &id, nil
}

func fetch(ctx context.Context, c *http.Client, method, u, bearer string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join: %s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// Kubeconfig is where Join's result is kept under an agent's data
// directory, so a restarted agent does not need the token again.
func Kubeconfig(dataDir string) string { return filepath.Join(dataDir, "agent", "node.kubeconfig") }

// JoinOnce returns the path of a kubeconfig with node's identity on the
// cluster at serverURL: the one a previous join left in dataDir, or a new
// one obtained with the token.
func JoinOnce(ctx context.Context, dataDir, serverURL, token, node string) (string, error) {
	path := Kubeconfig(dataDir)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tok, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	id, err := Join(ctx, serverURL, tok, node)
	if err != nil {
		return "", err
	}
	cfg := pki.Kubeconfig(serverURL, id.CA, pki.KeyPair{CertPEM: id.Certificate, KeyPEM: id.Key})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	// Atomically: a torn file would be taken as joined at the next start.
	return path, pki.WriteConfigFile(path, cfg)
}
