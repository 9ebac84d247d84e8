// Package aggregation is the clusterrole-aggregation controller: it keeps
// the rules of every ClusterRole with an aggregationRule equal to
// rbac.AggregateRules over the current ClusterRoles.
//
// New builds the controller from a ClusterRole informer and a client; Run
// registers handlers, waits for the cache, and runs workers until its
// context ends, returning once they have stopped. Any ClusterRole change
// enqueues every aggregating ClusterRole (there are few); Sync is
// level-based and writes only when the rules differ.
package aggregation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/auth/rbac"
)

// Controller is the clusterrole-aggregation controller.
type Controller struct {
	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	lister   rbaclisters.ClusterRoleLister
	log      *slog.Logger
}

// New builds a Controller; it starts nothing. The client should act as
// service account kube-system/clusterrole-aggregation-controller, whose
// bootstrap role holds "escalate" on clusterroles.
func New(client kubernetes.Interface, roles rbacinformers.ClusterRoleInformer, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.Default()
	}
	return &Controller{client: client, informer: roles.Informer(), lister: roles.Lister(),
		log: log.With("controller", "clusterrole-aggregation")}
}

// Run runs the controller until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterrole-aggregation"})
	enqueueAll := func(any) {
		roles, err := c.lister.List(labels.Everything())
		if err != nil {
			return
		}
		for _, r := range roles {
			if r.AggregationRule != nil {
				queue.Add(r.Name)
			}
		}
	}
	reg, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueAll,
		UpdateFunc: func(_, obj any) { enqueueAll(obj) },
		DeleteFunc: enqueueAll,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.informer.RemoveEventHandler(reg) }()
	if !cache.WaitForNamedCacheSync("clusterrole-aggregation", ctx.Done(), c.informer.HasSynced, reg.HasSynced) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			key, quit := queue.Get()
			if quit {
				return
			}
			if err := c.Sync(ctx, key); err != nil {
				c.log.Warn("sync failed; retrying", "key", key, "err", err)
				queue.AddRateLimited(key)
			} else {
				queue.Forget(key)
			}
			queue.Done(key)
		}
	}()
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
	return nil
}

// Sync brings the rules of ClusterRole name up to date. A returned error
// means retry with backoff; a missing or non-aggregating role is done.
func (c *Controller) Sync(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.AggregationRule == nil {
		return nil
	}
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	rules := rbac.AggregateRules(cached, all)
	if equality.Semantic.DeepEqual(rules, cached.Rules) || (len(rules) == 0 && len(cached.Rules) == 0) {
		return nil
	}
	cr := cached.DeepCopy()
	cr.Rules = rules
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
