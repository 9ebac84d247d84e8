package server

import (
	"crypto/tls"
	"fmt"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// KubeletClientUser is the identity the API server presents to node
// agents when it proxies pods/log, exec, attach, portforward and
// nodes/proxy. Agents authorize it through a SubjectAccessReview of
// nodes/proxy; its group system:masters allows that, as kubeadm's
// apiserver-kubelet-client certificate does.
const KubeletClientUser = "system:kube-apiserver-kubelet-client"

// kubeletClient issues the API server's client certificate for node
// agents (a new one at each start; agents trust the cluster CA).
func (s *Server) kubeletClient() (*apiserver.KubeletClient, error) {
	pair, err := s.bundle.IssueClientCert(KubeletClientUser, []string{"system:masters"})
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	return &apiserver.KubeletClient{Cert: cert, DefaultPort: kubelet.KubeletPort}, nil
}
