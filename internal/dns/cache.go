package dns

import (
	"context"
	"strings"
	"sync"
	"time"

	miekg "github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// Bounds of the forwarded-answer cache.
const (
	DefaultCacheSize = 10000            // entries
	cacheMaxTTL      = 30 * time.Second // as CoreDNS's "cache 30"
)

// answerCache keeps upstream answers for their TTL (at most cacheMaxTTL): it
// is an exchanger in front of the forwarder. Only NOERROR and NXDOMAIN
// answers that are not truncated are kept; a negative answer lives for
// its SOA's minimum TTL.
type answerCache struct {
	next  exchanger
	clock clock.PassiveClock
	size  int

	// mu guards entries. Stored messages are never modified; a hit
	// returns a copy.
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

var _ exchanger = (*answerCache)(nil)

type cacheKey struct {
	name          string // lower case
	qtype, qclass uint16
	do, cd        bool // DNSSEC OK and Checking Disabled change the answer
}

type cacheEntry struct {
	msg     *miekg.Msg // without OPT
	stored  time.Time
	expires time.Time
}

func newCache(next exchanger, clk clock.PassiveClock, size int) *answerCache {
	return &answerCache{next: next, clock: clk, size: size, entries: map[cacheKey]cacheEntry{}}
}

// Exchange implements exchanger.
func (c *answerCache) Exchange(ctx context.Context, req *miekg.Msg, tcp bool) (*miekg.Msg, error) {
	key := keyOf(req)
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && !now.Before(e.expires) {
		delete(c.entries, key)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return e.answer(req, now), nil
	}
	resp, err := c.next.Exchange(ctx, req, tcp)
	if err != nil {
		return nil, err
	}
	c.store(key, resp, now)
	return resp, nil
}

func keyOf(req *miekg.Msg) cacheKey {
	q := req.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, cd: req.CheckingDisabled}
	if opt := req.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

func (c *answerCache) store(key cacheKey, resp *miekg.Msg, now time.Time) {
	if resp.Truncated || (resp.Rcode != miekg.RcodeSuccess && resp.Rcode != miekg.RcodeNameError) {
		return
	}
	ttl := cacheMaxTTL
	negative := resp.Rcode == miekg.RcodeNameError || len(resp.Answer) == 0
	sections := [][]miekg.RR{resp.Answer, resp.Ns}
	if negative {
		sections = [][]miekg.RR{resp.Ns}
		ttl = 0
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*miekg.SOA); ok {
				ttl = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
			}
		}
	}
	for _, sec := range sections {
		for _, rr := range sec {
			ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
		}
	}
	if ttl <= 0 {
		return
	}
	m := resp.Copy()
	var extra []miekg.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != miekg.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		for k := range c.entries { // evict one, arbitrarily
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cacheEntry{msg: m, stored: now, expires: now.Add(ttl)}
}

// answer is a copy of the entry for req, its TTLs lowered by the time
// spent in the cache.
func (e cacheEntry) answer(req *miekg.Msg, now time.Time) *miekg.Msg {
	m := e.msg.Copy()
	m.Id = req.Id
	m.Question = req.Question // the client's spelling of the name
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]miekg.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			h.Ttl = max(h.Ttl, age) - age
		}
	}
	return m
}
