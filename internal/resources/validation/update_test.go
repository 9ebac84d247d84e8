package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateUpdate(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name     string
		old, obj runtime.Object
		want     []want
	}{
		{"pod unchanged", pod(nil), pod(nil), nil},
		{"pod image change", pod(nil), pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }), nil},
		{"pod add toleration", pod(nil), pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		}), nil},
		{"pod spec change forbidden", pod(nil), pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{{"spec", field.ErrorTypeForbidden}}},
		{"pod activeDeadline increase", pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr[int64](10) }),
			pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr[int64](20) }),
			[]want{{"spec.activeDeadlineSeconds", field.ErrorTypeInvalid}}},
		{"metadata name immutable", pod(nil), pod(func(p *corev1.Pod) { p.Name = "q" }), []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"metadata uid immutable", pod(func(p *corev1.Pod) { p.UID = "a" }), pod(func(p *corev1.Pod) { p.UID = "b" }), []want{{"metadata.uid", field.ErrorTypeInvalid}}},
		{"unconditional update without resourceVersion", pod(nil), pod(func(p *corev1.Pod) { p.ResourceVersion = "" }), nil},
		{"no new finalizers while deleting", pod(func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
			pod(func(p *corev1.Pod) { p.DeletionTimestamp = &now; p.Finalizers = []string{"x.io/y"} }),
			[]want{{"metadata.finalizers", field.ErrorTypeForbidden}}},
		{"service clusterIP immutable", service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.10"; s.Spec.ClusterIPs = []string{"10.43.0.10"} }),
			service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.11"; s.Spec.ClusterIPs = []string{"10.43.0.11"} }),
			[]want{{"spec.clusterIP", field.ErrorTypeInvalid}}},
		{"service clusterIP set once", service(nil), service(func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.10" }), nil},
		{"configmap immutable data", &corev1.ConfigMap{ObjectMeta: om("cm"), Immutable: ptr(true), Data: map[string]string{"a": "1"}},
			&corev1.ConfigMap{ObjectMeta: om("cm"), Immutable: ptr(true), Data: map[string]string{"a": "2"}},
			[]want{{"data", field.ErrorTypeForbidden}}},
		{"secret type immutable", defaulted(&corev1.Secret{ObjectMeta: om("s")}),
			defaulted(&corev1.Secret{ObjectMeta: om("s"), Type: "example.com/x"}), []want{{"type", field.ErrorTypeInvalid}}},
		{"pvc resize bound", pvc(func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = corev1.ClaimBound }),
			pvc(func(c *corev1.PersistentVolumeClaim) {
				c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			}), nil},
		{"pvc resize unbound", pvc(nil),
			pvc(func(c *corev1.PersistentVolumeClaim) {
				c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			}),
			[]want{{"spec", field.ErrorTypeForbidden}}},
		{"pvc bind sets volumeName", pvc(nil), pvc(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv1" }), nil},
		{"pv source immutable", pv(nil), pv(func(v *corev1.PersistentVolume) { v.Spec.HostPath.Path = "/other" }),
			[]want{{"spec.persistentvolumesource", field.ErrorTypeForbidden}}},
		{"deployment scale", deployment(nil), deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](3) }), nil},
		{"deployment selector immutable", deployment(nil), deployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "a", "tier": "web"}
			d.Spec.Template.Labels = map[string]string{"app": "a", "tier": "web"}
		}), []want{{"spec.selector", field.ErrorTypeInvalid}}},
		{"replicaset selector immutable", replicaSet(nil), replicaSet(func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}
		}), []want{{"spec.selector", field.ErrorTypeInvalid}}},
		{"statefulset serviceName forbidden", statefulSet(nil), statefulSet(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" }),
			[]want{{"spec", field.ErrorTypeForbidden}}},
		{"daemonset selector immutable", daemonSet(nil), daemonSet(func(d *appsv1.DaemonSet) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "a", "x": "y"}
			d.Spec.Template.Labels = map[string]string{"app": "a", "x": "y"}
		}), []want{{"spec.selector", field.ErrorTypeInvalid}}},
		{"controllerrevision data immutable", &appsv1.ControllerRevision{ObjectMeta: om("cr"), Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}},
			&appsv1.ControllerRevision{ObjectMeta: om("cr"), Data: runtime.RawExtension{Raw: []byte(`{"a":2}`)}},
			[]want{{"data", field.ErrorTypeInvalid}}},
		{"job template immutable", job(nil), job(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "busybox" }),
			[]want{{"spec.template", field.ErrorTypeInvalid}}},
		{"suspended job may change node selector", job(func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) }), job(func(j *batchv1.Job) {
			j.Spec.Suspend = ptr(true)
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
		}), nil},
		{"job completions immutable", job(nil), job(func(j *batchv1.Job) { j.Spec.Completions = ptr[int32](3) }),
			[]want{{"spec.completions", field.ErrorTypeInvalid}}},
		{"ingressclass controller immutable", &networkingv1.IngressClass{ObjectMeta: com("c"), Spec: networkingv1.IngressClassSpec{Controller: "a.io/x"}},
			&networkingv1.IngressClass{ObjectMeta: com("c"), Spec: networkingv1.IngressClassSpec{Controller: "b.io/x"}},
			[]want{{"spec.controller", field.ErrorTypeInvalid}}},
		{"endpointslice addressType immutable", slice(nil), slice(func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeIPv6
			s.Endpoints[0].Addresses = []string{"fd00::1"}
		}), []want{{"addressType", field.ErrorTypeInvalid}}},
		{"rolebinding roleRef immutable", roleBinding(nil), roleBinding(func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "other" }),
			[]want{{"roleRef", field.ErrorTypeInvalid}}},
		{"priorityclass value immutable", defaulted(&schedulingv1.PriorityClass{ObjectMeta: com("p"), Value: 1}),
			defaulted(&schedulingv1.PriorityClass{ObjectMeta: com("p"), Value: 2}), []want{{"value", field.ErrorTypeInvalid}}},
		{"storageclass parameters immutable", storageClass(nil), storageClass(func(s *storagev1.StorageClass) { s.Parameters = nil }),
			[]want{{"parameters", field.ErrorTypeForbidden}}},
		{"update also runs create checks", deployment(nil), deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](-1) }),
			[]want{{"spec.replicas", field.ErrorTypeInvalid}}},
		{"type mismatch", pod(nil), service(nil), []want{{"kind", field.ErrorTypeInternal}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, ValidateUpdate(tc.obj, tc.old), tc.want)
		})
	}
}

func TestValidateStatusUpdate(t *testing.T) {
	tests := []struct {
		name     string
		old, obj runtime.Object
		want     []want
	}{
		{"pod running", pod(nil), pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), nil},
		{"pod leaves terminal phase", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), []want{{"status.phase", field.ErrorTypeForbidden}}},
		{"pod bad phase", pod(nil), pod(func(p *corev1.Pod) { p.Status.Phase = "Sleeping" }), []want{{"status.phase", field.ErrorTypeNotSupported}}},
		{"deployment negative replicas", deployment(nil), deployment(func(d *appsv1.Deployment) { d.Status.Replicas = -1 }),
			[]want{{"status.replicas", field.ErrorTypeInvalid}}},
		{"job counts", job(nil), job(func(j *batchv1.Job) { j.Status.Failed = -1 }), []want{{"status.failed", field.ErrorTypeInvalid}}},
		{"pvc phase", pvc(nil), pvc(func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = "Lost?" }), []want{{"status.phase", field.ErrorTypeNotSupported}}},
		{"status keeps metadata rules", pod(nil), pod(func(p *corev1.Pod) { p.Namespace = "other" }), []want{{"metadata.namespace", field.ErrorTypeInvalid}}},
		{"status without resourceVersion", pod(nil), pod(func(p *corev1.Pod) { p.ResourceVersion = "" }), nil},
		{"status checks labels", pod(nil), pod(func(p *corev1.Pod) { p.Labels = map[string]string{"a b": "c"} }), []want{{"metadata.labels", field.ErrorTypeInvalid}}},
		{"unknown type metadata only", &metav1.PartialObjectMetadata{ObjectMeta: om("x")}, &metav1.PartialObjectMetadata{ObjectMeta: om("x")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, ValidateStatusUpdate(tc.obj, tc.old), tc.want)
		})
	}
}

func TestParseCron(t *testing.T) {
	tests := []struct {
		spec  string
		valid bool
	}{
		{"* * * * *", true},
		{"*/15 0-6,22 1 JAN-MAR mon-fri", true},
		{"0 0 ? * SUN", true},
		{"@every 90s", true},
		{"@weekly", true},
		{"* * * *", false},
		{"60 * * * *", false},
		{"* * 0 * *", false},
		{"5-1 * * * *", false},
		{"*/0 * * * *", false},
		{"@sometimes", false},
		{"* * * * 7", false},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			err := parseCron(tc.spec)
			if (err == nil) != tc.valid {
				t.Errorf("parseCron(%q) = %v; want valid=%v", tc.spec, err, tc.valid)
			}
		})
	}
}
