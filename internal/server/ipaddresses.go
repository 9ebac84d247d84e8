package server

import (
	"context"
	"log/slog"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/storage"
)

// ipAllocatorName marks the IPAddress objects the Service IP allocator
// keeps, as upstream's allocator labels them.
const ipAllocatorName = "ipallocator.k8s.io"

// ipAddressMirror keeps one networking.k8s.io IPAddress object per
// allocated Service cluster IP, as upstream's IPAddress-backed allocator
// does. Skiff's allocator keeps its state in a bitmap; the mirror reflects
// it: on every Service change (a resyncLoop) it lists Services and the
// allocator's IPAddresses, creates the missing ones and deletes those no
// Service holds. IPAddresses it did not create (no managed-by label of its
// own) are left alone.
type ipAddressMirror struct {
	api      *apiserver.APIServer
	services storage.Resource
	ips      storage.Resource
}

// newIPAddressMirror returns the loop that runs the mirror.
func newIPAddressMirror(api *apiserver.APIServer, stores map[schema.GroupVersionKind]storage.Resource, log *slog.Logger) *resyncLoop {
	m := &ipAddressMirror{
		api: api, services: stores[corev1.SchemeGroupVersion.WithKind("Service")],
		ips: stores[networkingv1.SchemeGroupVersion.WithKind("IPAddress")],
	}
	return &resyncLoop{name: "ipaddress-mirror", watched: m.services, sync: m.sync, clock: clock.RealClock{}, log: log}
}

// sync makes the allocator's IPAddresses match the Services' cluster IPs.
func (m *ipAddressMirror) sync(ctx context.Context) error {
	svcs, err := m.services.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return err
	}
	have, err := m.ips.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return err
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
			return err
		}
		delete(existing, ip.Name)
	}
	for name, ip := range want {
		if _, ok := existing[name]; ok {
			continue
		}
		if err := m.api.EnsureObject(ctx, ip, false); err != nil {
			return err
		}
	}
	return nil
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
