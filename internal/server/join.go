package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/authn"
	"github.com/skiff-sh/skiff/internal/join"
	"github.com/skiff-sh/skiff/internal/pki"
)

// joinToken returns the cluster's join token: from --token when given,
// else the one in DATA-DIR/token, else a new one. It is written to
// DATA-DIR/token for `skiff agent --token` on other machines.
func (s *Server) joinToken() (join.Token, error) {
	path := filepath.Join(s.cfg.DataDir, "token")
	ca := s.bundle.CACertPEM()
	var tok join.Token
	switch data, err := os.ReadFile(path); {
	case s.cfg.Token != "":
		tok = join.FromSecret(s.cfg.Token, ca)
	case err == nil:
		parsed, perr := join.ParseToken(string(data))
		if perr != nil {
			return join.Token{}, perr
		}
		tok = join.FromSecret(parsed.String(), ca)
	case errors.Is(err, os.ErrNotExist):
		if tok, err = join.NewToken(ca); err != nil {
			return join.Token{}, err
		}
	default:
		return join.Token{}, err
	}
	return tok, os.WriteFile(path, []byte(tok.String()+"\n"), 0o600)
}

// bootstrapTokenSecret is the kube-system Secret the join token's bootstrap
// credentials authenticate against.
func bootstrapTokenSecret(tok join.Token) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: authn.BootstrapSecretPrefix + tok.ID, Namespace: "kube-system"},
		Type:       authn.BootstrapSecretType,
		StringData: map[string]string{
			"token-id":                       tok.ID,
			"token-secret":                   tok.Secret,
			"usage-bootstrap-authentication": "true",
			"description":                    "skiff agent join token",
		},
	}
}

// ensureJoinSecret stores the join token's bootstrap credentials.
func ensureJoinSecret(ctx context.Context, api *apiserver.APIServer, tok join.Token) error {
	return api.EnsureObject(auth.WithUser(ctx, systemUser), bootstrapTokenSecret(tok), true)
}

// nodeIssuer signs node identities with the cluster CA.
type nodeIssuer struct{ bundle *pki.Bundle }

func (n nodeIssuer) IssueNodeCert(node string) ([]byte, []byte, error) {
	kp, err := n.bundle.IssueClientCert("system:node:"+strings.ToLower(node), []string{auth.NodesGroup})
	return kp.CertPEM, kp.KeyPEM, err
}
