package validation

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/resources/defaults"
)

// want names one expected error by path and type.
type want struct {
	path string
	typ  field.ErrorType
}

func ptr[T any](v T) *T { return &v }

func om(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: "1"}
}

func com(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, ResourceVersion: "1"}
}

// defaulted returns obj after defaulting, as the API server validates it.
func defaulted[T runtime.Object](obj T) T {
	defaults.Default(obj)
	return obj
}

var appLabels = map[string]string{"app": "a"}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.25"}}}
}

func pod(mut func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: om("p"), Spec: podSpec()}
	if mut != nil {
		mut(p)
	}
	return defaulted(p)
}

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels}, Spec: podSpec()}
}

func deployment(mut func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: om("d"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template(),
	}}
	if mut != nil {
		mut(d)
	}
	return defaulted(d)
}

func replicaSet(mut func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: om("rs"), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template(),
	}}
	if mut != nil {
		mut(rs)
	}
	return defaulted(rs)
}

func statefulSet(mut func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	ss := &appsv1.StatefulSet{ObjectMeta: om("ss"), Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template(),
	}}
	if mut != nil {
		mut(ss)
	}
	return defaulted(ss)
}

// dataClaim is a valid volumeClaimTemplate named "data".
func dataClaim() corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func daemonSet(mut func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: om("ds"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels}, Template: template(),
	}}
	if mut != nil {
		mut(ds)
	}
	return defaulted(ds)
}

func rc(mut func(*corev1.ReplicationController)) *corev1.ReplicationController {
	t := template()
	r := &corev1.ReplicationController{ObjectMeta: om("rc"), Spec: corev1.ReplicationControllerSpec{Template: &t}}
	if mut != nil {
		mut(r)
	}
	return defaulted(r)
}

func job(mut func(*batchv1.Job)) *batchv1.Job {
	t := template()
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	j := &batchv1.Job{ObjectMeta: om("j"), Spec: batchv1.JobSpec{Template: t}}
	j.UID = "uid-1"
	if mut != nil {
		mut(j)
	}
	defaults.Default(j)
	defaults.GenerateJobSelector(j)
	return j
}

func cronJob(mut func(*batchv1.CronJob)) *batchv1.CronJob {
	t := template()
	t.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	cj := &batchv1.CronJob{ObjectMeta: om("cj"), Spec: batchv1.CronJobSpec{
		Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}},
	}}
	if mut != nil {
		mut(cj)
	}
	return defaulted(cj)
}

func service(mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: om("svc"), Spec: corev1.ServiceSpec{
		Selector: appLabels, Ports: []corev1.ServicePort{{Port: 80}},
	}}
	if mut != nil {
		mut(s)
	}
	return defaulted(s)
}

func pv(mut func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{ObjectMeta: com("pv"), Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
	}}
	if mut != nil {
		mut(v)
	}
	return defaulted(v)
}

func pvc(mut func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: om("pvc"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	if mut != nil {
		mut(c)
	}
	return defaulted(c)
}

func hpa2(mut func(*autoscalingv2.HorizontalPodAutoscaler)) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: om("h"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "d", APIVersion: "apps/v1"},
		MaxReplicas:    3,
	}}
	if mut != nil {
		mut(h)
	}
	return defaulted(h)
}

func ingress(mut func(*networkingv1.Ingress)) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	i := &networkingv1.Ingress{ObjectMeta: om("ing"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
		Host: "example.com",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: &pt,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}},
		}}}},
	}}}}
	if mut != nil {
		mut(i)
	}
	return defaulted(i)
}

func slice(mut func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: om("s"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}},
		Ports:     []discoveryv1.EndpointPort{{Port: ptr[int32](80)}},
	}
	if mut != nil {
		mut(s)
	}
	return defaulted(s)
}

func roleBinding(mut func(*rbacv1.RoleBinding)) *rbacv1.RoleBinding {
	b := &rbacv1.RoleBinding{ObjectMeta: om("rb"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "ServiceAccount", Name: "sa", Namespace: "default"}}}
	if mut != nil {
		mut(b)
	}
	return defaulted(b)
}

func storageClass(mut func(*storagev1.StorageClass)) *storagev1.StorageClass {
	s := &storagev1.StorageClass{ObjectMeta: com("sc"), Provisioner: "rancher.io/local-path", Parameters: map[string]string{"a": "b"}}
	if mut != nil {
		mut(s)
	}
	return defaulted(s)
}

func TestValidateCreate(t *testing.T) {
	longName := strings.Repeat("a", 64)
	tests := []struct {
		name string
		obj  runtime.Object
		want []want // nil: valid
	}{
		// metadata
		{"unknown type is metadata only", &metav1.PartialObjectMetadata{ObjectMeta: om("x")}, nil},
		{"name required", pod(func(p *corev1.Pod) { p.Name = "" }), []want{{"metadata.name", field.ErrorTypeRequired}}},
		{"name format", pod(func(p *corev1.Pod) { p.Name = "Bad_Name" }), []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"namespace required", pod(func(p *corev1.Pod) { p.Namespace = "" }), []want{{"metadata.namespace", field.ErrorTypeRequired}}},
		{"namespace forbidden on cluster kind", pv(func(v *corev1.PersistentVolume) { v.Namespace = "default" }), []want{{"metadata.namespace", field.ErrorTypeForbidden}}},
		{"bad label", pod(func(p *corev1.Pod) { p.Labels = map[string]string{"a b": "c"} }), []want{{"metadata.labels", field.ErrorTypeInvalid}}},
		{"annotations too large", pod(func(p *corev1.Pod) {
			p.Annotations = map[string]string{"a": strings.Repeat("x", 256*1024+1)}
		}), []want{{"metadata.annotations", field.ErrorTypeTooLong}}},
		{"unqualified finalizer", pod(func(p *corev1.Pod) { p.Finalizers = []string{"mine"} }), []want{{"metadata.finalizers", field.ErrorTypeInvalid}}},
		{"owner reference uid", pod(func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs"}}
		}), []want{{"metadata.ownerReferences[0].uid", field.ErrorTypeRequired}}},

		// core/v1 Pod
		{"pod valid", pod(nil), nil},
		{"pod no containers", pod(func(p *corev1.Pod) { p.Spec.Containers = nil }), []want{{"spec.containers", field.ErrorTypeRequired}}},
		{"pod image required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }), []want{{"spec.containers[0].image", field.ErrorTypeRequired}}},
		{"pod duplicate container", pod(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
		}), []want{{"spec.containers[1].name", field.ErrorTypeDuplicate}}},
		{"pod container name", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Name = "C_1" }), []want{{"spec.containers[0].name", field.ErrorTypeInvalid}}},
		{"pod port range", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
		}), []want{{"spec.containers[0].ports[0].containerPort", field.ErrorTypeInvalid}}},
		{"pod port protocol", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "ICMP"}}
		}), []want{{"spec.containers[0].ports[0].protocol", field.ErrorTypeNotSupported}}},
		{"pod requests over limits", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}
		}), []want{{"spec.containers[0].resources.requests[cpu]", field.ErrorTypeInvalid}}},
		{"pod restartPolicy", pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }), []want{{"spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{"pod dnsPolicy", pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }), []want{{"spec.dnsPolicy", field.ErrorTypeNotSupported}}},
		{"pod duplicate volume", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v"}, {Name: "v"}}
		}), []want{{"spec.volumes[1].name", field.ErrorTypeDuplicate}}},
		{"pod two volume sources", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"},
			}}}
		}), []want{{"spec.volumes[0].emptyDir", field.ErrorTypeForbidden}}},
		{"pod mount of unknown volume", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		}), []want{{"spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound}}},
		{"pod env name", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}}
		}), []want{{"spec.containers[0].env[0].name", field.ErrorTypeInvalid}}},
		{"pod sysctls as upstream's conformance spec", pod(func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "foo-", Value: "bar"}, {Name: "kernel.shmmax", Value: "1"},
				{Name: "safe-and-unsafe", Value: "1"}, {Name: "bar..", Value: "42"},
				{Name: "net/ipv4/ip_forward", Value: "1"}, {Name: "kernel.shmmax", Value: "2"}, {Name: ""},
			}}
		}), []want{
			{"spec.securityContext.sysctls[0].name", field.ErrorTypeInvalid},
			{"spec.securityContext.sysctls[3].name", field.ErrorTypeInvalid},
			{"spec.securityContext.sysctls[5].name", field.ErrorTypeDuplicate},
			{"spec.securityContext.sysctls[6].name", field.ErrorTypeRequired},
		}},
		{"pod probe handler", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{}
		}), []want{{"spec.containers[0].livenessProbe", field.ErrorTypeRequired}}},
		{"podtemplate valid", defaulted(&corev1.PodTemplate{ObjectMeta: om("pt"), Template: template()}), nil},
		{"podtemplate restartPolicy", defaulted(&corev1.PodTemplate{ObjectMeta: om("pt"), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: podSpec().Containers, RestartPolicy: "Bad",
		}}}), []want{{"template.spec.restartPolicy", field.ErrorTypeNotSupported}}},

		// Service
		{"service valid", service(nil), nil},
		{"service headless without ports", service(func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }), nil},
		{"service externalname", service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
			s.Spec.Ports = nil
		}), nil},
		{"service name is DNS-1035", service(func(s *corev1.Service) { s.Name = "1svc" }), []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"service ports required", service(func(s *corev1.Service) { s.Spec.Ports = nil }), []want{{"spec.ports", field.ErrorTypeRequired}}},
		{"service port names required", service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 81}}
		}), []want{{"spec.ports[0].name", field.ErrorTypeRequired}, {"spec.ports[1].name", field.ErrorTypeRequired}}},
		{"service duplicate port names", service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}
		}), []want{{"spec.ports[1].name", field.ErrorTypeDuplicate}}},
		{"service port range", service(func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }), []want{{"spec.ports[0].port", field.ErrorTypeInvalid}, {"spec.ports[0].targetPort", field.ErrorTypeInvalid}}},
		{"service type", service(func(s *corev1.Service) { s.Spec.Type = "Magic" }), []want{{"spec.type", field.ErrorTypeNotSupported}}},
		{"service nodePort range", service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 80
		}), []want{{"spec.ports[0].nodePort", field.ErrorTypeInvalid}}},
		{"service nodePort on ClusterIP", service(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }), []want{{"spec.ports[0].nodePort", field.ErrorTypeForbidden}}},
		{"service bad clusterIP", service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0" }), []want{{"spec.clusterIP", field.ErrorTypeInvalid}}},
		{"service bad selector", service(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "b c"} }), []want{{"spec.selector", field.ErrorTypeInvalid}}},

		// ConfigMap, Secret
		{"configmap valid", &corev1.ConfigMap{ObjectMeta: om("cm"), Data: map[string]string{"a.txt": "x"}}, nil},
		{"configmap bad key", &corev1.ConfigMap{ObjectMeta: om("cm"), Data: map[string]string{"a/b": "x"}}, []want{{"data[a/b]", field.ErrorTypeInvalid}}},
		{"configmap too large", &corev1.ConfigMap{ObjectMeta: om("cm"), Data: map[string]string{"a": strings.Repeat("x", 1<<20+1)}}, []want{{"data", field.ErrorTypeTooLong}}},
		{"secret valid", defaulted(&corev1.Secret{ObjectMeta: om("s"), Data: map[string][]byte{"k": []byte("v")}}), nil},
		{"secret tls keys", defaulted(&corev1.Secret{ObjectMeta: om("s"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}),
			[]want{{"data[tls.key]", field.ErrorTypeRequired}}},
		{"secret bad key", defaulted(&corev1.Secret{ObjectMeta: om("s"), Data: map[string][]byte{"..": nil}}), []want{{"data[..]", field.ErrorTypeInvalid}}},
		{"serviceaccount valid", &corev1.ServiceAccount{ObjectMeta: om("sa")}, nil},

		// Namespace, Node
		{"namespace valid", defaulted(&corev1.Namespace{ObjectMeta: com("team-a")}), nil},
		{"namespace name is a label", defaulted(&corev1.Namespace{ObjectMeta: com("team.a")}), []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"node valid", &corev1.Node{ObjectMeta: com("node-1.example"), Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}, nil},
		{"node bad podCIDR", &corev1.Node{ObjectMeta: com("n"), Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0"}}, []want{{"spec.podCIDR", field.ErrorTypeInvalid}}},
		{"node taint effect", &corev1.Node{ObjectMeta: com("n"), Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k"}}}}, []want{{"spec.taints[0].effect", field.ErrorTypeRequired}}},

		// PV, PVC
		{"pv valid", pv(nil), nil},
		{"pv capacity required", pv(func(v *corev1.PersistentVolume) { v.Spec.Capacity = nil }), []want{{"spec.capacity", field.ErrorTypeRequired}}},
		{"pv access modes required", pv(func(v *corev1.PersistentVolume) { v.Spec.AccessModes = nil }), []want{{"spec.accessModes", field.ErrorTypeRequired}}},
		{"pv no source", pv(func(v *corev1.PersistentVolume) { v.Spec.HostPath = nil }), []want{{"spec", field.ErrorTypeRequired}}},
		{"pv two sources", pv(func(v *corev1.PersistentVolume) {
			v.Spec.NFS = &corev1.NFSVolumeSource{Server: "s", Path: "/p"}
		}), []want{{"spec.nfs", field.ErrorTypeForbidden}}},
		{"pvc valid", pvc(nil), nil},
		{"pvc access modes", pvc(func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = nil }), []want{{"spec.accessModes", field.ErrorTypeRequired}}},
		{"pvc storage required", pvc(func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }), []want{{"spec.resources[storage]", field.ErrorTypeRequired}}},

		// ResourceQuota, LimitRange
		{"resourcequota valid", &corev1.ResourceQuota{ObjectMeta: om("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("10")}}}, nil},
		{"resourcequota negative", &corev1.ResourceQuota{ObjectMeta: om("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("-1")}}},
			[]want{{"spec.hard[pods]", field.ErrorTypeInvalid}}},
		{"limitrange valid", defaulted(&corev1.LimitRange{ObjectMeta: om("l"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		}}}}), nil},
		{"limitrange min over max", &corev1.LimitRange{ObjectMeta: om("l"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			Min:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		}}}}, []want{{"spec.limits[0].min[cpu]", field.ErrorTypeInvalid}}},

		// ReplicationController, Endpoints, Event
		{"rc valid", rc(nil), nil},
		{"rc selector mismatch", rc(func(r *corev1.ReplicationController) { r.Spec.Selector = map[string]string{"app": "b"} }),
			[]want{{"spec.template.metadata.labels", field.ErrorTypeInvalid}}},
		{"rc restartPolicy", rc(func(r *corev1.ReplicationController) { r.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{{"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{"endpoints valid", defaulted(&corev1.Endpoints{ObjectMeta: om("svc"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80}},
		}}}), nil},
		{"endpoints bad ip", defaulted(&corev1.Endpoints{ObjectMeta: om("svc"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "nope"}}, Ports: []corev1.EndpointPort{{Port: 80}},
		}}}), []want{{"subsets[0].addresses[0].ip", field.ErrorTypeInvalid}}},
		{"event valid", &corev1.Event{ObjectMeta: om("e"), InvolvedObject: corev1.ObjectReference{Namespace: "default"}, Type: "Normal"}, nil},
		{"event namespace mismatch", &corev1.Event{ObjectMeta: om("e"), InvolvedObject: corev1.ObjectReference{Namespace: "other"}},
			[]want{{"involvedObject.namespace", field.ErrorTypeInvalid}}},

		// apps/v1
		{"deployment valid", deployment(nil), nil},
		{"deployment selector required", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }), []want{{"spec.selector", field.ErrorTypeRequired}}},
		{"deployment empty selector", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }), []want{{"spec.selector", field.ErrorTypeInvalid}}},
		{"deployment selector mismatch", deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "b"}
		}), []want{{"spec.template.metadata.labels", field.ErrorTypeInvalid}}},
		{"deployment negative replicas", deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](-1) }), []want{{"spec.replicas", field.ErrorTypeInvalid}}},
		{"deployment restartPolicy", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{{"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{"deployment surge and unavailable zero", deployment(func(d *appsv1.Deployment) {
			zero := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &zero}
		}), []want{{"spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid}}},
		{"deployment recreate with rollingUpdate", deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}), []want{{"spec.strategy.rollingUpdate", field.ErrorTypeForbidden}}},
		{"replicaset valid", replicaSet(nil), nil},
		{"replicaset selector required", replicaSet(func(r *appsv1.ReplicaSet) { r.Spec.Selector = nil }), []want{{"spec.selector", field.ErrorTypeRequired}}},
		{"statefulset valid", statefulSet(nil), nil},
		{"statefulset podManagementPolicy", statefulSet(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }),
			[]want{{"spec.podManagementPolicy", field.ErrorTypeNotSupported}}},
		{"statefulset claim template", statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
		}), []want{{"spec.volumeClaimTemplates[0].spec.accessModes", field.ErrorTypeRequired}, {"spec.volumeClaimTemplates[0].spec.resources[storage]", field.ErrorTypeRequired}}},
		{"statefulset mounts its claim template", statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{dataClaim()}
			s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}), nil},
		{"statefulset mounts an unknown volume", statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{dataClaim()}
			s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "other", MountPath: "/data"}}
		}), []want{{"spec.template.spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound}}},
		{"statefulset init container mounts its claim template", statefulSet(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{dataClaim()}
			s.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}
		}), nil},
		{"deployment has no claim templates", deployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}), []want{{"spec.template.spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound}}},
		{"daemonset valid", daemonSet(nil), nil},
		{"daemonset strategy", daemonSet(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Sometimes" }),
			[]want{{"spec.updateStrategy.type", field.ErrorTypeNotSupported}}},
		{"controllerrevision valid", &appsv1.ControllerRevision{ObjectMeta: om("cr"), Revision: 1}, nil},
		{"controllerrevision negative", &appsv1.ControllerRevision{ObjectMeta: om("cr"), Revision: -1}, []want{{"revision", field.ErrorTypeInvalid}}},

		// batch/v1
		{"job valid", job(nil), nil},
		{"job restartPolicy", job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
			[]want{{"spec.template.spec.restartPolicy", field.ErrorTypeNotSupported}}},
		{"job negative parallelism", job(func(j *batchv1.Job) { j.Spec.Parallelism = ptr[int32](-1) }), []want{{"spec.parallelism", field.ErrorTypeInvalid}}},
		{"job indexed needs completions", job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr[int32](2)
		}), []want{{"spec.completions", field.ErrorTypeRequired}}},
		{"cronjob valid", cronJob(nil), nil},
		{"cronjob descriptor", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "@hourly" }), nil},
		{"cronjob schedule required", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "" }), []want{{"spec.schedule", field.ErrorTypeRequired}}},
		{"cronjob bad schedule", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" }), []want{{"spec.schedule", field.ErrorTypeInvalid}}},
		{"cronjob TZ in schedule", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" }), []want{{"spec.schedule", field.ErrorTypeInvalid}}},
		{"cronjob timeZone", cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Mars/Olympus") }), []want{{"spec.timeZone", field.ErrorTypeInvalid}}},
		{"cronjob valid timeZone", cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Europe/Paris") }), nil},
		{"cronjob name length", cronJob(func(c *batchv1.CronJob) { c.Name = strings.Repeat("c", 53) }), []want{{"metadata.name", field.ErrorTypeInvalid}}},

		// autoscaling
		{"hpa v1 valid", defaulted(&autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: om("h"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "d"}, MaxReplicas: 2,
		}}), nil},
		{"hpa v1 target required", defaulted(&autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: om("h"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 2}}),
			[]want{{"spec.scaleTargetRef.kind", field.ErrorTypeRequired}, {"spec.scaleTargetRef.name", field.ErrorTypeRequired}}},
		{"hpa v2 valid", hpa2(nil), nil},
		{"hpa v2 max below min", hpa2(func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr[int32](5) }),
			[]want{{"spec.maxReplicas", field.ErrorTypeInvalid}}},
		{"hpa v2 min zero", hpa2(func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr[int32](0) }),
			[]want{{"spec.minReplicas", field.ErrorTypeInvalid}}},

		// networking.k8s.io/v1
		{"ingress valid", ingress(nil), nil},
		{"ingress pathType required", ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil }),
			[]want{{"spec.rules[0].http.paths[0].pathType", field.ErrorTypeRequired}}},
		{"ingress relative prefix path", ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Path = "api" }),
			[]want{{"spec.rules[0].http.paths[0].path", field.ErrorTypeInvalid}}},
		{"ingress backend service name", ingress(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "" }),
			[]want{{"spec.rules[0].http.paths[0].backend.service.name", field.ErrorTypeRequired}}},
		{"ingressclass valid", &networkingv1.IngressClass{ObjectMeta: com("nginx"), Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}, nil},
		{"ingressclass controller required", &networkingv1.IngressClass{ObjectMeta: com("nginx")}, []want{{"spec.controller", field.ErrorTypeRequired}}},
		{"networkpolicy valid", defaulted(&networkingv1.NetworkPolicy{ObjectMeta: om("np"), Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}}}},
		}}), nil},
		{"networkpolicy bad cidr", defaulted(&networkingv1.NetworkPolicy{ObjectMeta: om("np"), Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0"}}}}},
		}}), []want{{"spec.ingress[0].from[0].ipBlock.cidr", field.ErrorTypeInvalid}}},

		// discovery, coordination, policy
		{"endpointslice valid", slice(nil), nil},
		{"endpointslice address type", slice(func(s *discoveryv1.EndpointSlice) { s.AddressType = "IPv5" }), []want{{"addressType", field.ErrorTypeNotSupported}}},
		{"endpointslice address family", slice(func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"fd00::1"} }),
			[]want{{"endpoints[0].addresses[0]", field.ErrorTypeInvalid}}},
		{"lease valid", &coordinationv1.Lease{ObjectMeta: om("l"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr[int32](40)}}, nil},
		{"lease duration", &coordinationv1.Lease{ObjectMeta: om("l"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr[int32](0)}},
			[]want{{"spec.leaseDurationSeconds", field.ErrorTypeInvalid}}},
		{"pdb valid", &policyv1.PodDisruptionBudget{ObjectMeta: om("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))}}, nil},
		{"pdb both set", &policyv1.PodDisruptionBudget{ObjectMeta: om("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr(intstr.FromInt32(1)), MaxUnavailable: ptr(intstr.FromInt32(1)),
		}}, []want{{"spec", field.ErrorTypeInvalid}}},

		// rbac.authorization.k8s.io/v1
		{"role valid", &rbacv1.Role{ObjectMeta: om("r"), Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, nil},
		{"role name may contain colons", &rbacv1.Role{ObjectMeta: om("system:r")}, nil},
		{"role name path segment", &rbacv1.Role{ObjectMeta: om("a/b")}, []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"role verbs required", &rbacv1.Role{ObjectMeta: om("r"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			[]want{{"rules[0].verbs", field.ErrorTypeRequired}}},
		{"clusterrole nonResourceURLs", &rbacv1.ClusterRole{ObjectMeta: com("cr"), Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}, nil},
		{"rolebinding valid", roleBinding(nil), nil},
		{"rolebinding roleRef kind", roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Kind = "Pod" }), []want{{"roleRef.kind", field.ErrorTypeNotSupported}}},
		{"rolebinding subject kind", roleBinding(func(b *rbacv1.RoleBinding) { b.Subjects[0].Kind = "Robot" }), []want{{"subjects[0].kind", field.ErrorTypeNotSupported}}},
		{"rolebinding service account in own namespace", roleBinding(func(b *rbacv1.RoleBinding) { b.Subjects[1].Namespace = "" }), nil},
		{"clusterrolebinding service account namespace required", defaulted(&rbacv1.ClusterRoleBinding{ObjectMeta: com("crb"),
			RoleRef:  rbacv1.RoleRef{Kind: "ClusterRole", Name: "r"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sa"}}}),
			[]want{{"subjects[0].namespace", field.ErrorTypeRequired}}},
		{"clusterrolebinding roleRef kind", defaulted(&rbacv1.ClusterRoleBinding{ObjectMeta: com("crb"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"}}),
			[]want{{"roleRef.kind", field.ErrorTypeNotSupported}}},

		// scheduling, storage, events
		{"priorityclass valid", defaulted(&schedulingv1.PriorityClass{ObjectMeta: com("high"), Value: 1000}), nil},
		{"priorityclass value too high", defaulted(&schedulingv1.PriorityClass{ObjectMeta: com("high"), Value: 2000000000}), []want{{"value", field.ErrorTypeForbidden}}},
		{"priorityclass reserved prefix", defaulted(&schedulingv1.PriorityClass{ObjectMeta: com("system-mine"), Value: 1}), []want{{"metadata.name", field.ErrorTypeForbidden}}},
		{"storageclass valid", storageClass(nil), nil},
		{"storageclass provisioner required", storageClass(func(s *storagev1.StorageClass) { s.Provisioner = "" }), []want{{"provisioner", field.ErrorTypeRequired}}},
		{"events.k8s.io event valid", &eventsv1.Event{ObjectMeta: om("e"), EventTime: metav1.NowMicro(), Type: "Normal",
			ReportingController: "skiff.dev/scheduler", ReportingInstance: "i", Action: "Binding", Reason: "Scheduled"}, nil},
		{"events.k8s.io event required", &eventsv1.Event{ObjectMeta: om("e"), EventTime: metav1.NowMicro(), Type: "Normal",
			ReportingController: "skiff.dev/scheduler", ReportingInstance: "i", Reason: longName},
			[]want{{"action", field.ErrorTypeRequired}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, ValidateCreate(tc.obj), tc.want)
		})
	}
}

// check asserts that errs holds exactly the wanted path/type pairs.
func check(t *testing.T, errs field.ErrorList, wants []want) {
	t.Helper()
	got := map[want]int{}
	for _, e := range errs {
		got[want{e.Field, e.Type}]++
	}
	for _, w := range wants {
		if got[w] == 0 {
			t.Errorf("missing error %s %s; got %v", w.path, w.typ, errs)
		}
		delete(got, w)
	}
	for w := range got {
		t.Errorf("unexpected error %s %s; all errors: %v", w.path, w.typ, errs)
	}
}
