package dns

import (
	"context"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
	clocktesting "k8s.io/utils/clock/testing"
)

// scripted answers each name with the message its function builds and
// counts the exchanges.
type scripted struct {
	calls int
	reply func(req *miekg.Msg) *miekg.Msg
}

func (s *scripted) Exchange(_ context.Context, req *miekg.Msg, _ bool) (*miekg.Msg, error) {
	s.calls++
	return s.reply(req), nil
}

func TestCache(t *testing.T) {
	withTTL := func(ttl uint32, rcode int) func(*miekg.Msg) *miekg.Msg {
		return func(req *miekg.Msg) *miekg.Msg {
			m := new(miekg.Msg)
			m.SetReply(req)
			m.Rcode = rcode
			if rcode == miekg.RcodeSuccess {
				m.Answer = []miekg.RR{mustRR("example.com. %d IN A 192.0.2.1", ttl)}
			} else {
				m.Ns = []miekg.RR{mustRR("example.com. 3600 IN SOA ns. host. 1 2 3 4 %d", ttl)}
			}
			m.SetEdns0(1232, false)
			return m
		}
	}
	cases := []struct {
		name      string
		reply     func(*miekg.Msg) *miekg.Msg
		advance   time.Duration
		wantCalls int
		wantTTL   uint32 // of the second answer's first record
	}{
		{name: "hit within the TTL, TTL lowered", reply: withTTL(10, miekg.RcodeSuccess), advance: 4 * time.Second, wantCalls: 1, wantTTL: 6},
		{name: "expired", reply: withTTL(10, miekg.RcodeSuccess), advance: 10 * time.Second, wantCalls: 2, wantTTL: 10},
		{name: "kept at most 30s", reply: withTTL(3600, miekg.RcodeSuccess), advance: 31 * time.Second, wantCalls: 2, wantTTL: 3600},
		{name: "NXDOMAIN for the SOA minimum", reply: withTTL(5, miekg.RcodeNameError), advance: 2 * time.Second, wantCalls: 1, wantTTL: 3598},
		{name: "TTL 0 not kept", reply: withTTL(0, miekg.RcodeSuccess), wantCalls: 2},
		{name: "SERVFAIL not kept", reply: withTTL(10, miekg.RcodeServerFailure), wantCalls: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakePassiveClock(testTime)
			up := &scripted{reply: tc.reply}
			c := newCache(up, clk, 10)
			first := query("Example.COM.", miekg.TypeA)
			first.SetEdns0(4096, false)
			if _, err := c.Exchange(context.Background(), first, false); err != nil {
				t.Fatal(err)
			}
			clk.SetTime(testTime.Add(tc.advance))
			second := query("example.com.", miekg.TypeA)
			got, err := c.Exchange(context.Background(), second, false)
			if err != nil {
				t.Fatal(err)
			}
			if up.calls != tc.wantCalls {
				t.Errorf("%d upstream calls; want %d", up.calls, tc.wantCalls)
			}
			if got.Id != second.Id || got.Question[0].Name != "example.com." {
				t.Errorf("id %d question %q; want %d example.com.", got.Id, got.Question[0].Name, second.Id)
			}
			if tc.wantCalls == 1 {
				if got.IsEdns0() != nil {
					t.Errorf("cached answer kept the upstream's OPT")
				}
				rrs := append(got.Answer, got.Ns...)
				if ttl := rrs[0].Header().Ttl; ttl != tc.wantTTL {
					t.Errorf("TTL %d; want %d", ttl, tc.wantTTL)
				}
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	up := &scripted{reply: func(req *miekg.Msg) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetReply(req)
		m.Answer = []miekg.RR{mustRR("%s 60 IN A 192.0.2.1", req.Question[0].Name)}
		return m
	}}
	c := newCache(up, clocktesting.NewFakePassiveClock(testTime), 3)
	for _, n := range []string{"a.", "b.", "c.", "d.", "e."} {
		if _, err := c.Exchange(context.Background(), query(n, miekg.TypeA), false); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n != 3 {
		t.Errorf("%d entries; want 3", n)
	}
}
