package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// upstream is a real DNS server on loopback standing in for the host's
// resolver: every A question gets 192.0.2.1, big.example. TXT is too large
// for UDP.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string // "udp name" / "tcp name"
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	pc, ln, err := listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String()}
	h := miekg.HandlerFunc(func(w miekg.ResponseWriter, req *miekg.Msg) {
		_, tcp := w.LocalAddr().(*net.TCPAddr)
		q := req.Question[0]
		u.mu.Lock()
		u.seen = append(u.seen, map[bool]string{true: "tcp ", false: "udp "}[tcp]+q.Name)
		u.mu.Unlock()
		m := new(miekg.Msg)
		m.SetReply(req)
		switch {
		case q.Name == "big.example." && q.Qtype == miekg.TypeTXT:
			for i := 0; i < 20; i++ {
				m.Answer = append(m.Answer, mustRR(`big.example. 60 IN TXT "%s"`, strings.Repeat("x", 200)))
			}
		case q.Qtype == miekg.TypeA:
			m.Answer = append(m.Answer, mustRR("%s 60 IN A 192.0.2.1", q.Name))
		}
		if !tcp {
			m.Truncate(udpSize(req))
		}
		_ = w.WriteMsg(m)
	})
	udp := &miekg.Server{PacketConn: pc, Handler: h}
	tcp := &miekg.Server{Listener: ln, Handler: h}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return u
}

func (u *upstream) saw() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// deadAddr is a loopback UDP port nobody listens on: queries to it fail
// at once with "connection refused".
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func exchange(t *testing.T, network, addr, name string, qtype uint16) *miekg.Msg {
	t.Helper()
	c := &miekg.Client{Net: network, Timeout: 3 * time.Second}
	m, _, err := c.Exchange(query(name, qtype), addr)
	if err != nil {
		t.Fatalf("%s %s: %v", network, name, err)
	}
	return m
}

func TestServerRun(t *testing.T) {
	up := startUpstream(t)
	client := fake.NewClientset(fixture()...)
	srv, err := New(Config{
		Client:         client,
		ListenAddr:     "127.0.0.1:0",
		Upstreams:      []string{deadAddr(t), up.addr},
		ReverseCIDRs:   nil,
		ForwardTimeout: time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	addr := srv.Addr()

	for _, network := range []string{"udp", "tcp"} {
		t.Run("A over "+network, func(t *testing.T) {
			m := exchange(t, network, addr, "kubernetes.default.svc.cluster.local.", miekg.TypeA)
			if got := rrStrings(m.Answer); len(got) != 1 || !strings.HasSuffix(got[0], "A 10.43.0.1") {
				t.Errorf("answer %q; want 10.43.0.1", got)
			}
		})
		t.Run("SRV over "+network, func(t *testing.T) {
			m := exchange(t, network, addr, "_https._tcp.headless.default.svc.cluster.local.", miekg.TypeSRV)
			if len(m.Answer) != 3 || len(m.Extra) != 4 {
				t.Errorf("%d answers, %d additional; want 3, 4", len(m.Answer), len(m.Extra))
			}
		})
		t.Run("NXDOMAIN over "+network, func(t *testing.T) {
			m := exchange(t, network, addr, "nosuch.default.svc.cluster.local.", miekg.TypeA)
			if m.Rcode != miekg.RcodeNameError || len(m.Ns) != 1 {
				t.Errorf("%s with %d authority records; want NXDOMAIN with the SOA", miekg.RcodeToString[m.Rcode], len(m.Ns))
			}
		})
	}

	t.Run("informer events reach the index", func(t *testing.T) {
		svc := service("default", "late", "10.43.9.9", port("http", corev1.ProtocolTCP, 80))
		if _, err := client.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			m := exchange(t, "udp", addr, "late.default.svc.cluster.local.", miekg.TypeA)
			return len(m.Answer) == 1
		})
		if err := client.CoreV1().Services("default").Delete(context.Background(), "late", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			return exchange(t, "udp", addr, "late.default.svc.cluster.local.", miekg.TypeA).Rcode == miekg.RcodeNameError
		})
	})

	t.Run("forwarding with failover", func(t *testing.T) {
		// Round-robin starts at each upstream in turn; the dead one fails
		// over to the live one every time.
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("host%d.example.", i)
			m := exchange(t, "udp", addr, name, miekg.TypeA)
			if got := rrStrings(m.Answer); m.Rcode != miekg.RcodeSuccess || len(got) != 1 || !strings.HasSuffix(got[0], "192.0.2.1") {
				t.Errorf("%s: %s %q; want 192.0.2.1 from upstream", name, miekg.RcodeToString[m.Rcode], got)
			}
		}
	})

	t.Run("truncated upstream answer retried over TCP", func(t *testing.T) {
		m := exchange(t, "tcp", addr, "big.example.", miekg.TypeTXT)
		if len(m.Answer) != 20 || m.Truncated {
			t.Errorf("%d answers, TC %v; want 20, false", len(m.Answer), m.Truncated)
		}
		saw := strings.Join(up.saw(), ",")
		if !strings.Contains(saw, "tcp big.example.") {
			t.Errorf("upstream saw %s; want big.example. over TCP", saw)
		}
		// Over UDP without EDNS0 the client gets TC and retries over TCP.
		if m := exchange(t, "udp", addr, "big.example.", miekg.TypeTXT); !m.Truncated {
			t.Errorf("UDP answer of %d records not truncated", len(m.Answer))
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerNoUpstreams(t *testing.T) {
	srv, err := New(Config{
		Client:     fake.NewClientset(),
		ListenAddr: "127.0.0.1:0",
		ResolvConf: "/nonexistent/resolv.conf",
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	<-srv.Ready()
	if m := exchange(t, "udp", srv.Addr(), "www.example.com.", miekg.TypeA); m.Rcode != miekg.RcodeServerFailure {
		t.Errorf("rcode %s; want SERVFAIL", miekg.RcodeToString[m.Rcode])
	}
	if err := srv.Run(ctx); !errors.Is(err, ErrRunTwice) {
		t.Errorf("second Run: %v; want ErrRunTwice", err)
	}
}

func TestListenFreebind(t *testing.T) {
	// 192.0.2.0/24 (TEST-NET-1) is on no interface here; IP_FREEBIND binds
	// it anyway, as the agent binds the pod gateway before the bridge has it.
	pc, ln, err := listen(context.Background(), "192.0.2.77:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	pc.Close()
	ln.Close()
}

func TestConfigDefaults(t *testing.T) {
	cases := []struct {
		name      string
		cfg       Config
		err       error
		upstreams []string
	}{
		{name: "no client", cfg: Config{ListenAddr: "127.0.0.1:53"}, err: ErrNoClient},
		{name: "no address", cfg: Config{Client: fake.NewClientset()}, err: ErrNoListenAddr},
		{name: "upstreams normalised, ourselves dropped",
			cfg:       Config{Client: fake.NewClientset(), ListenAddr: "10.42.3.1:53", Upstreams: []string{"1.1.1.1", "10.42.3.1", "[2001:db8::1]:5353"}},
			upstreams: []string{"1.1.1.1:53", "[2001:db8::1]:5353"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults()
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v; want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if strings.Join(got.Upstreams, ",") != strings.Join(tc.upstreams, ",") {
				t.Errorf("upstreams %q; want %q", got.Upstreams, tc.upstreams)
			}
			if got.ClusterDomain != "cluster.local" || got.TTL != 5 {
				t.Errorf("domain %q TTL %d; want cluster.local 5", got.ClusterDomain, got.TTL)
			}
		})
	}
}
