package server

import (
	"path/filepath"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/auth/authn"
	"github.com/skiff-sh/skiff/internal/auth/node"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
)

// security is who may do what: the authenticators, authorizers and
// admission chain the API server runs every request through.
type security struct {
	authn  *authn.Chain
	tokens *authn.ServiceAccountTokens
	authz  auth.Authorizer
	rbac   *rbac.Authorizer
	guard  *rbac.Guard
	admit  *admission.Chain
}

// newSecurity builds the request security from the server's own storage:
// client certificates, the optional token file, bootstrap tokens and
// service-account tokens; system:masters, the Node authorizer and RBAC;
// upstream's admission plugins.
func (s *Server) newSecurity(l lookup) (*security, error) {
	key, err := authn.LoadOrCreateKey(filepath.Join(s.cfg.DataDir, "tls", "service-account.key"))
	if err != nil {
		return nil, err
	}
	tokens := authn.NewServiceAccountTokens(key, "", nil)
	tokens.GetServiceAccount = l.GetServiceAccount
	tokens.GetPod = l.GetPod
	tokens.GetSecret = l.GetSecret
	tokens.GetNode = l.GetNode
	chain := &authn.Chain{ClientCAs: s.bundle.CAPool(), AllowAnonymous: true}
	if s.cfg.TokenAuthFile != "" {
		tf, err := authn.LoadTokenFile(s.cfg.TokenAuthFile)
		if err != nil {
			return nil, err
		}
		chain.Tokens = append(chain.Tokens, tf)
	}
	chain.Tokens = append(chain.Tokens, &authn.BootstrapTokens{Secrets: l.GetSecret}, tokens)

	rbacAuthz := rbac.New(l)
	authz := auth.Union{auth.Privileged{}, node.New(l), rbacAuthz}
	return &security{
		authn:  chain,
		tokens: tokens,
		authz:  authz,
		rbac:   rbacAuthz,
		guard:  &rbac.Guard{Authz: authz, RBAC: rbacAuthz},
		admit: admission.NewChain(admission.Deps{
			Namespaces: l, LimitRanges: l, ServiceAccounts: l, Nodes: l, Pods: l,
			PriorityClasses: l, StorageClasses: l, Quotas: l, Authorizer: authz,
		}, s.cfg.DisableAdmissionPlugins...),
	}, nil
}
