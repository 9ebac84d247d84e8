package certificates

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// ApproverConfig holds what an Approver needs; Client and CSRs are
// required. Without Nodes, kubelet-serving requests are not approved.
type ApproverConfig struct {
	Client        kubernetes.Interface
	CSRs          certinformers.CertificateSigningRequestInformer
	Nodes         coreinformers.NodeInformer
	Clock         clock.WithTicker
	Logger        *slog.Logger
	Workers       int
	MaxRetryDelay time.Duration
}

// Approver approves node certificate requests after SubjectAccessReviews.
type Approver struct {
	cfg    ApproverConfig
	lister certlisters.CertificateSigningRequestLister
	nodes  corelisters.NodeLister
	log    *slog.Logger
}

// recognizer is one kind of request the approver knows: what it looks
// like, the permission the requester needs, and the approval message.
type recognizer struct {
	recognize   func(a *Approver, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool
	subresource string
	message     string
}

// recognizers are tried in order; the first whose review allows wins.
var recognizers = []recognizer{
	{isSelfNodeClient, "selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."},
	{isNodeClient, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."},
	{isSelfNodeServing, "selfnodeserving", "Auto approving self kubelet serving certificate after SubjectAccessReview."},
}

// NewApprover builds an Approver; it starts nothing.
func NewApprover(cfg ApproverConfig) *Approver {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	a := &Approver{cfg: cfg, lister: cfg.CSRs.Lister(), log: cfg.Logger.With("controller", "csrapproving")}
	if cfg.Nodes != nil {
		a.nodes = cfg.Nodes.Lister()
		cfg.Nodes.Informer() // registered with the factory before it starts
	}
	return a
}

// Run approves until ctx ends.
func (a *Approver) Run(ctx context.Context) error {
	return runQueue(ctx, "csrapproving", a.cfg.CSRs.Informer(), a.cfg.Clock, a.log, a.cfg.MaxRetryDelay, a.cfg.Workers, a.Sync)
}

// Sync approves the named request if a recognizer knows it and the
// requester passes its SubjectAccessReview. Requests already approved,
// denied or issued are left alone.
func (a *Approver) Sync(ctx context.Context, name string) (ctrlutil.Result, error) {
	cached, err := a.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if approved, denied := approval(cached); approved || denied || len(cached.Status.Certificate) > 0 {
		return ctrlutil.Result{}, nil
	}
	req, err := ParseRequest(cached.Spec.Request)
	if err != nil {
		return ctrlutil.Result{}, nil
	}
	for _, r := range recognizers {
		if !r.recognize(a, cached, req) {
			continue
		}
		ok, err := a.authorize(ctx, cached, r.subresource)
		if err != nil {
			return ctrlutil.Result{}, err
		}
		if !ok {
			continue
		}
		csr := cached.DeepCopy()
		now := metav1.NewTime(a.cfg.Clock.Now())
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
			Reason: ReasonAutoApproved, Message: r.message, LastUpdateTime: now,
		})
		_, err = a.cfg.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{})
		if err == nil {
			a.log.Info("approved", "csr", name, "as", r.subresource)
		}
		return ctrlutil.Result{}, ignoreGone(err)
	}
	return ctrlutil.Result{}, nil
}

// authorize asks whether the requester may create
// certificatesigningrequests/<subresource>.
func (a *Approver) authorize(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: "certificates.k8s.io", Version: "*", Resource: "certificatesigningrequests",
			Subresource: subresource, Verb: "create",
		},
	}}
	got, err := a.cfg.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	return got.Status.Allowed, nil
}

func isNodeClient(_ *Approver, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && ValidateKubeletClient(req, csr.Spec.Usages) == nil
}

func isSelfNodeClient(a *Approver, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return csr.Spec.Username == req.Subject.CommonName && isNodeClient(a, csr, req)
}

// isSelfNodeServing recognizes a node asking for its own serving
// certificate for names and addresses its Node has.
func isSelfNodeServing(a *Approver, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	if a.nodes == nil || csr.Spec.SignerName != certificatesv1.KubeletServingSignerName ||
		csr.Spec.Username != req.Subject.CommonName || ValidateKubeletServing(req, csr.Spec.Usages) != nil {
		return false
	}
	node, err := a.nodes.Get(strings.TrimPrefix(req.Subject.CommonName, NodeUserPrefix))
	if err != nil {
		return false
	}
	return NodeOwnsNames(node, req.DNSNames, req.IPAddresses)
}

// NodeOwnsNames reports whether every DNS name is the node's name or one
// of its Hostname, InternalDNS or ExternalDNS addresses, and every IP one
// of its InternalIP or ExternalIP addresses.
func NodeOwnsNames(node *corev1.Node, dnsNames []string, ips []net.IP) bool {
	names := []string{node.Name}
	var addrs []net.IP
	for _, a := range node.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			names = append(names, a.Address)
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				addrs = append(addrs, ip)
			}
		}
	}
	for _, n := range dnsNames {
		if !slices.Contains(names, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(addrs, ip.Equal) {
			return false
		}
	}
	return true
}
