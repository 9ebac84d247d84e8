package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// ConfigFile is the name of the network configuration in the CNI
// configuration directory; containerd loads the first file in name order.
const ConfigFile = "10-skiff.conflist"

// NetworkName is the CNI network name.
const NetworkName = "skiff"

// CNIConfig describes the node's pod network.
type CNIConfig struct {
	// PodCIDR is the node's pod range (spec.podCIDR). Required.
	PodCIDR string
	// Bridge is the host bridge's name (default "cni0"); at most 15 bytes.
	Bridge string
	// IPAMDir is where host-local records allocated addresses; the agent
	// keeps it under its data directory so several agents on one host do
	// not share it. Required.
	IPAMDir string
	// MTU of the bridge and veths; 0 lets the plugin choose.
	MTU int
	// NoMasquerade leaves the pods' masquerade to the Router (which does
	// not masquerade pod to pod traffic across nodes); otherwise the
	// bridge plugin masquerades everything leaving the node's pod range.
	NoMasquerade bool
}

// Render returns the conflist JSON: bridge (gateway, masquerade, hairpin
// so a pod reaches itself through a Service) with host-local IPAM and a
// default route, then portmap for hostPort.
func (c CNIConfig) Render() ([]byte, error) {
	prefix, err := netip.ParsePrefix(c.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("network: pod CIDR %q: %w", c.PodCIDR, err)
	}
	if c.IPAMDir == "" {
		return nil, fmt.Errorf("network: no IPAM directory")
	}
	bridge := c.Bridge
	if bridge == "" {
		bridge = "cni0"
	}
	if len(bridge) > 15 {
		return nil, fmt.Errorf("network: bridge name %q longer than 15 bytes", bridge)
	}
	defaultRoute := "0.0.0.0/0"
	if prefix.Addr().Is6() {
		defaultRoute = "::/0"
	}
	// hairpinMode and promiscMode together are refused by the plugin: only
	// hairpin is set. forceAddress lets a changed pod CIDR replace the
	// bridge's old gateway address instead of failing every new sandbox.
	br := map[string]any{
		"type":         "bridge",
		"bridge":       bridge,
		"isGateway":    true,
		"forceAddress": true,
		"ipMasq":       !c.NoMasquerade,
		"hairpinMode":  true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": prefix.Masked().String()}}},
			"routes":  []map[string]string{{"dst": defaultRoute}},
			"dataDir": c.IPAMDir,
		},
	}
	if c.MTU > 0 {
		br["mtu"] = c.MTU
	}
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins": []any{
			br,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}, "", "  ")
}

// WriteCNIConfig writes the configuration to dir/ConfigFile atomically
// (containerd watches the directory and may read at any moment) and
// reports whether the content changed.
func WriteCNIConfig(dir string, c CNIConfig) (bool, error) {
	data, err := c.Render()
	if err != nil {
		return false, err
	}
	path := filepath.Join(dir, ConfigFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("network: %w", err)
	}
	tmp := filepath.Join(dir, "."+ConfigFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, fmt.Errorf("network: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("network: %w", err)
	}
	return true, nil
}
