package network

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

func TestRender(t *testing.T) {
	data, err := CNIConfig{PodCIDR: "10.42.3.7/24", Bridge: "br1", IPAMDir: "/x"}.Render()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string
		Plugins []struct {
			Type         string
			Bridge       string
			HairpinMode  bool
			PromiscMode  bool
			ForceAddress bool
			IPAM         struct {
				Ranges  [][]struct{ Subnet string }
				DataDir string
			}
		}
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Plugins) != 2 || got.Plugins[0].Type != "bridge" || got.Plugins[1].Type != "portmap" {
		t.Fatalf("plugins = %+v; want bridge, portmap", got.Plugins)
	}
	b := got.Plugins[0]
	if s := b.IPAM.Ranges[0][0].Subnet; s != "10.42.3.0/24" {
		t.Errorf("subnet = %s; want 10.42.3.0/24", s)
	}
	if b.Bridge != "br1" || b.IPAM.DataDir != "/x" || !b.HairpinMode || b.PromiscMode || !b.ForceAddress {
		t.Errorf("bridge = %+v", b)
	}
}

func TestRenderErrors(t *testing.T) {
	for name, c := range map[string]CNIConfig{
		"bad cidr":    {PodCIDR: "nope", IPAMDir: "/x"},
		"no ipam dir": {PodCIDR: "10.42.0.0/24"},
		"long bridge": {PodCIDR: "10.42.0.0/24", IPAMDir: "/x", Bridge: "abcdefghijklmnop"},
	} {
		if _, err := c.Render(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWriteCNIConfigReportsChange(t *testing.T) {
	dir := t.TempDir()
	c := CNIConfig{PodCIDR: "10.42.0.0/24", IPAMDir: filepath.Join(dir, "ipam")}
	for i, want := range []bool{true, false} {
		changed, err := WriteCNIConfig(dir, c)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed = %v, %v; want %v", i, changed, err, want)
		}
	}
	c.PodCIDR = "10.42.1.0/24"
	if changed, err := WriteCNIConfig(dir, c); err != nil || !changed {
		t.Fatalf("new CIDR: changed = %v, %v; want true", changed, err)
	}
}
