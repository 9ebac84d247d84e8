package network

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// EnsureBridge creates the pods' Linux bridge name in the calling thread's
// network namespace, or fixes an existing one: gateway (e.g.
// 10.42.3.1/24, the first address of the node's pod CIDR) becomes its only
// address of that family, its MTU is set when mtu > 0, and it is brought
// up. Called before the first pod, it makes the node's gateway address
// exist early (cluster DNS listens on it); the CNI bridge plugin then
// finds the bridge and address in place and keeps them.
func EnsureBridge(name string, gateway netip.Prefix, mtu int) error {
	return ensureBridge(&netlink.Handle{}, name, gateway, mtu)
}

// RemoveBridge deletes the bridge; absent is fine. Pods' veths still
// attached are detached by the kernel, and lose their connectivity.
func RemoveBridge(name string) error {
	return removeBridge(&netlink.Handle{}, name)
}

func ensureBridge(h *netlink.Handle, name string, gateway netip.Prefix, mtu int) error {
	if name == "" || len(name) > 15 {
		return fmt.Errorf("network: bridge name %q: want 1 to 15 bytes", name)
	}
	if !gateway.IsValid() || gateway.Addr() == gateway.Masked().Addr() && gateway.Bits() < gateway.Addr().BitLen() {
		return fmt.Errorf("network: bridge gateway %v: want a host address with its prefix length, e.g. 10.42.3.1/24", gateway)
	}
	l, err := h.LinkByName(name)
	switch {
	case isNotFound(err):
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		if mtu > 0 {
			attrs.MTU = mtu
		}
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("network: create bridge %s: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return fmt.Errorf("network: bridge %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("network: bridge %s: %w", name, err)
	case l.Type() != "bridge":
		return fmt.Errorf("network: %s exists and is a %s, not a bridge", name, l.Type())
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("network: bridge %s mtu %d: %w", name, mtu, err)
		}
	}
	if err := setOnlyAddress(h, l, gateway); err != nil {
		return err
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("network: bridge %s up: %w", name, err)
	}
	return nil
}

func removeBridge(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network: bridge %s: %w", name, err)
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("network: %s is a %s, not a bridge", name, l.Type())
	}
	if err := h.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("network: delete bridge %s: %w", name, err)
	}
	return nil
}
