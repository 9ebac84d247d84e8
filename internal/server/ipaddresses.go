package server

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

// ipAllocatorName marks the IPAddress objects the Service IP allocator
// keeps, as upstream's allocator labels them.
const ipAllocatorName = "ipallocator.k8s.io"

const (
	ipMirrorResync = 5 * time.Minute
	ipMirrorRetry  = time.Second
)

// ipAddressMirror keeps one networking.k8s.io IPAddress object per
// allocated Service cluster IP, as upstream's IPAddress-backed allocator
// does. Skiff's allocator keeps its state in a bitmap; the mirror reflects
// it: it lists Services and the allocator's IPAddresses, creates the
// missing ones and deletes those no Service holds, on every Service event
// and every ipMirrorResync. IPAddresses it did not create (no managed-by
// label of its own) are left alone.
type ipAddressMirror struct {
	api      *apiserver.APIServer
	services storage.Resource
	ips      storage.Resource
	clock    clock.WithTicker
	log      *slog.Logger
}

func newIPAddressMirror(api *apiserver.APIServer, stores map[schema.GroupVersionKind]storage.Resource, log *slog.Logger) *ipAddressMirror {
	return &ipAddressMirror{
		api: api, services: stores[corev1.SchemeGroupVersion.WithKind("Service")],
		ips: stores[networkingv1.SchemeGroupVersion.WithKind("IPAddress")], clock: clock.RealClock{}, log: log,
	}
}

// Run mirrors until ctx ends.
func (m *ipAddressMirror) Run(ctx context.Context) {
	ctx = auth.WithUser(ctx, systemUser)
	for ctx.Err() == nil {
		rv, err := m.sync(ctx)
		if err != nil {
			m.log.Warn("IPAddress mirror: sync failed", "err", err)
			m.sleep(ctx, ipMirrorRetry)
			continue
		}
		m.watch(ctx, rv)
	}
}

// watch syncs on every Service event until the watch ends, ctx ends or
// the resync period passes.
func (m *ipAddressMirror) watch(ctx context.Context, rv uint64) {
	w, err := m.services.Watch(ctx, "", storage.WatchOptions{ResourceVersion: strconv.FormatUint(rv, 10)})
	if err != nil {
		m.sleep(ctx, ipMirrorRetry)
		return
	}
	defer w.Stop()
	resync := m.clock.NewTimer(ipMirrorResync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C():
			return
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if _, err := m.sync(ctx); err != nil {
				m.log.Warn("IPAddress mirror: sync failed", "err", err)
				return
			}
		}
	}
}

func (m *ipAddressMirror) sleep(ctx context.Context, d time.Duration) {
	t := m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C():
	}
}

// sync makes the allocator's IPAddresses match the Services' cluster IPs.
// It returns the resource version of the Service list it read.
func (m *ipAddressMirror) sync(ctx context.Context) (uint64, error) {
	svcs, err := m.services.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return 0, err
	}
	have, err := m.ips.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return 0, err
	}
	want := map[string]*networkingv1.IPAddress{}
	for _, obj := range svcs.Items {
		for _, ip := range wantedIPAddresses(obj.(*corev1.Service)) {
			want[ip.Name] = ip
		}
	}
	existing := map[string]*networkingv1.IPAddress{}
	for _, obj := range have.Items {
		ip := obj.(*networkingv1.IPAddress)
		existing[ip.Name] = ip
		if ip.Labels[networkingv1.LabelManagedBy] != ipAllocatorName {
			continue
		}
		w, ok := want[ip.Name]
		if ok && ip.Spec.ParentRef != nil && *ip.Spec.ParentRef == *w.Spec.ParentRef {
			continue
		}
		if _, err := m.ips.Delete(ctx, "", ip.Name, nil); err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
		delete(existing, ip.Name)
	}
	for name, ip := range want {
		if _, ok := existing[name]; ok {
			continue
		}
		if err := m.api.EnsureObject(ctx, ip, false); err != nil {
			return 0, err
		}
	}
	return svcs.ResourceVersion, nil
}

// wantedIPAddresses are the IPAddress objects for svc's cluster IPs.
func wantedIPAddresses(svc *corev1.Service) []*networkingv1.IPAddress {
	var out []*networkingv1.IPAddress
	for _, s := range svc.Spec.ClusterIPs {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			continue // "None", or nothing allocated
		}
		family := corev1.IPv4Protocol
		if addr.Is6() && !addr.Is4In6() {
			family = corev1.IPv6Protocol
		}
		ip := &networkingv1.IPAddress{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IPAddress"},
			ObjectMeta: metav1.ObjectMeta{Name: addr.Unmap().String(), Labels: map[string]string{
				networkingv1.LabelIPAddressFamily: string(family),
				networkingv1.LabelManagedBy:       ipAllocatorName,
			}},
			Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{
				Resource: "services", Namespace: svc.Namespace, Name: svc.Name,
			}},
		}
		out = append(out, ip)
	}
	return out
}
