package network

import (
	"fmt"
	"net/netip"
)

// Gateway is the pods' gateway on a node with the given pod CIDR: the
// range's first address after the network address (10.42.3.1 for
// 10.42.3.0/24), which the node's bridge holds and where the node's DNS
// server listens.
func Gateway(podCIDR string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network: pod CIDR %q: %w", podCIDR, err)
	}
	gw := p.Masked().Addr().Next()
	if !p.Contains(gw) || !gw.IsValid() {
		return netip.Addr{}, fmt.Errorf("network: pod CIDR %q has no room for a gateway", podCIDR)
	}
	return gw, nil
}
