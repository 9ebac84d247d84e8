package server

import (
	"net"
	"slices"
	"testing"
)

func TestServingSANs(t *testing.T) {
	_, pods, _ := net.ParseCIDR("10.42.0.0/16")
	_, svcs, _ := net.ParseCIDR("10.43.0.0/16")
	host := []net.IP{
		net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("fe80::1"),
		net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10"),
		net.ParseIP("10.42.3.1"), net.ParseIP("10.42.3.0"), // cni0, flannel.1
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"defaults", Config{BindAddress: "0.0.0.0", AdvertiseAddress: "192.0.2.10"},
			[]string{"192.0.2.10", "192.0.2.10", "2001:db8::10"}},
		{"specific bind, advertise and --tls-san", Config{BindAddress: "198.51.100.1", AdvertiseAddress: "203.0.113.5", TLSSANs: []string{"api.example.com"}},
			[]string{"api.example.com", "203.0.113.5", "198.51.100.1", "192.0.2.10", "2001:db8::10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := servingSANs(tt.cfg, host, []*net.IPNet{pods, svcs})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}
