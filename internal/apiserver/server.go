package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/audit"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/auth/authn"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
	"github.com/skiff-sh/skiff/internal/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Config is what New needs to serve the API.
type Config struct {
	// Resources are the served resources.
	Resources []resources.Info
	// Stores maps each storage kind to its storage.
	Stores map[schema.GroupVersionKind]storage.Resource
	// Version is reported by /version.
	Version version.Info
	// OpenAPI serves /openapi/v2 and /openapi/v3; nil serves 404.
	OpenAPI http.Handler
	// Services allocates cluster IPs and node ports; nil disables
	// allocation (Services then keep what they ask for).
	Services *ServiceAllocator
	// Health checks reported by /healthz, /livez and /readyz.
	Health *Health
	// Authenticator identifies users; nil lets every request through as
	// an unnamed user (tests of the API alone).
	Authenticator auth.Authenticator
	// Authorizer decides what users may do; nil allows everything.
	Authorizer auth.Authorizer
	// TokenAuthenticator answers TokenReviews; Tokens issues and verifies
	// service-account tokens (TokenRequest); Rules answers
	// SelfSubjectRulesReviews. Each may be nil.
	TokenAuthenticator TokenAuthenticator
	Tokens             *authn.ServiceAccountTokens
	Rules              RulesResolver
	// Auditor records requests in the audit log; nil records nothing.
	Auditor *audit.Auditor
	// Admission is the admission chain run on writes; nil admits all.
	Admission *admission.Chain
	// RBACGuard refuses role and binding writes that escalate privileges;
	// nil skips the check.
	RBACGuard *rbac.Guard
	// Clock stamps creation and deletion times.
	Clock clock.PassiveClock
	// JWKSURI is the jwks_uri service-account issuer discovery reports;
	// empty uses the issuer's /openid/v1/jwks.
	JWKSURI string
	// Components are the checks componentstatuses reports, by name
	// (etcd-0, scheduler, controller-manager); nil lists none.
	Components map[string]ComponentCheck
	// Kubelet reaches node agents for pods/log, exec, attach,
	// portforward and nodes/proxy (proxy.go); nil answers them 503.
	Kubelet *KubeletClient
	// ProxyTransport reaches pods and service endpoints for pods/proxy and
	// services/proxy (backendproxy.go); upgrades dial with its DialContext
	// and TLS configuration. nil uses newProxyTransport.
	ProxyTransport *http.Transport
}

// APIServer is the HTTP handler of the Kubernetes API.
type APIServer struct {
	cfg Config
	// byPath finds a resource by "group/version/resource".
	byPath map[string]*resource
	// byGVK finds the resource serving a kind.
	byGVK map[schema.GroupVersionKind]*resource
	disc  *discovery
}

// New builds the API server. It starts nothing.
func New(cfg Config) (*APIServer, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Health == nil {
		cfg.Health = NewHealth()
	}
	if cfg.ProxyTransport == nil {
		cfg.ProxyTransport = newProxyTransport()
	}
	s := &APIServer{cfg: cfg, byPath: map[string]*resource{}, byGVK: map[schema.GroupVersionKind]*resource{}}
	for _, info := range cfg.Resources {
		store := cfg.Stores[info.Storage()]
		if store == nil && !info.Virtual {
			return nil, fmt.Errorf("no storage for %s", info.Storage())
		}
		r, err := newResource(info, store)
		if err != nil {
			return nil, err
		}
		s.byPath[pathKey(info.GVK.Group, info.GVK.Version, info.Resource)] = r
		s.byGVK[info.GVK] = r
	}
	s.disc = newDiscovery(cfg.Resources)
	return s, nil
}

func pathKey(group, version, resource string) string {
	return group + "/" + version + "/" + resource
}

// resourceFor returns the resource serving a kind, or nil.
func (s *APIServer) resourceFor(gvk schema.GroupVersionKind) *resource { return s.byGVK[gvk] }

// route serves an authorized request.
func (s *APIServer) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/livez" || p == "/readyz" ||
		strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/"):
		s.cfg.Health.ServeHTTP(w, r)
		return
	case p == "/version" || p == "/version/":
		writeJSON(w, http.StatusOK, s.cfg.Version)
		return
	case strings.HasPrefix(p, "/openapi/"):
		if s.cfg.OpenAPI != nil {
			s.cfg.OpenAPI.ServeHTTP(w, r)
			return
		}
	case p == "/":
		writeJSON(w, http.StatusOK, map[string][]string{"paths": s.disc.rootPaths()})
		return
	}
	if s.disc.serve(w, r) || s.serveOIDC(w, r) {
		return
	}
	info, ok := parseRequest(r)
	if !ok {
		writeNotFound(w, r)
		return
	}
	res := s.byPath[pathKey(info.Group, info.Version, info.Resource)]
	if res == nil {
		writeNotFound(w, r)
		return
	}
	if res.info.Namespaced == (info.Namespace == "") && info.Verb != "list" && info.Verb != "watch" {
		// Namespaced objects are addressed inside a namespace, cluster
		// objects outside one; only collections span namespaces.
		writeNotFound(w, r)
		return
	}
	if info.Subresource == "" && res.info.Verbs != nil && !slices.Contains(res.info.Verbs, info.Verb) {
		writeError(w, r, methodNotSupported(res, info.Verb))
		return
	}
	if s.serveComputed(w, r, info, res) {
		return
	}
	if res.info.Virtual && info.Verb != "create" || info.Subresource == "token" && info.Verb != "create" {
		writeError(w, r, methodNotSupported(res, info.Verb))
		return
	}
	if (info.Subresource == "binding" || info.Subresource == "eviction") && info.Verb != "create" || info.Subresource == "finalize" && info.Verb != "update" {
		writeError(w, r, methodNotSupported(res, info.Verb))
		return
	}
	if info.Subresource != "" && !res.info.Has(info.Subresource) {
		writeNotFound(w, r)
		return
	}
	if connectSubresources[info.Subresource] {
		s.connect(w, r, info, res)
		return
	}
	s.serveResource(w, r, info, res)
}

func (s *APIServer) serveResource(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	switch info.Verb {
	case "get":
		s.get(w, r, info, res)
	case "list":
		s.list(w, r, info, res)
	case "watch":
		s.watch(w, r, info, res)
	case "create":
		if res.info.Virtual {
			s.review(w, r, info, res)
			return
		}
		if info.Subresource == "token" {
			s.tokenRequest(w, r, info, res)
			return
		}
		if info.Subresource == "binding" {
			s.bind(w, r, info, res)
			return
		}
		if info.Subresource == "eviction" {
			s.evict(w, r, info, res)
			return
		}
		if info.Name != "" {
			writeError(w, r, methodNotSupported(res, info.Verb))
			return
		}
		s.create(w, r, info, res)
	case "update":
		s.update(w, r, info, res)
	case "patch":
		s.patch(w, r, info, res)
	case "delete":
		if info.Subresource != "" {
			writeError(w, r, methodNotSupported(res, info.Verb))
			return
		}
		s.delete(w, r, info, res)
	case "deletecollection":
		s.deleteCollection(w, r, info, res)
	default:
		writeError(w, r, methodNotSupported(res, info.Verb))
	}
}
