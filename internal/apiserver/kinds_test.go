package apiserver

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/resources"
)

// A Job created without a selector gets the generated one, as upstream's
// job strategy does, so that validation (selector required) passes.
func TestPrepareKindCreateJobSelector(t *testing.T) {
	res := &resource{info: resources.Info{
		GVK:          schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"},
		Subresources: []string{"status"},
	}}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u-1"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}},
	}
	prepareKindCreate(res, job)
	if job.Spec.Selector == nil {
		t.Fatal("spec.selector = nil; want the generated selector")
	}
	if got := job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]; got != "u-1" {
		t.Errorf("selector controller-uid = %q; want %q", got, "u-1")
	}
	if got := job.Spec.Template.Labels["batch.kubernetes.io/job-name"]; got != "j" {
		t.Errorf("template job-name label = %q; want %q", got, "j")
	}
}

func TestDropTypeDependent(t *testing.T) {
	base := func(typ corev1.ServiceType) *corev1.Service {
		s := &corev1.Service{Spec: corev1.ServiceSpec{
			Type: typ, ClusterIP: "10.43.0.5", ClusterIPs: []string{"10.43.0.5"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
			Ports:                 []corev1.ServicePort{{Port: 80}},
		}}
		if typ == corev1.ServiceTypeNodePort || typ == corev1.ServiceTypeLoadBalancer {
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}
		if typ == corev1.ServiceTypeLoadBalancer {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		}
		return s
	}
	t.Run("ClusterIP to ExternalName wipes the unchanged cluster IP", func(t *testing.T) {
		old := base(corev1.ServiceTypeClusterIP)
		svc := old.DeepCopy()
		svc.Spec.Type, svc.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		keepAllocations(svc, old)
		if svc.Spec.ClusterIP != "" || svc.Spec.ClusterIPs != nil || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil || svc.Spec.InternalTrafficPolicy != nil {
			t.Errorf("spec = %+v; want cluster IPs, families and policies wiped", svc.Spec)
		}
	})
	t.Run("a cluster IP the client changed is kept for validation", func(t *testing.T) {
		old := base(corev1.ServiceTypeClusterIP)
		svc := old.DeepCopy()
		svc.Spec.Type, svc.Spec.ClusterIP = corev1.ServiceTypeExternalName, "10.43.0.6"
		keepAllocations(svc, old)
		if svc.Spec.ClusterIP != "10.43.0.6" {
			t.Errorf("clusterIP = %q; want the client's", svc.Spec.ClusterIP)
		}
	})
	t.Run("LoadBalancer to ClusterIP wipes node ports and external fields", func(t *testing.T) {
		old := base(corev1.ServiceTypeLoadBalancer)
		svc := old.DeepCopy()
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		keepAllocations(svc, old)
		if svc.Spec.Ports[0].NodePort != 0 || svc.Spec.AllocateLoadBalancerNodePorts != nil || svc.Spec.ExternalTrafficPolicy != "" {
			t.Errorf("spec = %+v; want node ports, allocateLoadBalancerNodePorts and externalTrafficPolicy wiped", svc.Spec)
		}
		if svc.Spec.ClusterIP != "10.43.0.5" {
			t.Errorf("clusterIP = %q; want kept", svc.Spec.ClusterIP)
		}
	})
	t.Run("NodePort to LoadBalancer keeps node ports", func(t *testing.T) {
		old := base(corev1.ServiceTypeNodePort)
		svc := old.DeepCopy()
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		keepAllocations(svc, old)
		if svc.Spec.Ports[0].NodePort != 30080 {
			t.Errorf("nodePort = %d; want kept", svc.Spec.Ports[0].NodePort)
		}
	})
}
