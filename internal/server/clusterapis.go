package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/resources/apfbootstrap"
)

// defaultServiceCIDRName names the ServiceCIDR for the --service-cidr
// range, as upstream's default ServiceCIDR controller does.
const defaultServiceCIDRName = "kubernetes"

// componentRunning records whether an in-process component's loop is
// running, for componentstatuses. The zero value reads "not running".
type componentRunning struct{ running atomic.Bool }

func (c *componentRunning) set(v bool) { c.running.Store(v) }

// check reports the component's health: disabled on this server, not
// (or no longer) running, or healthy.
func (c *componentRunning) check(name string, disabled bool) apiserver.ComponentCheck {
	return func(context.Context) error {
		switch {
		case disabled:
			return fmt.Errorf("%s is disabled on this server", name)
		case !c.running.Load():
			return fmt.Errorf("%s is not running on this server", name)
		}
		return nil
	}
}

// componentChecks are the componentstatuses upstream reports: etcd-0,
// scheduler and controller-manager.
func (s *Server) componentChecks(client *clientv3.Client) map[string]apiserver.ComponentCheck {
	return map[string]apiserver.ComponentCheck{
		"etcd-0": func(ctx context.Context) error {
			_, err := client.Get(ctx, "health", clientv3.WithCountOnly())
			return err
		},
		"scheduler":          s.schedulerState.check("scheduler", s.cfg.DisableScheduler),
		"controller-manager": s.managerState.check("controller-manager", s.cfg.DisableControllerManager),
	}
}

// bootstrapClusterAPIs creates what upstream's control plane keeps at
// start: the API Priority and Fairness configuration (mandatory objects
// restored to their fixed spec, suggested ones created when missing), the
// default ServiceCIDR, and kube-system/extension-apiserver-authentication.
func (s *Server) bootstrapClusterAPIs(ctx context.Context, api *apiserver.APIServer, serviceNet *net.IPNet) error {
	ctx = auth.WithUser(ctx, systemUser)
	var mandatory, suggested []runtime.Object
	for _, pl := range apfbootstrap.MandatoryPriorityLevels() {
		mandatory = append(mandatory, pl)
	}
	for _, fs := range apfbootstrap.MandatoryFlowSchemas() {
		mandatory = append(mandatory, fs)
	}
	for _, pl := range apfbootstrap.SuggestedPriorityLevels() {
		suggested = append(suggested, pl)
	}
	for _, fs := range apfbootstrap.SuggestedFlowSchemas() {
		suggested = append(suggested, fs)
	}
	var errs []error
	for _, obj := range mandatory {
		errs = append(errs, api.EnsureObject(ctx, obj, true))
	}
	if err := ensureAll(ctx, api, suggested); err != nil {
		errs = append(errs, err)
	}

	cidr := &networkingv1.ServiceCIDR{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "ServiceCIDR"},
		ObjectMeta: metav1.ObjectMeta{Name: defaultServiceCIDRName},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{serviceNet.String()}},
	}
	if err := api.EnsureObject(ctx, cidr, false); err != nil {
		errs = append(errs, err)
	} else {
		// Ready once the range is the configured one, as upstream's
		// controller reports it.
		cidr.Status.Conditions = []metav1.Condition{{
			Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionTrue,
			Message: "Kubernetes default Service CIDR is ready", LastTransitionTime: metav1.Now(),
		}}
		err := api.EnsureStatus(ctx, cidr, func(cur runtime.Object) bool {
			c := cur.(*networkingv1.ServiceCIDR)
			if len(c.Spec.CIDRs) != 1 || c.Spec.CIDRs[0] != serviceNet.String() {
				return false // an operator's range: leave its status alone
			}
			for _, cond := range c.Status.Conditions {
				if cond.Type == networkingv1.ServiceCIDRConditionReady && cond.Status == metav1.ConditionTrue {
					return false
				}
			}
			return true
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}

	// Only client-ca-file: upstream writes the requestheader-* keys only
	// when a front-proxy (request header) CA is configured, and Skiff has
	// no aggregation layer yet.
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "extension-apiserver-authentication", Namespace: metav1.NamespaceSystem},
		Data:       map[string]string{"client-ca-file": string(s.bundle.CACertPEM())},
	}
	errs = append(errs, api.EnsureObject(ctx, cm, true))
	return errors.Join(errs...)
}

// jwksURI is where service-account issuer discovery says the key set is:
// this server's advertised address, as upstream's default.
func (s *Server) jwksURI() string {
	port := s.cfg.HTTPSPort
	if s.cfg.Listener != nil {
		if a, ok := s.cfg.Listener.Addr().(*net.TCPAddr); ok {
			port = a.Port
		}
	}
	return "https://" + net.JoinHostPort(s.cfg.AdvertiseAddress, strconv.Itoa(port)) + "/openid/v1/jwks"
}
