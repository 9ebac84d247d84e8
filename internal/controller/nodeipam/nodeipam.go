// Package nodeipam gives every node a pod CIDR: spec.podCIDR and
// spec.podCIDRs are set from the cluster CIDRs (one per IP family), /24
// per node for IPv4 and /64 for IPv6 by default.
//
// Allocations live only in the nodes: on start, after the node cache has
// synced, the CIDRs of existing nodes are marked used before any node is
// handled, so a restart never hands out a CIDR twice. A deleted node's
// CIDRs are released. Nodes are handled by one worker, so allocation needs
// no locking beyond the worker.
package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/internal/ctrlutil"
)

// DefaultClusterCIDR is used when Config.ClusterCIDRs is empty.
const DefaultClusterCIDR = "10.42.0.0/16"

// ErrFull is returned when a cluster CIDR has no free subnet left.
var ErrFull = errors.New("nodeipam: cluster CIDR is full")

// Config holds what a Controller needs; Client and Nodes are required.
type Config struct {
	Client kubernetes.Interface
	Nodes  coreinformers.NodeInformer
	// ClusterCIDRs, at most one per IP family (default DefaultClusterCIDR).
	ClusterCIDRs []string
	// MaskSizeV4 and MaskSizeV6 are the per-node prefix lengths
	// (default 24 and 64).
	MaskSizeV4, MaskSizeV6 int
	Clock                  clock.WithTicker
	Logger                 *slog.Logger
	MaxRetryDelay          time.Duration
}

// Controller allocates node pod CIDRs.
type Controller struct {
	client   kubernetes.Interface
	nodes    cache.SharedIndexInformer
	lister   corelisters.NodeLister
	pools    []*pool
	clock    clock.WithTicker
	log      *slog.Logger
	maxDelay time.Duration
}

// pool hands out the subnets of one cluster CIDR.
type pool struct {
	base netip.Prefix
	bits int // per-node prefix length
	n    int // number of subnets, capped

	mu   sync.Mutex // guards used and next
	used map[int]bool
	next int
}

// New builds a Controller; it fails on an invalid CIDR.
func New(cfg Config) (*Controller, error) {
	c := &Controller{client: cfg.Client, nodes: cfg.Nodes.Informer(), lister: cfg.Nodes.Lister(),
		clock: cfg.Clock, log: cfg.Logger, maxDelay: cfg.MaxRetryDelay}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "node-ipam")
	cidrs := cfg.ClusterCIDRs
	if len(cidrs) == 0 {
		cidrs = []string{DefaultClusterCIDR}
	}
	v4, v6 := cfg.MaskSizeV4, cfg.MaskSizeV6
	if v4 == 0 {
		v4 = 24
	}
	if v6 == 0 {
		v6 = 64
	}
	seen := map[bool]bool{}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("nodeipam: cluster CIDR %q: %w", s, err)
		}
		p = p.Masked()
		bits := v4
		if p.Addr().Is6() {
			bits = v6
		}
		if seen[p.Addr().Is4()] {
			return nil, fmt.Errorf("nodeipam: more than one cluster CIDR of the family of %s", p)
		}
		seen[p.Addr().Is4()] = true
		if bits < p.Bits() || bits > p.Addr().BitLen() {
			return nil, fmt.Errorf("nodeipam: node mask /%d does not fit in %s", bits, p)
		}
		n := 1 << min(bits-p.Bits(), 20)
		c.pools = append(c.pools, &pool{base: p, bits: bits, n: n, used: map[int]bool{}})
	}
	return c, nil
}

// Run waits for the node cache, recovers the allocations and handles nodes
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	q := ctrlutil.NewQueue[string]("node-ipam", c.clock, 0, c.maxDelay)
	reg, err := c.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { q.Add(o.(*corev1.Node).Name) },
		UpdateFunc: func(_, o any) { q.Add(o.(*corev1.Node).Name) },
		DeleteFunc: func(o any) {
			if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if n, ok := o.(*corev1.Node); ok {
				c.release(n.Spec.PodCIDRs)
			}
		},
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.nodes.RemoveEventHandler(reg) }()
	if !cache.WaitForNamedCacheSync("node-ipam", ctx.Done(), c.nodes.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, n := range nodes {
		c.occupy(n.Spec.PodCIDRs)
	}
	c.log.Info("started", "clusterCIDRs", len(c.pools))
	ctrlutil.RunWorkers(ctx, c.log, q, 1, c.Sync)
	return nil
}

// Sync gives the node named key its pod CIDRs if it has none.
func (c *Controller) Sync(ctx context.Context, key string) (ctrlutil.Result, error) {
	node, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return ctrlutil.Result{}, nil
	}
	if err != nil {
		return ctrlutil.Result{}, err
	}
	if len(node.Spec.PodCIDRs) > 0 || node.Spec.PodCIDR != "" {
		c.occupy(node.Spec.PodCIDRs)
		return ctrlutil.Result{}, nil
	}
	var got []string
	for _, p := range c.pools {
		s, err := p.allocate()
		if err != nil {
			c.release(got)
			return ctrlutil.Result{}, fmt.Errorf("node %s: %w", key, err)
		}
		got = append(got, s)
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": got[0], "podCIDRs": got}})
	_, err = c.client.CoreV1().Nodes().Patch(ctx, key, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		c.release(got)
		if apierrors.IsNotFound(err) {
			return ctrlutil.Result{}, nil
		}
		return ctrlutil.Result{}, err
	}
	c.log.Info("assigned pod CIDRs", "node", key, "podCIDRs", got)
	return ctrlutil.Result{}, nil
}

func (c *Controller) occupy(cidrs []string) { c.each(cidrs, func(p *pool, i int) { p.used[i] = true }) }

func (c *Controller) release(cidrs []string) {
	c.each(cidrs, func(p *pool, i int) { delete(p.used, i) })
}

func (c *Controller) each(cidrs []string, fn func(*pool, int)) {
	for _, s := range cidrs {
		sub, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		for _, p := range c.pools {
			if i, ok := p.index(sub); ok {
				p.mu.Lock()
				fn(p, i)
				p.mu.Unlock()
			}
		}
	}
}

// index is the position of sub in p, if it is one of p's subnets.
func (p *pool) index(sub netip.Prefix) (int, bool) {
	if sub.Bits() != p.bits || !p.base.Contains(sub.Addr()) {
		return 0, false
	}
	off := new(big.Int).Sub(addrInt(sub.Addr()), addrInt(p.base.Addr()))
	off.Rsh(off, uint(p.base.Addr().BitLen()-p.bits))
	if !off.IsInt64() || off.Int64() >= int64(p.n) {
		return 0, false
	}
	return int(off.Int64()), true
}

func (p *pool) allocate() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.n {
		i := p.next
		p.next = (p.next + 1) % p.n
		if !p.used[i] {
			p.used[i] = true
			return p.subnet(i).String(), nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrFull, p.base)
}

func (p *pool) subnet(i int) netip.Prefix {
	v := new(big.Int).Lsh(big.NewInt(int64(i)), uint(p.base.Addr().BitLen()-p.bits))
	v.Add(v, addrInt(p.base.Addr()))
	b := v.FillBytes(make([]byte, p.base.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, p.bits)
}

func addrInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }
