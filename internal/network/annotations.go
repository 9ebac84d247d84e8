package network

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// The Node annotations flannel's kube subnet manager publishes; Skiff
// writes the same keys so tools that read them (and a flannel node in the
// same cluster) understand each other.
const (
	AnnotationBackendType       = "flannel.alpha.coreos.com/backend-type"
	AnnotationBackendData       = "flannel.alpha.coreos.com/backend-data"
	AnnotationPublicIP          = "flannel.alpha.coreos.com/public-ip"
	AnnotationKubeSubnetManager = "flannel.alpha.coreos.com/kube-subnet-manager"
)

// Backends Router accepts in RouterConfig.Backend.
const (
	BackendVXLAN  = "vxlan"
	BackendHostGW = "host-gw"
	BackendNone   = "none"
)

// ErrBadPeer marks a Node the router cannot route to (no pod CIDR, no
// address, unreadable annotations, another backend). Such a node is
// skipped until its next update; it is not retried.
var ErrBadPeer = errors.New("network: node not routable")

// errPending marks the refusals that are a normal stage of a node joining
// (no pod CIDR or annotations yet): logged quietly, no event.
var errPending = fmt.Errorf("%w yet", ErrBadPeer)

// vxlanData is the backend-data annotation of a vxlan node, as flannel
// writes it: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}.
type vxlanData struct {
	VNI     int    `json:"VNI"`
	VtepMAC string `json:"VtepMAC"`
}

// peer is what the router needs to know about another node, read from its
// Node object.
type peer struct {
	name    string
	podCIDR netip.Prefix // masked, IPv4
	ip      netip.Addr   // public-ip annotation, else InternalIP
	vtepMAC string       // vxlan only; canonical lower-case form
}

// parsePeer reads n for backend. Every refusal wraps ErrBadPeer and says
// why, so the caller can log it and wait for the node's next update.
func parsePeer(n *corev1.Node, backend string, cluster netip.Prefix) (peer, error) {
	p := peer{name: n.Name}
	cidr, err := nodePodCIDR(n)
	if err != nil {
		return p, err
	}
	if !cluster.Contains(cidr.Addr()) || cidr.Bits() < cluster.Bits() {
		return p, fmt.Errorf("%w: pod CIDR %s is outside the cluster CIDR %s", ErrBadPeer, cidr, cluster)
	}
	p.podCIDR = cidr
	if t, ok := n.Annotations[AnnotationBackendType]; ok && t != backend {
		return p, fmt.Errorf("%w: backend %q, this node runs %q", ErrBadPeer, t, backend)
	}
	if p.ip, err = nodeIP(n); err != nil {
		return p, err
	}
	if backend == BackendVXLAN {
		raw, ok := n.Annotations[AnnotationBackendData]
		if !ok {
			return p, fmt.Errorf("%w: no %s annotation", errPending, AnnotationBackendData)
		}
		var d vxlanData
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return p, fmt.Errorf("%w: %s: %v", ErrBadPeer, AnnotationBackendData, err)
		}
		mac, err := net.ParseMAC(d.VtepMAC)
		if err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return p, fmt.Errorf("%w: %s: VtepMAC %q is not a unicast Ethernet address", ErrBadPeer, AnnotationBackendData, d.VtepMAC)
		}
		p.vtepMAC = mac.String()
	}
	return p, nil
}

// nodePodCIDR returns the node's IPv4 pod range: the first IPv4 entry of
// spec.podCIDRs, else spec.podCIDR.
func nodePodCIDR(n *corev1.Node) (netip.Prefix, error) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	if len(cidrs) == 0 {
		return netip.Prefix{}, fmt.Errorf("%w: no pod CIDR", errPending)
	}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: pod CIDR %q: %v", ErrBadPeer, s, err)
		}
		if p.Addr().Is4() {
			return p.Masked(), nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%w: no IPv4 pod CIDR in %v", ErrBadPeer, cidrs)
}

// nodeIP is the address other nodes reach n at: the public-ip annotation
// when set (what flannel routes to), else the first IPv4 InternalIP.
func nodeIP(n *corev1.Node) (netip.Addr, error) {
	if s, ok := n.Annotations[AnnotationPublicIP]; ok {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() || !usable(a) {
			return netip.Addr{}, fmt.Errorf("%w: %s %q is not a usable IPv4 address", ErrBadPeer, AnnotationPublicIP, s)
		}
		return a, nil
	}
	for _, na := range n.Status.Addresses {
		if na.Type != corev1.NodeInternalIP {
			continue
		}
		if a, err := netip.ParseAddr(na.Address); err == nil && a.Is4() && usable(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: no %s annotation and no IPv4 InternalIP", errPending, AnnotationPublicIP)
}

func usable(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// ownAnnotations are the annotations this node publishes.
func ownAnnotations(backend string, ip netip.Addr, vni int, mac net.HardwareAddr) (map[string]string, error) {
	a := map[string]string{
		AnnotationBackendType:       backend,
		AnnotationPublicIP:          ip.String(),
		AnnotationKubeSubnetManager: "true",
	}
	data := []byte("null") // what flannel's host-gw backend writes
	if backend == BackendVXLAN {
		var err error
		if data, err = json.Marshal(vxlanData{VNI: vni, VtepMAC: mac.String()}); err != nil {
			return nil, err
		}
	}
	a[AnnotationBackendData] = string(data)
	return a, nil
}

// vtepMAC derives the vxlan device's MAC from the node name: stable across
// restarts, so peers' ARP and FDB entries stay right while the agent
// restarts (flannel picks a random one and relies on the peers catching
// up). Locally administered, unicast.
func vtepMAC(nodeName string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("skiff-vtep/" + nodeName))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
