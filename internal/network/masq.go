package network

import (
	"context"
	"fmt"
	"net/netip"

	"sigs.k8s.io/knftables"
)

// MasqTable is the nftables table (family ip) the router owns.
const MasqTable = "skiff-net"

const (
	postroutingChain = "postrouting"
	forwardChain     = "forward"
	multicastV4      = "224.0.0.0/4"
)

// newNFT opens the router's table on the host's nft.
func newNFT() (knftables.Interface, error) {
	nft, err := knftables.New(knftables.IPv4Family, MasqTable, knftables.EmulateDestroy)
	if err != nil {
		return nil, fmt.Errorf("network: nftables: %w", err)
	}
	return nft, nil
}

// masqRules writes the whole table in one transaction (flushing the chains
// first, so running it again converges):
//
//   - postrouting (nat, srcnat): traffic from a pod (source in the cluster
//     CIDR) to anything outside the cluster CIDR that is not multicast is
//     masqueraded, with fully random ports as flannel does; pod to pod,
//     on this node or another, keeps its source address.
//   - forward (filter): accept what comes from or goes to the cluster
//     CIDR, as flannel adds. An accept here does not overrule a drop in
//     another table's forward chain; it keeps a future policy in this
//     table from dropping pod traffic.
func masqRules(nft knftables.Interface, cluster netip.Prefix, fullyRandom bool) *knftables.Transaction {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff pod network: masquerade and forwarding")})
	tx.Add(&knftables.Chain{
		Name:     postroutingChain,
		Type:     knftables.PtrTo(knftables.NATType),
		Hook:     knftables.PtrTo(knftables.PostroutingHook),
		Priority: knftables.PtrTo(knftables.SNATPriority),
	})
	tx.Flush(&knftables.Chain{Name: postroutingChain})
	masq := "masquerade fully-random"
	if !fullyRandom {
		masq = "masquerade"
	}
	c := cluster.String()
	tx.Add(&knftables.Rule{
		Chain:   postroutingChain,
		Rule:    knftables.Concat("ip saddr", c, "ip daddr !=", c, "ip daddr !=", multicastV4, masq),
		Comment: knftables.PtrTo("pods to outside the cluster"),
	})
	tx.Add(&knftables.Chain{
		Name:     forwardChain,
		Type:     knftables.PtrTo(knftables.FilterType),
		Hook:     knftables.PtrTo(knftables.ForwardHook),
		Priority: knftables.PtrTo(knftables.FilterPriority),
	})
	tx.Flush(&knftables.Chain{Name: forwardChain})
	tx.Add(&knftables.Rule{Chain: forwardChain, Rule: knftables.Concat("ip saddr", c, "accept")})
	tx.Add(&knftables.Rule{Chain: forwardChain, Rule: knftables.Concat("ip daddr", c, "accept")})
	return tx
}

// ensureMasq installs the table; kernels without fully-random masquerade
// get plain masquerade.
func ensureMasq(ctx context.Context, nft knftables.Interface, cluster netip.Prefix) error {
	err := nft.Run(ctx, masqRules(nft, cluster, true))
	if err != nil {
		if err2 := nft.Run(ctx, masqRules(nft, cluster, false)); err2 == nil {
			return nil
		}
		return fmt.Errorf("network: nftables table %s: %w", MasqTable, err)
	}
	return nil
}

// deleteMasq removes the table; absent is fine.
func deleteMasq(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Destroy(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("network: delete nftables table %s: %w", MasqTable, err)
	}
	return nil
}
