package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Phase names, in the order Run runs them.
const (
	PhaseCreate = "create"
	PhaseGet    = "get"
	PhaseList   = "list"
	PhaseWatch  = "watch"
)

// Phases lists every phase in run order.
var Phases = []string{PhaseCreate, PhaseGet, PhaseList, PhaseWatch}

// StampAnnotation carries the writer's time.Now().UnixNano() on objects
// written during the watch phase.
const StampAnnotation = "bench.skiff.sh/stamp"

// Options size the load. The zero value of a field means its default.
type Options struct {
	// Namespace the objects go to; created if missing. Default
	// "skiff-bench-<unix seconds>".
	Namespace string
	// Creates is how many ConfigMaps the create phase writes (default
	// 5,000); get and list read them back.
	Creates int
	// Clients is the number of concurrent clients for creates and gets
	// (default 16). Each has its own connection.
	Clients int
	// GetsPerClient is how many GETs each client makes (default 500).
	GetsPerClient int
	// Lists is how many times each list variant runs (default 30).
	Lists int
	// ListLimit is the page size of the paginated list (default 500, as
	// kubectl uses).
	ListLimit int
	// Watchers is the number of concurrent watches on the namespace
	// (default 100), each on its own connection.
	Watchers int
	// WatchEvents is how many stamped objects the writer creates (default
	// 1,000) at WatchRate per second (default 100).
	WatchEvents int
	WatchRate   float64
	// Phases to run (default all). Get and list read what create wrote:
	// without create they run against whatever ConfigMaps exist.
	Phases []string
	// ServerPID, if set, is sampled for CPU time per phase.
	ServerPID int
	// OnPhase, if set, is called with start true before a phase's timed
	// section and false after it (e.g. to profile the server).
	OnPhase func(phase string, start bool)
	// Progress, if set, receives one line per step.
	Progress func(format string, args ...any)
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Namespace == "" {
		o.Namespace = "skiff-bench-" + strconv.FormatInt(time.Now().Unix(), 10)
	}
	def(&o.Creates, 5000)
	def(&o.Clients, 16)
	def(&o.GetsPerClient, 500)
	def(&o.Lists, 30)
	def(&o.ListLimit, 500)
	def(&o.Watchers, 100)
	def(&o.WatchEvents, 1000)
	if o.WatchRate <= 0 {
		o.WatchRate = 100
	}
	if len(o.Phases) == 0 {
		o.Phases = Phases
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
}

// Throughput is the result of a closed-loop phase: Clients clients each
// issuing requests back to back.
type Throughput struct {
	Ops     int     `json:"ops"`
	Clients int     `json:"clients"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	Latency Latency `json:"latency"`
	Errors  int     `json:"errors"`
	CPU     CPU     `json:"cpu"`
}

// ListResult times full lists (no limit) and kubectl-style paginated lists.
type ListResult struct {
	Objects int `json:"objects"`
	// Full is one LIST with no limit.
	Full Latency `json:"full"`
	// FullRaw is the same LIST read as bytes without decoding them into
	// objects: the server's share (plus transfer) of Full.
	FullRaw Latency `json:"full_raw"`
	// Paged is a whole paginated walk (all pages of Limit).
	Limit int     `json:"limit"`
	Paged Latency `json:"paged"`
	// Page is a single page of the paginated walk.
	Page   Latency `json:"page"`
	Errors int     `json:"errors"`
	CPU    CPU     `json:"cpu"`
}

// WatchResult is the delay from the writer's stamp to a watcher receiving
// the event, over every (event, watcher) delivery.
type WatchResult struct {
	Watchers int `json:"watchers"`
	Events   int `json:"events"`
	// RatePerSec is the write rate achieved.
	RatePerSec float64 `json:"rate_per_sec"`
	Deliveries int     `json:"deliveries"`
	// Missing deliveries had not arrived 15 s after the last write.
	Missing int     `json:"missing"`
	Delay   Latency `json:"delay"`
	// Write is the latency of the writer's creates.
	Write  Latency `json:"write"`
	Errors int     `json:"errors"`
	CPU    CPU     `json:"cpu"`
}

// CPU is the CPU time spent during a phase's timed section.
type CPU struct {
	// ServerSeconds is the server process's user+system time (when its
	// PID is known); ClientSeconds is this process's.
	ServerSeconds float64 `json:"server_seconds,omitempty"`
	ClientSeconds float64 `json:"client_seconds"`
}

// Load is the result of Run.
type Load struct {
	Namespace string       `json:"namespace"`
	Create    *Throughput  `json:"create,omitempty"`
	Get       *Throughput  `json:"get,omitempty"`
	List      *ListResult  `json:"list,omitempty"`
	Watch     *WatchResult `json:"watch,omitempty"`
}

// Run drives the load phases against the server cfg points at. Request
// errors are counted in the results; Run fails only if the setup fails or
// ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) (*Load, error) {
	opts.setDefaults()
	setup, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opts.Namespace}}
	if _, err := setup.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !isAlreadyExists(err) {
		return nil, fmt.Errorf("bench: create namespace: %w", err)
	}
	b := &runner{cfg: cfg, opts: opts, setup: setup}
	out := &Load{Namespace: opts.Namespace}
	for _, phase := range opts.Phases {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		switch phase {
		case PhaseCreate:
			out.Create, err = b.create(ctx)
		case PhaseGet:
			out.Get, err = b.get(ctx)
		case PhaseList:
			out.List, err = b.list(ctx)
		case PhaseWatch:
			out.Watch, err = b.watch(ctx)
		default:
			err = fmt.Errorf("bench: unknown phase %q", phase)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Cleanup deletes the ConfigMaps Run wrote and the namespace.
func Cleanup(ctx context.Context, cfg *rest.Config, namespace string) error {
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	if err := c.CoreV1().ConfigMaps(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return err
	}
	return c.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
}

type runner struct {
	cfg   *rest.Config
	opts  Options
	setup kubernetes.Interface
	// names of the ConfigMaps the create phase wrote.
	names []string
}

// newClient returns a clientset on its own connection, speaking protobuf,
// with client-side rate limiting off.
func newClient(cfg *rest.Config) (*kubernetes.Clientset, error) {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.QPS = -1 // no client-side rate limiter
	c.Burst = 0
	// A Dial of its own makes client-go build this client its own
	// transport instead of sharing a cached one (and its connection).
	if c.Dial == nil {
		c.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return kubernetes.NewForConfig(c)
}

func newClients(cfg *rest.Config, n int) ([]*kubernetes.Clientset, error) {
	out := make([]*kubernetes.Clientset, n)
	for i := range out {
		c, err := newClient(cfg)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// timed runs fn as a phase's timed section and returns the CPU it used.
func (b *runner) timed(phase string, fn func()) CPU {
	if b.opts.OnPhase != nil {
		b.opts.OnPhase(phase, true)
	}
	server0, _ := ProcessCPU(b.opts.ServerPID)
	self0 := selfCPU()
	fn()
	self1 := selfCPU()
	server1, _ := ProcessCPU(b.opts.ServerPID)
	if b.opts.OnPhase != nil {
		b.opts.OnPhase(phase, false)
	}
	return CPU{ServerSeconds: (server1 - server0).Seconds(), ClientSeconds: (self1 - self0).Seconds()}
}

// closedLoop runs total operations over the clients, each client issuing
// its next operation when the previous returns.
func (b *runner) closedLoop(phase string, clients []*kubernetes.Clientset, total int, op func(c *kubernetes.Clientset, i int) error) *Throughput {
	lat := make([]time.Duration, total)
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	var elapsed time.Duration
	cpu := b.timed(phase, func() {
		start := time.Now()
		for _, c := range clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= total {
						return
					}
					t := time.Now()
					if err := op(c, i); err != nil {
						if errs.Add(1) == 1 {
							b.opts.Progress("%s: first error: %v", phase, err)
						}
					}
					lat[i] = time.Since(t)
				}
			})
		}
		wg.Wait()
		elapsed = time.Since(start)
	})
	return &Throughput{
		Ops:     total,
		Clients: len(clients),
		Seconds: elapsed.Seconds(),
		PerSec:  float64(total) / elapsed.Seconds(),
		Latency: summarize(lat),
		Errors:  int(errs.Load()),
		CPU:     cpu,
	}
}

func (b *runner) create(ctx context.Context) (*Throughput, error) {
	o := b.opts
	clients, err := newClients(b.cfg, o.Clients)
	if err != nil {
		return nil, err
	}
	b.opts.Progress("create: %d ConfigMaps, %d clients", o.Creates, o.Clients)
	names := make([]string, o.Creates)
	for i := range names {
		names[i] = fmt.Sprintf("cm-%05d", i)
	}
	res := b.closedLoop(PhaseCreate, clients, o.Creates, func(c *kubernetes.Clientset, i int) error {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: names[i], Labels: map[string]string{"app": "skiff-bench"}},
			Data:       map[string]string{"index": strconv.Itoa(i), "payload": "small configuration value"},
		}
		_, err := c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		return err
	})
	b.names = names
	return res, nil
}

// existing returns the ConfigMap names to read: those create wrote, or
// whatever the namespace holds.
func (b *runner) existing(ctx context.Context) ([]string, error) {
	if len(b.names) > 0 {
		return b.names, nil
	}
	l, err := b.setup.CoreV1().ConfigMaps(b.opts.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, cm := range l.Items {
		b.names = append(b.names, cm.Name)
	}
	if len(b.names) == 0 {
		return nil, errors.New("bench: no ConfigMaps to read; run the create phase")
	}
	return b.names, nil
}

func (b *runner) get(ctx context.Context) (*Throughput, error) {
	o := b.opts
	names, err := b.existing(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := newClients(b.cfg, o.Clients)
	if err != nil {
		return nil, err
	}
	total := o.Clients * o.GetsPerClient
	// Pick the names up front so the timed loop does no extra work.
	pick := make([]string, total)
	for i := range pick {
		pick[i] = names[rand.IntN(len(names))]
	}
	b.opts.Progress("get: %d clients x %d GETs", o.Clients, o.GetsPerClient)
	return b.closedLoop(PhaseGet, clients, total, func(c *kubernetes.Clientset, i int) error {
		_, err := c.CoreV1().ConfigMaps(o.Namespace).Get(ctx, pick[i], metav1.GetOptions{})
		return err
	}), nil
}

func (b *runner) list(ctx context.Context) (*ListResult, error) {
	o := b.opts
	names, err := b.existing(ctx)
	if err != nil {
		return nil, err
	}
	c, err := newClient(b.cfg)
	if err != nil {
		return nil, err
	}
	cms := c.CoreV1().ConfigMaps(o.Namespace)
	// One untimed list warms the connection.
	if _, err := cms.List(ctx, metav1.ListOptions{}); err != nil {
		return nil, fmt.Errorf("bench: list: %w", err)
	}
	res := &ListResult{Objects: len(names), Limit: o.ListLimit}
	var full, fullRaw, paged, page []time.Duration
	b.opts.Progress("list: %d objects, %d lists unpaged (decoded and raw) and %d with limit=%d", len(names), o.Lists, o.Lists, o.ListLimit)
	res.CPU = b.timed(PhaseList, func() {
		for range o.Lists {
			t := time.Now()
			l, err := cms.List(ctx, metav1.ListOptions{})
			full = append(full, time.Since(t))
			if err != nil || len(l.Items) < len(names) {
				res.Errors++
			}
		}
		for range o.Lists {
			t := time.Now()
			raw, err := c.CoreV1().RESTClient().Get().Namespace(o.Namespace).Resource("configmaps").Do(ctx).Raw()
			fullRaw = append(fullRaw, time.Since(t))
			if err != nil || len(raw) == 0 {
				res.Errors++
			}
		}
		for range o.Lists {
			t := time.Now()
			n, cont := 0, ""
			for {
				pt := time.Now()
				l, err := cms.List(ctx, metav1.ListOptions{Limit: int64(o.ListLimit), Continue: cont})
				page = append(page, time.Since(pt))
				if err != nil {
					res.Errors++
					break
				}
				n += len(l.Items)
				if cont = l.Continue; cont == "" {
					break
				}
			}
			paged = append(paged, time.Since(t))
			if n < len(names) {
				res.Errors++
			}
		}
	})
	res.Full, res.FullRaw = summarize(full), summarize(fullRaw)
	res.Paged, res.Page = summarize(paged), summarize(page)
	return res, nil
}

func (b *runner) watch(ctx context.Context) (*WatchResult, error) {
	o := b.opts
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch from the current revision: no initial ADDED events for what
	// is already there, and nothing written after it is missed.
	l, err := b.setup.CoreV1().ConfigMaps(o.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("bench: watch: list: %w", err)
	}
	rv := l.ResourceVersion
	b.opts.Progress("watch: %d watchers, %d events at %.0f/s", o.Watchers, o.WatchEvents, o.WatchRate)

	res := &WatchResult{Watchers: o.Watchers, Events: o.WatchEvents}
	watches := make([]watch.Interface, o.Watchers)
	for i := range watches {
		c, err := newClient(b.cfg)
		if err != nil {
			return nil, err
		}
		w, err := c.CoreV1().ConfigMaps(o.Namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			for _, w := range watches[:i] {
				w.Stop()
			}
			return nil, fmt.Errorf("bench: watch %d: %w", i, err)
		}
		watches[i] = w
	}
	// delays[i] is what watcher i received; each watcher goroutine owns its
	// slice until wg.Wait returns.
	delays := make([][]time.Duration, o.Watchers)
	var wg sync.WaitGroup
	for i, w := range watches {
		delays[i] = make([]time.Duration, 0, o.WatchEvents)
		wg.Go(func() {
			defer w.Stop()
			for ev := range w.ResultChan() {
				now := time.Now()
				if ev.Type != watch.Added {
					continue
				}
				cm, ok := ev.Object.(*corev1.ConfigMap)
				if !ok {
					continue
				}
				stamp, err := strconv.ParseInt(cm.Annotations[StampAnnotation], 10, 64)
				if err != nil {
					continue
				}
				delays[i] = append(delays[i], now.Sub(time.Unix(0, stamp)))
				if len(delays[i]) == o.WatchEvents {
					return
				}
			}
		})
	}

	writer, err := newClient(b.cfg)
	if err != nil {
		return nil, err
	}
	var writes []time.Duration
	var elapsed time.Duration
	res.CPU = b.timed(PhaseWatch, func() {
		elapsed, writes, res.Errors = b.write(ctx, writer)
		// Give stragglers time to arrive, then stop the rest.
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cancel()
			<-done
		}
	})
	res.RatePerSec = float64(o.WatchEvents) / elapsed.Seconds()
	var all []time.Duration
	for _, d := range delays {
		all = append(all, d...)
	}
	res.Deliveries = len(all)
	res.Missing = (o.WatchEvents-res.Errors)*o.Watchers - len(all)
	res.Delay = summarize(all)
	res.Write = summarize(writes)
	return res, nil
}

// write creates WatchEvents stamped objects at WatchRate, open loop: each
// write starts on schedule whether or not the previous one returned (at
// most 64 in flight), so a slow write does not lower the rate.
func (b *runner) write(ctx context.Context, c *kubernetes.Clientset) (time.Duration, []time.Duration, int) {
	o := b.opts
	interval := time.Duration(float64(time.Second) / o.WatchRate)
	lat := make([]time.Duration, o.WatchEvents)
	sem := make(chan struct{}, 64)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.WatchEvents {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t := time.Now()
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{
					Name:        fmt.Sprintf("w-%05d", i),
					Annotations: map[string]string{StampAnnotation: strconv.FormatInt(t.UnixNano(), 10)},
				},
				Data: map[string]string{"index": strconv.Itoa(i)},
			}
			if _, err := c.CoreV1().ConfigMaps(o.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				if errs.Add(1) == 1 {
					b.opts.Progress("watch: first write error: %v", err)
				}
			}
			lat[i] = time.Since(t)
		})
	}
	wg.Wait()
	return time.Since(start), lat, int(errs.Load())
}
