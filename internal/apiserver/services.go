package apiserver

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// IPAllocator hands out Service cluster IPs from one range. Implementations
// persist their state so no IP is handed out twice, across restarts and
// servers.
type IPAllocator interface {
	Allocate(ctx context.Context, ip net.IP) error
	AllocateNext(ctx context.Context) (net.IP, error)
	Release(ctx context.Context, ip net.IP) error
}

// PortAllocator hands out Service node ports from one range.
type PortAllocator interface {
	Allocate(ctx context.Context, port int) error
	AllocateNext(ctx context.Context) (int, error)
	Release(ctx context.Context, port int) error
}

// ServiceAllocator allocates what Services need from the cluster's ranges.
type ServiceAllocator struct {
	IPs   IPAllocator
	Ports PortAllocator
}

// allocation is what one write allocated (to roll back if the write fails)
// and what the replaced object held that the new one does not (to release
// once the write commits). A nil allocation does nothing.
type allocation struct {
	alloc     *ServiceAllocator
	newIPs    []net.IP
	newPorts  []int
	freeIPs   []net.IP
	freePorts []int
}

func (a *allocation) rollback(ctx context.Context) {
	if a == nil {
		return
	}
	for _, ip := range a.newIPs {
		_ = a.alloc.IPs.Release(ctx, ip)
	}
	for _, p := range a.newPorts {
		_ = a.alloc.Ports.Release(ctx, p)
	}
}

func (a *allocation) commit(ctx context.Context) {
	if a == nil {
		return
	}
	for _, ip := range a.freeIPs {
		_ = a.alloc.IPs.Release(ctx, ip)
	}
	for _, p := range a.freePorts {
		_ = a.alloc.Ports.Release(ctx, p)
	}
}

// allocate fills in a Service's cluster IP and node ports (old is the
// Service being replaced, nil on create). Other kinds need nothing.
func (s *APIServer) allocate(ctx context.Context, obj, old runtime.Object, dryRun bool) (*allocation, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok || s.cfg.Services == nil || dryRun {
		return nil, nil
	}
	var oldSvc *corev1.Service
	if old != nil {
		oldSvc = old.(*corev1.Service)
	}
	a := &allocation{alloc: s.cfg.Services}
	if err := a.clusterIP(ctx, svc, oldSvc); err != nil {
		a.rollback(ctx)
		return nil, err
	}
	if err := a.nodePorts(ctx, svc, oldSvc); err != nil {
		a.rollback(ctx)
		return nil, err
	}
	return a, nil
}

func (a *allocation) clusterIP(ctx context.Context, svc, old *corev1.Service) error {
	path := field.NewPath("spec", "clusterIPs")
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if old != nil && hasIP(old) {
			a.freeIPs = append(a.freeIPs, net.ParseIP(old.Spec.ClusterIP))
		}
		return nil
	}
	if old != nil && old.Spec.Type != corev1.ServiceTypeExternalName {
		// The cluster IP is immutable; prepareKindUpdate carried it over.
		return nil
	}
	switch svc.Spec.ClusterIP {
	case corev1.ClusterIPNone:
	case "":
		ip, err := a.alloc.IPs.AllocateNext(ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %v", err))
		}
		a.newIPs = append(a.newIPs, ip)
		svc.Spec.ClusterIP = ip.String()
	default:
		ip := net.ParseIP(svc.Spec.ClusterIP)
		if ip == nil {
			return nil // validation reports the malformed address
		}
		if err := a.alloc.IPs.Allocate(ctx, ip); err != nil {
			return apierrors.NewInvalid(serviceGK, svc.Name, field.ErrorList{field.Invalid(path, []string{svc.Spec.ClusterIP}, fmt.Sprintf("failed to allocate IP %s: %v", svc.Spec.ClusterIP, err))})
		}
		a.newIPs = append(a.newIPs, ip)
	}
	svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if svc.Spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		svc.Spec.IPFamilyPolicy = &p
	}
	return nil
}

func hasIP(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeLoadBalancer && (svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
}

func (a *allocation) nodePorts(ctx context.Context, svc, old *corev1.Service) error {
	held := map[int]bool{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				held[int(p.NodePort)] = true
			}
		}
		if old.Spec.HealthCheckNodePort != 0 {
			held[int(old.Spec.HealthCheckNodePort)] = true
		}
	}
	kept := map[int]bool{}
	if needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if err := a.nodePort(ctx, &p.NodePort, held, kept, field.NewPath("spec", "ports").Index(i).Child("nodePort"), svc.Name); err != nil {
				return err
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		if err := a.nodePort(ctx, &svc.Spec.HealthCheckNodePort, held, kept, field.NewPath("spec", "healthCheckNodePort"), svc.Name); err != nil {
			return err
		}
	}
	for p := range held {
		if !kept[p] {
			a.freePorts = append(a.freePorts, p)
		}
	}
	return nil
}

// nodePort allocates *port (0: any free one) unless the old object holds it.
func (a *allocation) nodePort(ctx context.Context, port *int32, held, kept map[int]bool, path *field.Path, name string) error {
	if *port != 0 && (held[int(*port)] || kept[int(*port)]) {
		kept[int(*port)] = true
		return nil
	}
	if *port == 0 {
		p, err := a.alloc.Ports.AllocateNext(ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %v", err))
		}
		*port = int32(p)
	} else if err := a.alloc.Ports.Allocate(ctx, int(*port)); err != nil {
		return apierrors.NewInvalid(serviceGK, name, field.ErrorList{field.Invalid(path, *port, err.Error())})
	}
	a.newPorts = append(a.newPorts, int(*port))
	kept[int(*port)] = true
	return nil
}

var serviceGK = corev1.SchemeGroupVersion.WithKind("Service").GroupKind()

// release frees what a deleted object held.
func (s *APIServer) release(ctx context.Context, obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok || s.cfg.Services == nil {
		return
	}
	a := &allocation{alloc: s.cfg.Services}
	if hasIP(svc) {
		a.freeIPs = append(a.freeIPs, net.ParseIP(svc.Spec.ClusterIP))
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			a.freePorts = append(a.freePorts, int(p.NodePort))
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		a.freePorts = append(a.freePorts, int(svc.Spec.HealthCheckNodePort))
	}
	a.commit(ctx)
}
