package proxy

import (
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// conntracker clears UDP conntrack entries that would keep sending
// datagrams where they no longer belong. (TCP needs nothing: a stale TCP
// flow is reset by the endpoint.)
type conntracker interface {
	// clearStaleUDP deletes UDP flows addressed to a Service in targets
	// (or to a node port on nodeIPs) that were not translated (sent
	// while the Service had no endpoints) or were translated to an
	// address that is no longer one of its endpoints, and flows to gone,
	// addresses that are no longer UDP Services with endpoints. It
	// returns how many it deleted.
	clearStaleUDP(targets []udpTarget, gone []netip.AddrPort, nodeIPs []netip.Addr) (int, error)
}

// netlinkConntrack is conntracker on the kernel's conntrack table.
type netlinkConntrack struct{}

var _ conntracker = netlinkConntrack{}

func (netlinkConntrack) clearStaleUDP(targets []udpTarget, gone []netip.AddrPort, nodeIPs []netip.Addr) (int, error) {
	f := newStaleUDPFilter(targets, gone, nodeIPs)
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
	return int(n), err
}

// staleUDPFilter decides which flows are stale; see clearStaleUDP.
type staleUDPFilter struct {
	byDest     map[netip.AddrPort]*udpTarget
	byNodePort map[uint16]*udpTarget
	gone       map[netip.AddrPort]bool
	nodeIPs    map[netip.Addr]bool
}

func newStaleUDPFilter(targets []udpTarget, gone []netip.AddrPort, nodeIPs []netip.Addr) *staleUDPFilter {
	f := &staleUDPFilter{byDest: map[netip.AddrPort]*udpTarget{}, byNodePort: map[uint16]*udpTarget{},
		gone: map[netip.AddrPort]bool{}, nodeIPs: map[netip.Addr]bool{}}
	for i := range targets {
		t := &targets[i]
		for _, d := range t.dests {
			f.byDest[d] = t
		}
		if t.nodePort != 0 {
			f.byNodePort[uint16(t.nodePort)] = t
		}
	}
	for _, g := range gone {
		if f.byDest[g] == nil {
			f.gone[g] = true
		}
	}
	for _, a := range nodeIPs {
		f.nodeIPs[a] = true
	}
	return f
}

func (f *staleUDPFilter) MatchConntrackFlow(fl *netlink.ConntrackFlow) bool {
	if fl.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	dstIP, ok1 := netip.AddrFromSlice(fl.Forward.DstIP)
	replyIP, ok2 := netip.AddrFromSlice(fl.Reverse.SrcIP)
	if !ok1 || !ok2 {
		return false
	}
	dst := netip.AddrPortFrom(dstIP.Unmap(), fl.Forward.DstPort)
	reply := netip.AddrPortFrom(replyIP.Unmap(), fl.Reverse.SrcPort)
	t := f.byDest[dst]
	if t == nil && f.nodeIPs[dst.Addr()] {
		t = f.byNodePort[dst.Port()]
	}
	if t == nil {
		return f.gone[dst]
	}
	return reply == dst || !t.endpoints[reply]
}
