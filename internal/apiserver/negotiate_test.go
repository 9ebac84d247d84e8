package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept string
		allowed      []string
		wantType     string
		wantAs       string
		wantErr      bool
	}{
		{"default", "", nil, "application/json", "", false},
		{"protobuf", "application/vnd.kubernetes.protobuf, */*", nil, "application/vnd.kubernetes.protobuf", "", false},
		{"yaml", "application/yaml", nil, "application/yaml", "", false},
		{"table", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", []string{asTable}, "application/json;g=meta.k8s.io;v=v1;as=Table", asTable, false},
		{"table not offered falls back", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", nil, "application/json", "", false},
		{"table wrong group", "application/json;as=Table;v=v1;g=example.com", []string{asTable}, "", "", true},
		{"discovery", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", []string{asDiscovery}, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", asDiscovery, false},
		{"unsupported", "text/html", nil, "", "", true},
		{"q zero skipped", "application/yaml;q=0, application/json", nil, "application/json", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/pods", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			out, err := negotiate(r, tt.allowed...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v; wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := out.contentType(); got != tt.wantType {
				t.Errorf("content type = %q; want %q", got, tt.wantType)
			}
			if out.as != tt.wantAs {
				t.Errorf("as = %q; want %q", out.as, tt.wantAs)
			}
		})
	}
}
