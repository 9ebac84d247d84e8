// Package podgc deletes pods nobody else will: pods bound to nodes that no
// longer exist (after a quarantine and a live check of the node),
// terminating pods that are not scheduled, and the oldest finished pods
// beyond the terminated-pod threshold.
//
// It works in passes, one every Period on the injected clock (and one
// right after the caches sync); each pass reads the listers and deletes
// with a zero grace period. Run returns when its context ends.
package podgc

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Defaults, as in Kubernetes.
const (
	DefaultThreshold  = 12500
	DefaultPeriod     = 20 * time.Second
	DefaultQuarantine = 40 * time.Second
)

// Config holds what a Controller needs; Client and the informers are
// required.
type Config struct {
	Client kubernetes.Interface
	Pods   coreinformers.PodInformer
	Nodes  coreinformers.NodeInformer
	// Threshold is how many finished pods may exist before the oldest are
	// deleted (default DefaultThreshold; negative disables it).
	Threshold int
	// Period between passes (default DefaultPeriod).
	Period time.Duration
	// Quarantine is how long a node must be seen missing before its pods
	// are deleted (default DefaultQuarantine).
	Quarantine time.Duration
	Clock      clock.WithTicker
	Logger     *slog.Logger
}

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	pods       cache.SharedIndexInformer
	podLister  corelisters.PodLister
	nodes      cache.SharedIndexInformer
	nodeLister corelisters.NodeLister
	threshold  int
	period     time.Duration
	quarantine time.Duration
	clock      clock.WithTicker
	log        *slog.Logger

	mu sync.Mutex // guards missing
	// missing maps node names seen absent to when they were first missed.
	missing map[string]time.Time
}

// New builds a Controller; it starts nothing.
func New(cfg Config) *Controller {
	c := &Controller{
		client: cfg.Client, pods: cfg.Pods.Informer(), podLister: cfg.Pods.Lister(),
		nodes: cfg.Nodes.Informer(), nodeLister: cfg.Nodes.Lister(),
		threshold: cfg.Threshold, period: cfg.Period, quarantine: cfg.Quarantine,
		clock: cfg.Clock, log: cfg.Logger, missing: map[string]time.Time{},
	}
	if c.threshold == 0 {
		c.threshold = DefaultThreshold
	}
	if c.period <= 0 {
		c.period = DefaultPeriod
	}
	if c.quarantine <= 0 {
		c.quarantine = DefaultQuarantine
	}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "pod-garbage-collector")
	return c
}

// Run waits for the caches and runs a pass every period until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForNamedCacheSync("podgc", ctx.Done(), c.pods.HasSynced, c.nodes.HasSynced) {
		return ctx.Err()
	}
	c.log.Info("started", "threshold", c.threshold)
	t := c.clock.NewTicker(c.period)
	defer t.Stop()
	for {
		if err := c.Pass(ctx); err != nil && ctx.Err() == nil {
			c.log.Info("pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// Pass runs one collection; it returns the first error after trying
// every deletion.
func (c *Controller) Pass(ctx context.Context) error {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		return err
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	note(c.gcTerminated(ctx, pods))
	note(c.gcOrphaned(ctx, pods))
	note(c.gcUnscheduledTerminating(ctx, pods))
	return firstErr
}

func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) error {
	if c.threshold < 0 {
		return nil
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) && p.DeletionTimestamp == nil {
			done = append(done, p)
		}
	}
	excess := len(done) - c.threshold
	if excess <= 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool {
		if !done[i].CreationTimestamp.Equal(&done[j].CreationTimestamp) {
			return done[i].CreationTimestamp.Before(&done[j].CreationTimestamp)
		}
		return done[i].Namespace+"/"+done[i].Name < done[j].Namespace+"/"+done[j].Name
	})
	var firstErr error
	for _, p := range done[:excess] {
		if err := c.forceDelete(ctx, p, "terminated pods over threshold"); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// gcOrphaned deletes pods bound to nodes that have been missing for the
// quarantine and are confirmed gone by a live read.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod) error {
	now := c.clock.Now()
	absent := map[string]bool{}
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			continue
		}
		if _, err := c.nodeLister.Get(p.Spec.NodeName); apierrors.IsNotFound(err) {
			absent[p.Spec.NodeName] = true
		}
	}
	c.mu.Lock()
	var due []string
	for name := range c.missing {
		if !absent[name] {
			delete(c.missing, name)
		}
	}
	for name := range absent {
		first, ok := c.missing[name]
		if !ok {
			c.missing[name] = now
			continue
		}
		if now.Sub(first) >= c.quarantine {
			due = append(due, name)
		}
	}
	c.mu.Unlock()
	var firstErr error
	for _, name := range due {
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			c.mu.Lock()
			delete(c.missing, name)
			c.mu.Unlock()
			continue
		}
		if !apierrors.IsNotFound(err) {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, p := range pods {
			if p.Spec.NodeName == name {
				if err := c.forceDelete(ctx, p, "node does not exist"); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	return firstErr
}

func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var firstErr error
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			if err := c.forceDelete(ctx, p, "unscheduled and terminating"); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (c *Controller) forceDelete(ctx context.Context, p *corev1.Pod, why string) error {
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &p.UID},
	})
	switch {
	case err == nil:
		c.log.Info("deleted pod", "pod", p.Namespace+"/"+p.Name, "reason", why)
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return nil
	}
	return err
}
