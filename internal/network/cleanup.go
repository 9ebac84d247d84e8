package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// CleanupConfig names what Cleanup removes.
type CleanupConfig struct {
	// Bridge is the pods' bridge (default cni0); its veths go with it.
	Bridge string
	// Device is the vxlan device (default flannel.1).
	Device string
	// ClusterCIDR bounds the routes removed: those tagged with the
	// router's route protocol whose destination is inside it. Required.
	ClusterCIDR string
}

// Cleanup removes, from the calling thread's network namespace, what a
// node's pod network leaves when its agent was stopped or killed: the
// veths attached to the bridge and the bridge itself, the vxlan device
// (with its ARP and FDB entries), the routes the Router tagged inside
// the cluster CIDR, and the nftables table ip skiff-net. What is absent
// is skipped; every step is tried and the errors are joined. It is for
// `skiff killall`, with no agent running: a running Router or CNI plugin
// would put things back.
func Cleanup(ctx context.Context, c CleanupConfig) error {
	if c.Bridge == "" {
		c.Bridge = "cni0"
	}
	if c.Device == "" {
		c.Device = DefaultDevice
	}
	cluster, err := netip.ParsePrefix(c.ClusterCIDR)
	if err != nil || !cluster.Addr().Is4() {
		return fmt.Errorf("%w: cluster CIDR %q is not an IPv4 prefix", ErrBadConfig, c.ClusterCIDR)
	}
	h := &netlink.Handle{}
	k := &netlinkKernel{h: h}
	var errs []error
	if err := deleteBridgePorts(h, c.Bridge); err != nil {
		errs = append(errs, err)
	}
	if err := removeBridge(h, c.Bridge); err != nil {
		errs = append(errs, err)
	}
	if err := k.DeleteOwnRoutes(cluster.Masked()); err != nil {
		errs = append(errs, err)
	}
	if err := k.DeleteLink(c.Device); err != nil {
		errs = append(errs, err)
	}
	nft, err := newNFT()
	if err == nil {
		err = deleteMasq(ctx, nft)
	}
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteBridgePorts deletes the veths whose master is the bridge: the
// host ends of pods' interfaces. A missing bridge has none.
func deleteBridgePorts(h *netlink.Handle, bridge string) error {
	br, err := h.LinkByName(bridge)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("network: bridge %s: %w", bridge, err)
	}
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("network: list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if l.Type() != "veth" || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		if err := h.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("network: delete %s: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}
