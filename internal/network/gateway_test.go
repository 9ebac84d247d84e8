package network

import "testing"

func TestGateway(t *testing.T) {
	tests := []struct{ cidr, want string }{
		{"10.42.3.0/24", "10.42.3.1"},
		{"10.42.3.7/24", "10.42.3.1"},
		{"fd00:42::/64", "fd00:42::1"},
		{"10.0.0.1/32", ""},
		{"bogus", ""},
	}
	for _, tt := range tests {
		got, err := Gateway(tt.cidr)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Gateway(%q) = %v; want an error", tt.cidr, got)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("Gateway(%q) = %v, %v; want %s", tt.cidr, got, err, tt.want)
		}
	}
}
