package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes the router adds (rtm_protocol; `ip route`
// shows it as "proto 115"), so a later run finds what a crashed one left.
// Unassigned in iproute2's rt_protos.
const routeProtocol netlink.RouteProtocol = 115

// netlinkKernel is the kernel on rtnetlink.
type netlinkKernel struct {
	// h talks to one network namespace; a zero Handle uses the calling
	// thread's.
	h *netlink.Handle
	// enter runs fn in that namespace, for what netlink does not reach
	// (sysctls); nil runs fn directly.
	enter func(fn func() error) error
}

var _ kernel = (*netlinkKernel)(nil)

func (k *netlinkKernel) do(fn func() error) error {
	if k.enter == nil {
		return fn()
	}
	return k.enter(fn)
}

func (k *netlinkKernel) Underlay(ip netip.Addr) (int, int, error) {
	addrs, err := k.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return 0, 0, fmt.Errorf("network: list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
			l, err := k.h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return 0, 0, fmt.Errorf("network: link of %s: %w", ip, err)
			}
			return l.Attrs().Index, l.Attrs().MTU, nil
		}
	}
	return 0, 0, fmt.Errorf("network: no interface holds node IP %s", ip)
}

func (k *netlinkKernel) EnableForwarding() error {
	return k.do(func() error {
		const path = "/proc/sys/net/ipv4/ip_forward"
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == "1" {
			return nil
		}
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("network: enable forwarding: %w", err)
		}
		return nil
	})
}

func (k *netlinkKernel) EnsureVXLAN(want vxlanLink) error {
	spec := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: want.Name, MTU: want.MTU, HardwareAddr: want.MAC},
		VxlanId:      want.VNI,
		VtepDevIndex: want.Underlay,
		SrcAddr:      want.Local.AsSlice(),
		Port:         want.Port,
		Learning:     false,
	}
	l, err := k.h.LinkByName(want.Name)
	switch {
	case err == nil:
		if v, ok := l.(*netlink.Vxlan); ok && vxlanMatches(v, spec) {
			break
		}
		// Another device under our name, or ours with other settings:
		// settings such as the VNI cannot change on a live device.
		if err := k.h.LinkDel(l); err != nil {
			return fmt.Errorf("network: replace %s: %w", want.Name, err)
		}
		l = nil
	case isNotFound(err):
		l = nil
	default:
		return fmt.Errorf("network: %s: %w", want.Name, err)
	}
	if l == nil {
		if err := k.h.LinkAdd(spec); err != nil {
			return fmt.Errorf("network: create %s: %w", want.Name, err)
		}
		if l, err = k.h.LinkByName(want.Name); err != nil {
			return fmt.Errorf("network: %s: %w", want.Name, err)
		}
	}
	if l.Attrs().MTU != want.MTU {
		if err := k.h.LinkSetMTU(l, want.MTU); err != nil {
			return fmt.Errorf("network: %s mtu: %w", want.Name, err)
		}
	}
	if want.MAC != nil && l.Attrs().HardwareAddr.String() != want.MAC.String() {
		if err := k.h.LinkSetHardwareAddr(l, want.MAC); err != nil {
			return fmt.Errorf("network: %s mac: %w", want.Name, err)
		}
	}
	if err := k.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("network: %s up: %w", want.Name, err)
	}
	return nil
}

func vxlanMatches(have, want *netlink.Vxlan) bool {
	return have.VxlanId == want.VxlanId && have.Port == want.Port &&
		have.SrcAddr.Equal(want.SrcAddr) && have.VtepDevIndex == want.VtepDevIndex &&
		!have.Learning && !have.GBP
}

func (k *netlinkKernel) SetAddress(dev string, p netip.Prefix) error {
	l, err := k.h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("network: %s: %w", dev, err)
	}
	return setOnlyAddress(k.h, l, p)
}

// setOnlyAddress makes p the only address of its family on l.
func setOnlyAddress(h *netlink.Handle, l netlink.Link, p netip.Prefix) error {
	family := netlink.FAMILY_V4
	if p.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(l, family)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("network: addresses of %s: %w", l.Attrs().Name, err)
	}
	found := false
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ones, _ := a.Mask.Size()
		got, _ := netip.AddrFromSlice(a.IP)
		if got.Unmap() == p.Addr() && ones == p.Bits() {
			found = true
			continue
		}
		if family == netlink.FAMILY_V6 && got.IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(l, &a); err != nil && !isNotFound(err) {
			return fmt.Errorf("network: remove %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	if err := h.AddrReplace(l, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
		return fmt.Errorf("network: add %s to %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteLink(dev string) error {
	l, err := k.h.LinkByName(dev)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network: %s: %w", dev, err)
	}
	if err := k.h.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete %s: %w", dev, err)
	}
	return nil
}

func (k *netlinkKernel) Reachable(ip netip.Addr) (bool, error) {
	rs, err := k.h.RouteGet(ip.AsSlice())
	if err != nil {
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) {
			return false, nil
		}
		return false, fmt.Errorf("network: route to %s: %w", ip, err)
	}
	return len(rs) > 0 && rs[0].Gw == nil, nil
}

func (k *netlinkKernel) nlRoute(r route) (*netlink.Route, error) {
	nr := &netlink.Route{
		Dst:      ipNet(r.Dst),
		Gw:       r.Gw.AsSlice(),
		Protocol: routeProtocol,
		Scope:    netlink.SCOPE_UNIVERSE,
	}
	if r.Dev != "" {
		l, err := k.h.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("network: %s: %w", r.Dev, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	if r.Onlink {
		nr.SetFlag(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

func (k *netlinkKernel) ReplaceRoute(r route) error {
	nr, err := k.nlRoute(r)
	if err != nil {
		return err
	}
	if err := k.h.RouteReplace(nr); err != nil {
		return fmt.Errorf("network: route %s via %s: %w", r.Dst, r.Gw, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteRoute(r route) error {
	nr, err := k.nlRoute(r)
	if isNotFound(err) {
		return nil // the device went, and its routes with it
	}
	if err != nil {
		return err
	}
	if err := k.h.RouteDel(nr); err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete route %s via %s: %w", r.Dst, r.Gw, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteOwnRoutes(within netip.Prefix) error {
	rs, err := k.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("network: list routes: %w", err)
	}
	var errs []error
	for i := range rs {
		if rs[i].Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(rs[i].Dst.IP)
		if !ok || !within.Contains(dst.Unmap()) {
			continue
		}
		if err := k.h.RouteDel(&rs[i]); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("network: delete route %s: %w", rs[i].Dst, err))
		}
	}
	return errors.Join(errs...)
}

func (k *netlinkKernel) linkIndex(dev string) (int, error) {
	l, err := k.h.LinkByName(dev)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}

func (k *netlinkKernel) arp(n neighbor) (*netlink.Neigh, error) {
	idx, err := k.linkIndex(n.Dev)
	if err != nil {
		return nil, err
	}
	mac, err := net.ParseMAC(n.MAC)
	if err != nil {
		return nil, err
	}
	return &netlink.Neigh{
		LinkIndex:    idx,
		Family:       netlink.FAMILY_V4,
		State:        netlink.NUD_PERMANENT,
		Type:         unix.RTN_UNICAST,
		IP:           n.IP.AsSlice(),
		HardwareAddr: mac,
	}, nil
}

func (k *netlinkKernel) SetNeighbor(n neighbor) error {
	nn, err := k.arp(n)
	if err == nil {
		err = k.h.NeighSet(nn)
	}
	if err != nil {
		return fmt.Errorf("network: neighbor %s lladdr %s dev %s: %w", n.IP, n.MAC, n.Dev, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteNeighbor(n neighbor) error {
	nn, err := k.arp(n)
	if err == nil {
		err = k.h.NeighDel(nn)
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete neighbor %s dev %s: %w", n.IP, n.Dev, err)
	}
	return nil
}

func (k *netlinkKernel) fdb(f fdbEntry) (*netlink.Neigh, error) {
	idx, err := k.linkIndex(f.Dev)
	if err != nil {
		return nil, err
	}
	mac, err := net.ParseMAC(f.MAC)
	if err != nil {
		return nil, err
	}
	return &netlink.Neigh{
		LinkIndex:    idx,
		Family:       unix.AF_BRIDGE,
		Flags:        netlink.NTF_SELF,
		State:        netlink.NUD_PERMANENT,
		IP:           f.Dst.AsSlice(),
		HardwareAddr: mac,
	}, nil
}

func (k *netlinkKernel) SetFDB(f fdbEntry) error {
	nn, err := k.fdb(f)
	if err == nil {
		err = k.h.NeighSet(nn)
	}
	if err != nil {
		return fmt.Errorf("network: fdb %s dst %s dev %s: %w", f.MAC, f.Dst, f.Dev, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteFDB(f fdbEntry) error {
	nn, err := k.fdb(f)
	if err == nil {
		err = k.h.NeighDel(nn)
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete fdb %s dev %s: %w", f.MAC, f.Dev, err)
	}
	return nil
}

// isNotFound reports errors that mean "already gone".
func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return err != nil && (errors.As(err, &lnf) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EADDRNOTAVAIL))
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
