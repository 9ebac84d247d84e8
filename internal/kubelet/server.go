package kubelet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// The agent's HTTPS server (upstream's kubelet port 10250).
//
// Authentication: a client certificate signed by the cluster CA (the CA
// of the agent's own kubeconfig); requests without one are refused with
// 401. The API server dials with a certificate of its own (see
// apiserver.Config.KubeletClientCert).
//
// Authorization: a SubjectAccessReview asks the API server whether the
// certificate's user may use the nodes/<subresource> of this node, with the
// subresource and verb upstream's kubelet uses (nodes/proxy for logs, exec,
// attach and port-forward; the HTTP method names the verb). Decisions are
// cached: allowed for 5 min, denied for 30 s, as upstream's defaults.
//
// Serving certificate: self-signed, made at each start, until
// SetCertificate gives another; RunAgent's ServingCertManager gets one
// signed by the cluster's kubernetes.io/kubelet-serving signer through a
// CertificateSigningRequest and renews it (upstream's
// --rotate-server-certificates). The certificate is chosen per handshake,
// so a new one applies without a restart.

// ServerConfig configures the agent's HTTPS server. Listener, ClientCAs,
// Authorizer and Runtime are required.
type ServerConfig struct {
	// Listener is where the server accepts TCP connections; TLS is added.
	Listener net.Listener
	// NodeName names the node in authorization checks and the serving
	// certificate; NodeIP is added to the certificate.
	NodeName string
	NodeIP   net.IP
	// ClientCAs verify client certificates.
	ClientCAs *x509.CertPool
	// Authorizer decides whether an authenticated user may make a request.
	Authorizer Authorizer
	// Runtime is the CRI runtime service: containers are found by their
	// labels, and Exec/Attach/PortForward give the streaming URLs.
	Runtime runtimeapi.RuntimeServiceClient
	// Handlers are further routes ("GET /stats/summary" → handler), served
	// behind the same authentication and authorization.
	Handlers map[string]http.Handler
	// LogPollInterval is how often a followed log is read again at its
	// end (default 100 ms).
	LogPollInterval time.Duration
	Logger          *slog.Logger
	Clock           clock.Clock
}

// Attributes is an authorization question: may User (in Groups) do Verb
// on nodes/Subresource of node Name.
type Attributes struct {
	User        string
	Groups      []string
	Verb        string
	Subresource string
	Name        string
}

// Authorizer decides kubelet API requests. A non-nil error means no
// decision could be made; the request is then refused.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, reason string, err error)
}

// Server is the agent's HTTPS server. Create it with NewServer; Run serves.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	srv *http.Server
	// cert is the serving certificate.
	cert atomic.Pointer[tls.Certificate]
}

// ErrServerConfig is returned by NewServer for a missing required field.
var ErrServerConfig = errors.New("kubelet: incomplete server configuration")

// NewServer checks cfg and makes the serving certificate; it starts nothing.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Listener == nil || cfg.ClientCAs == nil || cfg.Authorizer == nil || cfg.Runtime == nil {
		return nil, ErrServerConfig
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.LogPollInterval == 0 {
		cfg.LogPollInterval = 100 * time.Millisecond
	}
	cert, err := selfSignedServingCert(cfg.NodeName, cfg.NodeIP, cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "kubelet-server")}
	s.cert.Store(&cert)
	s.srv = &http.Server{
		Handler: s.handler(),
		TLSConfig: &tls.Config{
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return s.cert.Load(), nil
			},
			ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs:  cfg.ClientCAs,
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// SetCertificate makes c the serving certificate of new connections.
func (s *Server) SetCertificate(c *tls.Certificate) {
	if c != nil {
		s.cert.Store(c)
	}
}

// Certificate is the current serving certificate.
func (s *Server) Certificate() *tls.Certificate { return s.cert.Load() }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.cfg.Listener.Addr().(*net.TCPAddr).Port }

// Run serves until ctx ends, then closes every connection (streams
// included) and returns.
func (s *Server) Run(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(tls.NewListener(s.cfg.Listener, s.srv.TLSConfig)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("kubelet: server: %w", err)
	case <-ctx.Done():
	}
	_ = s.srv.Close()
	<-errc
	return nil
}

// handler routes the kubelet API behind authentication and authorization.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.containerLogs)
	for _, p := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.exec)
		mux.HandleFunc("POST "+p, s.exec)
	}
	for _, p := range []string{"/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.attach)
		mux.HandleFunc("POST "+p, s.attach)
	}
	for _, p := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, s.portForward)
		mux.HandleFunc("POST "+p, s.portForward)
	}
	for pattern, h := range s.cfg.Handlers {
		mux.Handle(pattern, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.VerifiedChains[0][0]
		a := Attributes{
			User:        leaf.Subject.CommonName,
			Groups:      leaf.Subject.Organization,
			Verb:        verbOf(r.Method),
			Subresource: subresourceOf(r.URL.Path),
			Name:        s.cfg.NodeName,
		}
		allowed, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
		if err != nil || !allowed {
			if err != nil {
				s.log.Warn("authorizing a request", "user", a.User, "path", r.URL.Path, "err", err)
			}
			msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", a.User, a.Verb, a.Subresource)
			if reason != "" {
				msg += ": " + reason
			}
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// verbOf maps an HTTP method to an authorization verb, as upstream's
// kubelet does.
func verbOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}

// subresourceOf names the nodes subresource a kubelet path is authorized
// as: upstream's mapping, where everything not listed is nodes/proxy.
func subresourceOf(path string) string {
	for prefix, sub := range map[string]string{"/stats": "stats", "/metrics": "metrics", "/logs": "log", "/spec": "spec", "/checkpoint": "checkpoint", "/configz": "configz", "/healthz": "healthz", "/pods": "pods"} {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return sub
		}
	}
	return "proxy"
}

// SARAuthorizer asks the API server through SubjectAccessReviews and
// caches the answers (allowed for AllowTTL, denied for DenyTTL).
type SARAuthorizer struct {
	Client   authorizationclient.SubjectAccessReviewInterface
	AllowTTL time.Duration
	DenyTTL  time.Duration
	Clock    clock.PassiveClock

	// mu guards cache.
	mu    sync.Mutex
	cache map[string]sarEntry
}

type sarEntry struct {
	allowed bool
	reason  string
	expires time.Time
}

var _ Authorizer = (*SARAuthorizer)(nil)

// NewSARAuthorizer returns a SARAuthorizer with upstream's cache TTLs.
func NewSARAuthorizer(c authorizationclient.SubjectAccessReviewInterface) *SARAuthorizer {
	return &SARAuthorizer{Client: c, AllowTTL: 5 * time.Minute, DenyTTL: 30 * time.Second, Clock: clock.RealClock{}}
}

// Authorize implements Authorizer.
func (a *SARAuthorizer) Authorize(ctx context.Context, at Attributes) (bool, string, error) {
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s", at.User, strings.Join(at.Groups, ","), at.Verb, at.Subresource, at.Name)
	now := a.Clock.Now()
	a.mu.Lock()
	if e, ok := a.cache[key]; ok && now.Before(e.expires) {
		a.mu.Unlock()
		return e.allowed, e.reason, nil
	}
	a.mu.Unlock()
	sar, err := a.Client.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: at.User, Groups: at.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: at.Verb, Resource: "nodes", Subresource: at.Subresource, Name: at.Name, Version: "v1",
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, "", err
	}
	e := sarEntry{allowed: sar.Status.Allowed, reason: sar.Status.Reason, expires: now.Add(a.DenyTTL)}
	if e.allowed {
		e.expires = now.Add(a.AllowTTL)
	}
	a.mu.Lock()
	if a.cache == nil || len(a.cache) > 1000 {
		a.cache = map[string]sarEntry{}
	}
	a.cache[key] = e
	a.mu.Unlock()
	return e.allowed, e.reason, nil
}

// selfSignedServingCert makes the server's certificate for the node name,
// its IP, localhost and 127.0.0.1, valid for a year.
func selfSignedServingCert(nodeName string, nodeIP net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kubelet: serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kubelet: serial number: %w", err)
	}
	host := nodeName
	if host == "" {
		host = "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host + "@" + fmt.Sprint(now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{host, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if host == "localhost" {
		tmpl.DNSNames = tmpl.DNSNames[:1]
	}
	if nodeIP != nil && !nodeIP.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, nodeIP)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kubelet: serving certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// kubeletPort is the port published in the Node's daemonEndpoints.
func (k *Kubelet) kubeletPort() int32 {
	if k.cfg.KubeletPort > 0 {
		return int32(k.cfg.KubeletPort)
	}
	return KubeletPort
}

// newAgentServer makes the node's HTTPS server for RunAgent: it listens
// on every address at cfg.KubeletPort (0: a free port), trusts client
// certificates signed by the CA of the agent's own API connection, and
// authorizes through SubjectAccessReviews.
func newAgentServer(cfg AgentConfig, client kubernetes.Interface, rt runtimeapi.RuntimeServiceClient, handlers map[string]http.Handler) (*Server, error) {
	cas, err := restConfigCAs(cfg.RestConfig)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.KubeletPort)))
	if err != nil {
		return nil, fmt.Errorf("kubelet: HTTPS server: %w", err)
	}
	srv, err := NewServer(ServerConfig{
		Listener:   ln,
		NodeName:   cfg.NodeName,
		NodeIP:     cfg.NodeIP,
		ClientCAs:  cas,
		Authorizer: NewSARAuthorizer(client.AuthorizationV1().SubjectAccessReviews()),
		Runtime:    rt,
		Handlers:   handlers,
		Logger:     cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	return srv, nil
}

// restConfigCAs returns the CA certificates the agent trusts the API
// server with; the same CA signs the API server's kubelet client
// certificate.
func restConfigCAs(rc *rest.Config) (*x509.CertPool, error) {
	data := rc.TLSClientConfig.CAData
	if len(data) == 0 && rc.TLSClientConfig.CAFile != "" {
		var err error
		if data, err = os.ReadFile(rc.TLSClientConfig.CAFile); err != nil {
			return nil, fmt.Errorf("kubelet: cluster CA: %w", err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("kubelet: the agent's API connection names no CA certificate; its HTTPS server could not authenticate the API server")
	}
	return pool, nil
}
