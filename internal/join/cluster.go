package join

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/auth"
)

// ClusterConfig is what every agent learns from the server at start
// (k3s's agents do the same): the settings the whole cluster shares.
type ClusterConfig struct {
	// ClusterCIDR holds every node's pod CIDR (--cluster-cidr).
	ClusterCIDR string `json:"clusterCIDR"`
	// ServiceCIDR is the Services' cluster IP range (--service-cidr).
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterDNS is the cluster DNS Service's IP (--cluster-dns).
	ClusterDNS string `json:"clusterDNS"`
	// ClusterDomain is the DNS domain of the cluster (--cluster-domain).
	ClusterDomain string `json:"clusterDomain"`
	// FlannelBackend routes pods between nodes: vxlan, host-gw or none
	// (--flannel-backend).
	FlannelBackend string `json:"flannelBackend"`
}

// serveClusterConfig answers GET PathPrefix+"config" for nodes and
// administrators.
func (h *Handler) serveClusterConfig(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	u, ok, err := h.Authenticator.AuthenticateRequest(r)
	if err != nil || !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !inGroup(u, auth.NodesGroup) && !inGroup(u, auth.SystemPrivileged) {
		http.Error(w, fmt.Sprintf("user %q is not a node", u.Name), http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.Cluster)
}

// FetchClusterConfig asks the server rc points at for the cluster's
// settings, with rc's identity (a node's).
func FetchClusterConfig(ctx context.Context, rc *rest.Config) (ClusterConfig, error) {
	c, err := rest.HTTPClientFor(rc)
	if err != nil {
		return ClusterConfig{}, fmt.Errorf("join: %w", err)
	}
	body, err := fetch(ctx, c, http.MethodGet, rc.Host+PathPrefix+"config", "") // c carries rc's credentials
	if err != nil {
		return ClusterConfig{}, err
	}
	var cc ClusterConfig
	if err := json.Unmarshal(body, &cc); err != nil {
		return ClusterConfig{}, fmt.Errorf("join: bad cluster config: %w", err)
	}
	return cc, nil
}
