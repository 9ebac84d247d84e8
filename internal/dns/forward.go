package dns

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	miekg "github.com/miekg/dns"
)

// ErrNoUpstreams is returned by a forwarder with no upstreams.
var ErrNoUpstreams = errors.New("dns: no upstream resolvers")

// forwarder sends queries to upstream resolvers: UDP first, TCP on a
// truncated answer (or at once when the client came over TCP), the next
// upstream on error, starting round-robin so load spreads.
type forwarder struct {
	upstreams []string // ip:port
	udp, tcp  *miekg.Client
	next      atomic.Uint32 // round-robin start
}

var _ exchanger = (*forwarder)(nil)

func newForwarder(upstreams []string, timeout time.Duration) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &miekg.Client{Net: "udp", Timeout: timeout, UDPSize: ednsSize},
		tcp:       &miekg.Client{Net: "tcp", Timeout: timeout},
	}
}

// Exchange implements exchanger.
func (f *forwarder) Exchange(ctx context.Context, req *miekg.Msg, tcp bool) (*miekg.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, ErrNoUpstreams
	}
	start := int(f.next.Add(1))
	var errs []error
	for i := range f.upstreams {
		u := f.upstreams[(start+i)%len(f.upstreams)]
		resp, err := f.try(ctx, u, req, tcp)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (f *forwarder) try(ctx context.Context, upstream string, req *miekg.Msg, tcp bool) (*miekg.Msg, error) {
	if !tcp {
		resp, _, err := f.udp.ExchangeContext(ctx, req, upstream)
		if err != nil {
			return nil, err
		}
		if !resp.Truncated {
			return resp, nil
		}
	}
	resp, _, err := f.tcp.ExchangeContext(ctx, req, upstream)
	return resp, err
}
