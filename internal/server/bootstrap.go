package server

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/allocator"
	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

// systemNamespaces exist in every cluster.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// repairAllocators rewrites the allocators' state from the Services that
// exist, so a crash between an allocation and its Service's write leaks
// nothing. It runs before the API accepts writes.
func repairAllocators(ctx context.Context, services storage.Resource, ips *allocator.IPAllocator, ports *allocator.PortAllocator) error {
	list, err := services.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return err
	}
	var usedIPs []net.IP
	var usedPorts []int
	for _, obj := range list.Items {
		svc := obj.(*corev1.Service)
		for _, ip := range svc.Spec.ClusterIPs {
			if p := net.ParseIP(ip); p != nil {
				usedIPs = append(usedIPs, p)
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				usedPorts = append(usedPorts, int(p.NodePort))
			}
		}
		if svc.Spec.HealthCheckNodePort != 0 {
			usedPorts = append(usedPorts, int(svc.Spec.HealthCheckNodePort))
		}
	}
	if err := ips.Repair(ctx, usedIPs); err != nil {
		return err
	}
	return ports.Repair(ctx, usedPorts)
}

// bootstrap creates the objects every cluster starts with: the system
// namespaces, the default/kubernetes Service pointing at this server and
// the cluster DNS Service.
func (s *Server) bootstrap(ctx context.Context, api *apiserver.APIServer, serviceNet *net.IPNet, dnsIP net.IP, port int) error {
	ctx = auth.WithUser(ctx, systemUser)
	var objs []runtime.Object
	for _, name := range systemNamespaces {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	if err := ensureAll(ctx, api, objs); err != nil {
		return err
	}
	if err := ensureAll(ctx, api, policyObjects()); err != nil {
		return err
	}
	if err := s.bootstrapClusterAPIs(ctx, api, serviceNet); err != nil {
		return err
	}
	first := firstServiceIP(serviceNet)
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: first.String(),
			Ports:     []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port))}},
		},
	}
	if err := api.EnsureObject(ctx, svc, false); err != nil {
		return err
	}
	if err := api.EnsureObject(ctx, kubeDNSService(dnsIP), false); err != nil {
		return err
	}
	addr := s.cfg.AdvertiseAddress
	ep := &corev1.Endpoints{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := api.EnsureObject(ctx, ep, true); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "skiff-apiserver",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if net.ParseIP(addr).To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	return api.EnsureObject(ctx, slice, true)
}

// firstServiceIP is the address after the network address of the range.
func firstServiceIP(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP.To16()))
	copy(ip, n.IP.To16())
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	return ip
}

// kubeDNSService is kube-system/kube-dns as k3s's CoreDNS manifest has it,
// without a selector: every node agent answers DNS, and the cluster DNS
// endpoints controller (internal/controller/clusterdns) lists them.
func kubeDNSService(ip net.IP) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS",
		}},
		Spec: corev1.ServiceSpec{
			ClusterIP:  ip.String(),
			ClusterIPs: []string{ip.String()},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}

// clusterDNSIP is --cluster-dns, or the service range's tenth address
// (10.43.0.10 for 10.43.0.0/16, as k3s).
func clusterDNSIP(flag string, serviceNet *net.IPNet) (net.IP, error) {
	if flag != "" {
		ip := net.ParseIP(flag)
		if ip == nil || !serviceNet.Contains(ip) {
			return nil, fmt.Errorf("--cluster-dns %q: want an IP inside the service CIDR %s", flag, serviceNet)
		}
		return ip, nil
	}
	ip := make(net.IP, len(serviceNet.IP))
	copy(ip, serviceNet.IP)
	ip[len(ip)-1] += 10
	if !serviceNet.Contains(ip) {
		return nil, fmt.Errorf("the service CIDR %s is too small for the cluster DNS address", serviceNet)
	}
	return ip, nil
}
