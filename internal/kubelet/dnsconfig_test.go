package kubelet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestPodDNSConfig(t *testing.T) {
	host := &runtimeapi.DNSConfig{
		Servers:  []string{"192.168.1.1", "192.168.1.2"},
		Searches: []string{"corp.example", "cluster.local"},
		Options:  []string{"timeout:2", "ndots:1"},
	}
	cluster := []string{"10.43.0.10"}
	missing := `pod: "web_prod(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`
	tests := []struct {
		name       string
		policy     corev1.DNSPolicy
		hostNet    bool
		clusterDNS []string
		podConfig  *corev1.PodDNSConfig
		want       *runtimeapi.DNSConfig
		wantEvents []string
	}{
		{name: "ClusterFirst: cluster DNS, cluster searches then the host's, ndots:5",
			policy: corev1.DNSClusterFirst, clusterDNS: cluster,
			want: &runtimeapi.DNSConfig{Servers: cluster,
				Searches: []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
				Options:  []string{"ndots:5"}}},
		{name: "unset policy is ClusterFirst", clusterDNS: cluster,
			want: &runtimeapi.DNSConfig{Servers: cluster,
				Searches: []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
				Options:  []string{"ndots:5"}}},
		{name: "ClusterFirst on the host network is Default",
			policy: corev1.DNSClusterFirst, hostNet: true, clusterDNS: cluster, want: host},
		{name: "ClusterFirstWithHostNet uses the cluster DNS",
			policy: corev1.DNSClusterFirstWithHostNet, hostNet: true, clusterDNS: cluster,
			want: &runtimeapi.DNSConfig{Servers: cluster,
				Searches: []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
				Options:  []string{"ndots:5"}}},
		{name: "Default is the host's", policy: corev1.DNSDefault, clusterDNS: cluster, want: host},
		{name: "ClusterFirst without cluster DNS falls back to Default with events",
			policy: corev1.DNSClusterFirst, want: host,
			wantEvents: []string{
				`Warning MissingClusterDNS kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`,
				"Warning MissingClusterDNS " + missing,
			}},
		{name: "None takes only the pod's dnsConfig",
			policy: corev1.DNSNone, clusterDNS: cluster,
			podConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []string{"ndots:2", "edns0"}}},
		{name: "the pod's dnsConfig is merged: duplicates dropped, its options win",
			policy: corev1.DNSClusterFirst, clusterDNS: cluster,
			podConfig: &corev1.PodDNSConfig{Nameservers: []string{"10.43.0.10", "1.1.1.1"}, Searches: []string{"svc.cluster.local", "b.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "single-request-reopen"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "1.1.1.1"},
				Searches: []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "b.example"},
				Options:  []string{"ndots:2", "single-request-reopen"}}},
		{name: "more than three nameservers are cut with an event",
			policy: corev1.DNSClusterFirst, clusterDNS: cluster,
			podConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9"}},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.43.0.10", "1.1.1.1", "8.8.8.8"},
				Searches: []string{"prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
				Options:  []string{"ndots:5"}},
			wantEvents: []string{"Warning DNSConfigForming Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.43.0.10 1.1.1.1 8.8.8.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "prod", UID: "u1"},
				Spec:       corev1.PodSpec{DNSPolicy: tt.policy, HostNetwork: tt.hostNet, DNSConfig: tt.podConfig},
			}
			events := record.NewFakeRecorder(10)
			hostCopy := &runtimeapi.DNSConfig{Servers: slices.Clone(host.Servers), Searches: slices.Clone(host.Searches), Options: slices.Clone(host.Options)}
			got := podDNSConfig(pod, tt.clusterDNS, "cluster.local", hostCopy, events, &corev1.ObjectReference{Kind: "Node", Name: "n1"})
			if !slices.Equal(got.Servers, tt.want.Servers) || !slices.Equal(got.Searches, tt.want.Searches) || !slices.Equal(got.Options, tt.want.Options) {
				t.Errorf("got servers %q searches %q options %q\nwant servers %q searches %q options %q",
					got.Servers, got.Searches, got.Options, tt.want.Servers, tt.want.Searches, tt.want.Options)
			}
			close(events.Events)
			var gotEvents []string
			for e := range events.Events {
				gotEvents = append(gotEvents, e)
			}
			if !slices.Equal(gotEvents, tt.wantEvents) {
				t.Errorf("events %q; want %q", gotEvents, tt.wantEvents)
			}
		})
	}
}

func TestDNSSearchLimits(t *testing.T) {
	long := strings.Repeat("a", 254)
	var many []string
	for i := 0; i < 40; i++ {
		many = append(many, strings.Repeat("x", 60)+string(rune('a'+i%26))+".example")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}}
	events := record.NewFakeRecorder(10)
	got := podDNSConfig(pod, nil, "cluster.local", &runtimeapi.DNSConfig{Searches: append([]string{long}, many...)}, events, nil)
	if n := len(strings.Join(got.Searches, " ")); n > maxDNSSearchListChars || len(got.Searches) > maxDNSSearchPaths || slices.Contains(got.Searches, long) {
		t.Errorf("%d searches, %d chars; want within limits without the 254-char path", len(got.Searches), n)
	}
	if len(events.Events) != 1 {
		t.Errorf("%d events; want one DNSConfigForming", len(events.Events))
	}
}

func TestParseResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	data := "# comment\nnameserver 10.0.0.1\ndomain ignored.example\nsearch first.example\nsearch corp.example. lab.example\noptions ndots:2\noptions timeout:1 attempts:3\nnameserver 10.0.0.2\nnameserver\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got := parseResolvConf(path)
	want := &runtimeapi.DNSConfig{Servers: []string{"10.0.0.1", "10.0.0.2"}, Searches: []string{"corp.example", "lab.example"}, Options: []string{"timeout:1", "attempts:3"}}
	if !slices.Equal(got.Servers, want.Servers) || !slices.Equal(got.Searches, want.Searches) || !slices.Equal(got.Options, want.Options) {
		t.Errorf("got %v; want %v", got, want)
	}
	if got := parseResolvConf(filepath.Join(t.TempDir(), "missing")); len(got.Servers)+len(got.Searches)+len(got.Options) != 0 {
		t.Errorf("missing file: %v; want nothing", got)
	}
}

func TestHostResolvConfSkipsLoopbackStub(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stub := write("stub", "nameserver 127.0.0.53\nsearch lan\n")
	real := write("real", "nameserver 192.0.2.53\nsearch lan\n")
	plain := write("plain", "nameserver 192.0.2.1\n")
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"plain host", []string{plain, real}, "192.0.2.1"},
		{"systemd-resolved stub", []string{stub, real}, "192.0.2.53"},
		{"stub and nothing better", []string{stub, filepath.Join(dir, "missing")}, "127.0.0.53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hostResolvConf(tt.paths)
			if len(got.Servers) != 1 || got.Servers[0] != tt.want {
				t.Errorf("servers = %v; want [%s]", got.Servers, tt.want)
			}
		})
	}
}
