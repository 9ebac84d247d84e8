package server

import (
	"net"
)

// servingSANs are the names the API server's certificate carries besides
// the fixed ones (pki adds localhost, the kubernetes Service names, the
// first service IP and the host name): --tls-san, --advertise-address, a
// specific --bind-address and, as k3s does, the host's own addresses, so
// an agent joining by any of them verifies the server. Addresses inside
// the pod or service ranges (the pods' bridge, the VXLAN device) are left
// out: they are not how other machines reach the server. pki re-issues the
// certificate, with the same CA, when this set changes.
func servingSANs(cfg Config, hostAddrs []net.IP, exclude []*net.IPNet) []string {
	out := append([]string{}, cfg.TLSSANs...)
	for _, a := range []string{cfg.AdvertiseAddress, cfg.BindAddress} {
		if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() {
			out = append(out, ip.String())
		}
	}
next:
	for _, ip := range hostAddrs {
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		for _, n := range exclude {
			if n.Contains(ip) {
				continue next
			}
		}
		out = append(out, ip.String())
	}
	return out
}

// hostAddresses lists this machine's interface addresses.
func hostAddresses() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}
