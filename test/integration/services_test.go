package integration

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func nodePortService(name, clusterIP string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeNodePort,
			ClusterIP: clusterIP,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// createServices creates count NodePort Services named prefix-i from 20
// concurrent clients.
func createServices(t *testing.T, c kubernetes.Interface, ns, prefix string, count int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, count)
	next := make(chan int)
	for range 20 {
		wg.Go(func() {
			for i := range next {
				_, err := c.CoreV1().Services(ns).Create(context.Background(), nodePortService(fmt.Sprintf("%s-%d", prefix, i), ""), metav1.CreateOptions{})
				if err != nil {
					errs <- fmt.Errorf("create %s-%d: %w", prefix, i, err)
				}
			}
		})
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkAllocations lists every Service and fails on a shared ClusterIP or
// NodePort, or an IP outside the default service CIDR; it returns the IPs
// and ports in use.
func checkAllocations(t *testing.T, c kubernetes.Interface) (map[string]string, map[int32]string) {
	t.Helper()
	_, cidr, _ := net.ParseCIDR("10.43.0.0/16")
	list, err := c.CoreV1().Services("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]string{}
	ports := map[int32]string{}
	for _, svc := range list.Items {
		key := svc.Namespace + "/" + svc.Name
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone {
			continue
		}
		if net.ParseIP(ip) == nil || !cidr.Contains(net.ParseIP(ip)) {
			t.Errorf("%s: clusterIP %q not in %v", key, ip, cidr)
		}
		if len(svc.Spec.ClusterIPs) == 0 || svc.Spec.ClusterIPs[0] != ip {
			t.Errorf("%s: clusterIPs %v; want [%s]", key, svc.Spec.ClusterIPs, ip)
		}
		if other, dup := ips[ip]; dup {
			t.Errorf("clusterIP %s given to both %s and %s", ip, other, key)
		}
		ips[ip] = key
		for _, p := range svc.Spec.Ports {
			if svc.Spec.Type != corev1.ServiceTypeNodePort {
				continue
			}
			if p.NodePort < 30000 || p.NodePort > 32767 {
				t.Errorf("%s: nodePort %d outside 30000-32767", key, p.NodePort)
			}
			if other, dup := ports[p.NodePort]; dup {
				t.Errorf("nodePort %d given to both %s and %s", p.NodePort, other, key)
			}
			ports[p.NodePort] = key
		}
	}
	return ips, ports
}

func TestServiceAllocation(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	ctx := context.Background()
	createNamespace(t, s.Client, "svc")

	createServices(t, s.Client, "svc", "a", 200)
	ips, ports := checkAllocations(t, s.Client)
	if len(ips) < 200 || len(ports) != 200 {
		t.Fatalf("after 200 creates: %d distinct cluster IPs, %d node ports; want >= 200 and 200", len(ips), len(ports))
	}

	s.Restart()
	c := s.Client
	createServices(t, c, "svc", "b", 50)
	ips, ports = checkAllocations(t, c)
	if len(ports) != 250 {
		t.Fatalf("after restart and 50 more creates: %d distinct node ports; want 250", len(ports))
	}

	// A requested IP already in use is refused with 422 on spec.clusterIPs.
	used, err := c.CoreV1().Services("svc").Get(ctx, "a-7", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CoreV1().Services("svc").Create(ctx, nodePortService("taken", used.Spec.ClusterIP), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create with used clusterIP %s: err = %v; want Invalid (422)", used.Spec.ClusterIP, err)
	}
	if !hasCause(err, "spec.clusterIPs") {
		t.Errorf("create with used clusterIP: causes %v; want one on spec.clusterIPs", causes(err))
	}
	// So is a requested node port already in use.
	dupPort := nodePortService("taken-port", "")
	dupPort.Spec.Ports[0].NodePort = used.Spec.Ports[0].NodePort
	_, err = c.CoreV1().Services("svc").Create(ctx, dupPort, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !hasCause(err, "spec.ports[0].nodePort") {
		t.Errorf("create with used nodePort: err = %v causes %v; want Invalid on spec.ports[0].nodePort", err, causes(err))
	}
	if _, err := c.CoreV1().Services("svc").Get(ctx, "taken", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused service exists: get err = %v", err)
	}

	// Deleting frees the IP and the port for reuse.
	if err := c.CoreV1().Services("svc").Delete(ctx, "a-7", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	reuse := nodePortService("reuse", used.Spec.ClusterIP)
	reuse.Spec.Ports[0].NodePort = used.Spec.Ports[0].NodePort
	var got *corev1.Service
	eventually(t, 10*time.Second, func() (bool, string) {
		got, err = c.CoreV1().Services("svc").Create(ctx, reuse, metav1.CreateOptions{})
		return err == nil, fmt.Sprintf("create with freed clusterIP %s: %v", used.Spec.ClusterIP, err)
	})
	if got.Spec.ClusterIP != used.Spec.ClusterIP || got.Spec.Ports[0].NodePort != used.Spec.Ports[0].NodePort {
		t.Errorf("reused service got %s:%d; want %s:%d", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort, used.Spec.ClusterIP, used.Spec.Ports[0].NodePort)
	}
	checkAllocations(t, c)
}

func causes(err error) []string {
	var out []string
	if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
		for _, c := range st.Status().Details.Causes {
			out = append(out, c.Field+": "+c.Message)
		}
	}
	return out
}

func hasCause(err error, fieldPrefix string) bool {
	for _, c := range causes(err) {
		if strings.HasPrefix(c, fieldPrefix) {
			return true
		}
	}
	return false
}
