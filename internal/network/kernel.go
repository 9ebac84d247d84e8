package network

import (
	"net"
	"net/netip"
)

// route is one IPv4 route the router owns. Comparable, so programmed
// state can be diffed with ==.
type route struct {
	Dst netip.Prefix
	Gw  netip.Addr
	// Dev is the output device; "" lets the kernel pick the link holding
	// Gw (host-gw).
	Dev string
	// Onlink tells the kernel Gw is reachable on Dev although no address
	// of Dev covers it (vxlan: the gateway is the peer's vtep address).
	Onlink bool
}

// neighbor is a permanent ARP entry IP → MAC on Dev.
type neighbor struct {
	Dev string
	IP  netip.Addr
	MAC string
}

// fdbEntry is a permanent forwarding entry on a vxlan device: frames for
// MAC are sent in UDP to Dst.
type fdbEntry struct {
	Dev string
	MAC string
	Dst netip.Addr
}

// vxlanLink describes the vxlan device.
type vxlanLink struct {
	Name     string
	VNI      int
	Port     int
	Local    netip.Addr
	Underlay int // ifindex of the link holding Local
	MTU      int
	MAC      net.HardwareAddr
}

// kernel is the part of the node's network stack the router changes.
// Every method is idempotent: adding what exists replaces it, deleting
// what is absent succeeds. Methods are called from one goroutine at a
// time.
type kernel interface {
	// Underlay returns the ifindex and MTU of the link holding ip.
	Underlay(ip netip.Addr) (index, mtu int, err error)
	// EnableForwarding sets net.ipv4.ip_forward=1.
	EnableForwarding() error

	// EnsureVXLAN creates the device, or recreates it when its VNI,
	// port, local address or underlay differ, sets its MTU and MAC and
	// brings it up. Addresses are left alone.
	EnsureVXLAN(l vxlanLink) error
	// SetAddress makes p the only IPv4 address of dev.
	SetAddress(dev string, p netip.Prefix) error
	// DeleteLink removes dev with every route, neighbor and FDB entry on
	// it.
	DeleteLink(dev string) error

	// Reachable reports whether ip is on a directly connected network
	// (the kernel would send to it without a gateway).
	Reachable(ip netip.Addr) (bool, error)
	ReplaceRoute(r route) error
	DeleteRoute(r route) error
	// DeleteOwnRoutes deletes every route the router added (by any run of
	// it) whose destination is inside within: what a crash left behind.
	DeleteOwnRoutes(within netip.Prefix) error
	SetNeighbor(n neighbor) error
	DeleteNeighbor(n neighbor) error
	SetFDB(f fdbEntry) error
	DeleteFDB(f fdbEntry) error
}

// entries is what the router programs for one peer node.
type entries struct {
	Routes    []route
	Neighbors []neighbor
	FDB       []fdbEntry
}

func (e entries) empty() bool {
	return len(e.Routes) == 0 && len(e.Neighbors) == 0 && len(e.FDB) == 0
}

// desiredEntries is what backend needs in the kernel to reach p's pods.
// It is pure: the host-gw reachability check is the caller's.
func desiredEntries(backend, dev string, p peer) entries {
	switch backend {
	case BackendVXLAN:
		// As flannel: the peer's vtep answers for the first address of its
		// pod range, reached on-link through the vxlan device; ARP for it
		// is pre-filled and the FDB says which host carries that MAC.
		// The neighbor and FDB entries go in before the route so the
		// kernel never ARPs on the device.
		vtep := p.podCIDR.Addr()
		return entries{
			Neighbors: []neighbor{{Dev: dev, IP: vtep, MAC: p.vtepMAC}},
			FDB:       []fdbEntry{{Dev: dev, MAC: p.vtepMAC, Dst: p.ip}},
			Routes:    []route{{Dst: p.podCIDR, Gw: vtep, Dev: dev, Onlink: true}},
		}
	case BackendHostGW:
		return entries{Routes: []route{{Dst: p.podCIDR, Gw: p.ip}}}
	}
	return entries{}
}
