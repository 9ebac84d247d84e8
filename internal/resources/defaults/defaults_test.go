package defaults

import (
	"math"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
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
	"k8s.io/apimachinery/pkg/util/intstr"
)

// expect compares got and want and reports a mismatch under what.
func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v; want %#v", what, got, want)
	}
}

func deref[T any](t *testing.T, what string, p *T) T {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: got nil; want a value", what)
	}
	return *p
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}
}

func checkPodSpec(t *testing.T, s *corev1.PodSpec) {
	t.Helper()
	expect(t, "restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways)
	expect(t, "dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst)
	expect(t, "schedulerName", s.SchedulerName, "default-scheduler")
	expect(t, "terminationGracePeriodSeconds", deref(t, "terminationGracePeriodSeconds", s.TerminationGracePeriodSeconds), int64(30))
	expect(t, "securityContext", s.SecurityContext, &corev1.PodSecurityContext{})
	c := s.Containers[0]
	expect(t, "terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log")
	expect(t, "terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
	expect(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways)
}

func TestDefault(t *testing.T) {
	tests := []struct {
		name  string
		obj   runtime.Object
		check func(t *testing.T, obj runtime.Object)
	}{
		{
			name: "pod",
			obj: &corev1.Pod{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "c", Image: "nginx",
					Ports:          []corev1.ContainerPort{{ContainerPort: 80}},
					Env:            []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
					LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
					ReadinessProbe: &corev1.Probe{TimeoutSeconds: 5},
					Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
				}},
				Volumes: []corev1.Volume{
					{Name: "empty"},
					{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
					{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
					{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
				},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				pod := obj.(*corev1.Pod)
				checkPodSpec(t, &pod.Spec)
				expect(t, "enableServiceLinks", deref(t, "enableServiceLinks", pod.Spec.EnableServiceLinks), true)
				c := pod.Spec.Containers[0]
				expect(t, "port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP)
				expect(t, "port hostPort", c.Ports[0].HostPort, int32(0))
				expect(t, "fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1")
				lp := c.LivenessProbe
				expect(t, "liveness", [4]int32{lp.TimeoutSeconds, lp.PeriodSeconds, lp.SuccessThreshold, lp.FailureThreshold}, [4]int32{1, 10, 1, 3})
				expect(t, "httpGet path", lp.HTTPGet.Path, "/")
				expect(t, "httpGet scheme", lp.HTTPGet.Scheme, corev1.URISchemeHTTP)
				expect(t, "readiness timeout kept", c.ReadinessProbe.TimeoutSeconds, int32(5))
				expect(t, "requests from limits", c.Resources.Requests.Cpu().String(), "1")
				v := pod.Spec.Volumes
				expect(t, "emptyDir", v[0].EmptyDir, &corev1.EmptyDirVolumeSource{})
				expect(t, "configMap mode", deref(t, "configMap mode", v[1].ConfigMap.DefaultMode), int32(420))
				expect(t, "secret mode", deref(t, "secret mode", v[2].Secret.DefaultMode), int32(420))
				expect(t, "hostPath type", deref(t, "hostPath type", v[3].HostPath.Type), corev1.HostPathUnset)
			},
		},
		{
			name: "secret stringData merged into data",
			obj: &corev1.Secret{
				Data:       map[string][]byte{"a": []byte("old"), "b": []byte("kept")},
				StringData: map[string]string{"a": "new", "c": "added"},
			},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*corev1.Secret)
				expect(t, "data", s.Data, map[string][]byte{"a": []byte("new"), "b": []byte("kept"), "c": []byte("added")})
				expect(t, "stringData", s.StringData, map[string]string(nil))
				expect(t, "type", s.Type, corev1.SecretTypeOpaque)
			},
		},
		{
			name: "pod on host network gets host ports",
			obj: &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
				Name: "c", Image: "nginx:1.25", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			}}}},
			check: func(t *testing.T, obj runtime.Object) {
				c := obj.(*corev1.Pod).Spec.Containers[0]
				expect(t, "hostPort", c.Ports[0].HostPort, int32(8080))
				expect(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent)
			},
		},
		{
			name: "service",
			obj: &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Port: 80}, {Port: 443, TargetPort: intstr.FromString("https")},
			}}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*corev1.Service).Spec
				expect(t, "type", s.Type, corev1.ServiceTypeClusterIP)
				expect(t, "sessionAffinity", s.SessionAffinity, corev1.ServiceAffinityNone)
				expect(t, "protocol", s.Ports[0].Protocol, corev1.ProtocolTCP)
				expect(t, "targetPort", s.Ports[0].TargetPort, intstr.FromInt32(80))
				expect(t, "named targetPort kept", s.Ports[1].TargetPort, intstr.FromString("https"))
				expect(t, "internalTrafficPolicy", deref(t, "internalTrafficPolicy", s.InternalTrafficPolicy), corev1.ServiceInternalTrafficPolicyCluster)
				expect(t, "externalTrafficPolicy", s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy(""))
				expect(t, "ipFamilyPolicy left to the allocator", s.IPFamilyPolicy, (*corev1.IPFamilyPolicy)(nil))
			},
		},
		{
			name: "load balancer service",
			obj:  &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*corev1.Service).Spec
				expect(t, "externalTrafficPolicy", s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster)
				expect(t, "allocateLoadBalancerNodePorts", deref(t, "allocateLoadBalancerNodePorts", s.AllocateLoadBalancerNodePorts), true)
				expect(t, "affinity timeout", deref(t, "timeout", s.SessionAffinityConfig.ClientIP.TimeoutSeconds), int32(10800))
			},
		},
		{
			name: "affinity switched off drops its config",
			obj: &corev1.Service{Spec: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityNone,
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{}}}},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "sessionAffinityConfig", obj.(*corev1.Service).Spec.SessionAffinityConfig, (*corev1.SessionAffinityConfig)(nil))
			},
		},
		{
			name: "deployment",
			obj:  &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*appsv1.Deployment).Spec
				expect(t, "replicas", deref(t, "replicas", s.Replicas), int32(1))
				expect(t, "strategy", s.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType)
				expect(t, "maxUnavailable", *s.Strategy.RollingUpdate.MaxUnavailable, intstr.FromString("25%"))
				expect(t, "maxSurge", *s.Strategy.RollingUpdate.MaxSurge, intstr.FromString("25%"))
				expect(t, "revisionHistoryLimit", deref(t, "revisionHistoryLimit", s.RevisionHistoryLimit), int32(10))
				expect(t, "progressDeadlineSeconds", deref(t, "progressDeadlineSeconds", s.ProgressDeadlineSeconds), int32(600))
				checkPodSpec(t, &s.Template.Spec)
				expect(t, "template enableServiceLinks", s.Template.Spec.EnableServiceLinks, (*bool)(nil))
			},
		},
		{
			name: "replicaset",
			obj:  &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*appsv1.ReplicaSet).Spec
				expect(t, "replicas", deref(t, "replicas", s.Replicas), int32(1))
				checkPodSpec(t, &s.Template.Spec)
			},
		},
		{
			name: "replicationcontroller",
			obj: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: podSpec(),
			}}},
			check: func(t *testing.T, obj runtime.Object) {
				rc := obj.(*corev1.ReplicationController)
				expect(t, "replicas", deref(t, "replicas", rc.Spec.Replicas), int32(1))
				expect(t, "selector", rc.Spec.Selector, map[string]string{"app": "a"})
				expect(t, "labels", rc.Labels, map[string]string{"app": "a"})
				checkPodSpec(t, &rc.Spec.Template.Spec)
			},
		},
		{
			name: "statefulset",
			obj: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
				Template:             corev1.PodTemplateSpec{Spec: podSpec()},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{}},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*appsv1.StatefulSet).Spec
				expect(t, "replicas", deref(t, "replicas", s.Replicas), int32(1))
				expect(t, "podManagementPolicy", s.PodManagementPolicy, appsv1.OrderedReadyPodManagement)
				expect(t, "updateStrategy", s.UpdateStrategy.Type, appsv1.RollingUpdateStatefulSetStrategyType)
				expect(t, "partition", deref(t, "partition", s.UpdateStrategy.RollingUpdate.Partition), int32(0))
				expect(t, "revisionHistoryLimit", deref(t, "revisionHistoryLimit", s.RevisionHistoryLimit), int32(10))
				expect(t, "retention", *s.PersistentVolumeClaimRetentionPolicy, appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				})
				expect(t, "claim volumeMode", deref(t, "volumeMode", s.VolumeClaimTemplates[0].Spec.VolumeMode), corev1.PersistentVolumeFilesystem)
				checkPodSpec(t, &s.Template.Spec)
			},
		},
		{
			name: "daemonset",
			obj:  &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*appsv1.DaemonSet).Spec
				expect(t, "updateStrategy", s.UpdateStrategy.Type, appsv1.RollingUpdateDaemonSetStrategyType)
				expect(t, "maxUnavailable", *s.UpdateStrategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(1))
				expect(t, "maxSurge", *s.UpdateStrategy.RollingUpdate.MaxSurge, intstr.FromInt32(0))
				expect(t, "revisionHistoryLimit", deref(t, "revisionHistoryLimit", s.RevisionHistoryLimit), int32(10))
				checkPodSpec(t, &s.Template.Spec)
			},
		},
		{
			name: "job",
			obj: &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "j"}}, Spec: podSpec(),
			}}},
			check: func(t *testing.T, obj runtime.Object) {
				j := obj.(*batchv1.Job)
				s := j.Spec
				expect(t, "completions", deref(t, "completions", s.Completions), int32(1))
				expect(t, "parallelism", deref(t, "parallelism", s.Parallelism), int32(1))
				expect(t, "backoffLimit", deref(t, "backoffLimit", s.BackoffLimit), int32(6))
				expect(t, "completionMode", deref(t, "completionMode", s.CompletionMode), batchv1.NonIndexedCompletion)
				expect(t, "suspend", deref(t, "suspend", s.Suspend), false)
				expect(t, "podReplacementPolicy", deref(t, "podReplacementPolicy", s.PodReplacementPolicy), batchv1.TerminatingOrFailed)
				expect(t, "manualSelector", s.ManualSelector, (*bool)(nil))
				expect(t, "labels", j.Labels, map[string]string{"app": "j"})
			},
		},
		{
			name: "job with completions and per-index backoff",
			obj: &batchv1.Job{Spec: batchv1.JobSpec{
				Completions: ptrTo[int32](5), BackoffLimitPerIndex: ptrTo[int32](1),
				PodFailurePolicy: &batchv1.PodFailurePolicy{},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*batchv1.Job).Spec
				expect(t, "completions", *s.Completions, int32(5))
				expect(t, "parallelism", deref(t, "parallelism", s.Parallelism), int32(1))
				expect(t, "backoffLimit", deref(t, "backoffLimit", s.BackoffLimit), int32(math.MaxInt32))
				expect(t, "podReplacementPolicy", deref(t, "podReplacementPolicy", s.PodReplacementPolicy), batchv1.Failed)
			},
		},
		{
			name: "cronjob",
			obj:  &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}}}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*batchv1.CronJob).Spec
				expect(t, "concurrencyPolicy", s.ConcurrencyPolicy, batchv1.AllowConcurrent)
				expect(t, "suspend", deref(t, "suspend", s.Suspend), false)
				expect(t, "successfulJobsHistoryLimit", deref(t, "successful", s.SuccessfulJobsHistoryLimit), int32(3))
				expect(t, "failedJobsHistoryLimit", deref(t, "failed", s.FailedJobsHistoryLimit), int32(1))
				checkPodSpec(t, &s.JobTemplate.Spec.Template.Spec)
			},
		},
		{
			name: "secret",
			obj:  &corev1.Secret{},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "type", obj.(*corev1.Secret).Type, corev1.SecretTypeOpaque)
			},
		},
		{
			name: "persistentvolume",
			obj:  &corev1.PersistentVolume{},
			check: func(t *testing.T, obj runtime.Object) {
				pv := obj.(*corev1.PersistentVolume)
				expect(t, "reclaimPolicy", pv.Spec.PersistentVolumeReclaimPolicy, corev1.PersistentVolumeReclaimRetain)
				expect(t, "volumeMode", deref(t, "volumeMode", pv.Spec.VolumeMode), corev1.PersistentVolumeFilesystem)
				expect(t, "phase", pv.Status.Phase, corev1.VolumePending)
			},
		},
		{
			name: "persistentvolumeclaim",
			obj:  &corev1.PersistentVolumeClaim{},
			check: func(t *testing.T, obj runtime.Object) {
				pvc := obj.(*corev1.PersistentVolumeClaim)
				expect(t, "volumeMode", deref(t, "volumeMode", pvc.Spec.VolumeMode), corev1.PersistentVolumeFilesystem)
				expect(t, "phase", pvc.Status.Phase, corev1.ClaimPending)
			},
		},
		{
			name: "namespace",
			obj:  &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1"}},
			check: func(t *testing.T, obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				expect(t, "phase", ns.Status.Phase, corev1.NamespaceActive)
				expect(t, "name label", ns.Labels, map[string]string{"kubernetes.io/metadata.name": "ns1"})
				expect(t, "finalizers", ns.Spec.Finalizers, []corev1.FinalizerName(nil))
			},
		},
		{
			name: "node",
			obj:  &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "allocatable", obj.(*corev1.Node).Status.Allocatable.Pods().String(), "110")
			},
		},
		{
			name: "endpoints",
			obj:  &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "protocol", obj.(*corev1.Endpoints).Subsets[0].Ports[0].Protocol, corev1.ProtocolTCP)
			},
		},
		{
			name: "limitrange",
			obj: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypeContainer,
				Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Min:  corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")},
			}}}},
			check: func(t *testing.T, obj runtime.Object) {
				item := obj.(*corev1.LimitRange).Spec.Limits[0]
				expect(t, "default cpu", item.Default.Cpu().String(), "2")
				expect(t, "defaultRequest cpu", item.DefaultRequest.Cpu().String(), "2")
				expect(t, "defaultRequest memory", item.DefaultRequest.Memory().String(), "1Mi")
			},
		},
		{
			name: "podtemplate",
			obj:  &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: podSpec()}},
			check: func(t *testing.T, obj runtime.Object) {
				checkPodSpec(t, &obj.(*corev1.PodTemplate).Template.Spec)
			},
		},
		{
			name: "hpa v1",
			obj:  &autoscalingv1.HorizontalPodAutoscaler{},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "minReplicas", deref(t, "minReplicas", obj.(*autoscalingv1.HorizontalPodAutoscaler).Spec.MinReplicas), int32(1))
			},
		},
		{
			name: "hpa v2",
			obj: &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptrTo[int32](60)}},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec
				expect(t, "minReplicas", deref(t, "minReplicas", s.MinReplicas), int32(1))
				expect(t, "cpu target", deref(t, "utilization", s.Metrics[0].Resource.Target.AverageUtilization), int32(80))
				expect(t, "scaleUp", s.Behavior.ScaleUp, defaultScaleUp())
				expect(t, "scaleDown window kept", *s.Behavior.ScaleDown.StabilizationWindowSeconds, int32(60))
				expect(t, "scaleDown policies", s.Behavior.ScaleDown.Policies, defaultScaleDown().Policies)
				expect(t, "scaleDown select", *s.Behavior.ScaleDown.SelectPolicy, autoscalingv2.MaxChangePolicySelect)
			},
		},
		{
			name: "networkpolicy",
			obj: &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{}}}},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*networkingv1.NetworkPolicy).Spec
				expect(t, "policyTypes", s.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress})
				expect(t, "protocol", deref(t, "protocol", s.Egress[0].Ports[0].Protocol), corev1.ProtocolTCP)
			},
		},
		{
			name: "ingress-only networkpolicy",
			obj:  &networkingv1.NetworkPolicy{},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "policyTypes", obj.(*networkingv1.NetworkPolicy).Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress})
			},
		},
		{
			name: "ingressclass",
			obj:  &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{}}},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "scope", deref(t, "scope", obj.(*networkingv1.IngressClass).Spec.Parameters.Scope), "Cluster")
			},
		},
		{
			name: "endpointslice",
			obj:  &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{}}},
			check: func(t *testing.T, obj runtime.Object) {
				p := obj.(*discoveryv1.EndpointSlice).Ports[0]
				expect(t, "name", deref(t, "name", p.Name), "")
				expect(t, "protocol", deref(t, "protocol", p.Protocol), corev1.ProtocolTCP)
			},
		},
		{
			name: "priorityclass",
			obj:  &schedulingv1.PriorityClass{},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "preemptionPolicy", deref(t, "preemptionPolicy", obj.(*schedulingv1.PriorityClass).PreemptionPolicy), corev1.PreemptLowerPriority)
			},
		},
		{
			name: "storageclass",
			obj:  &storagev1.StorageClass{},
			check: func(t *testing.T, obj runtime.Object) {
				sc := obj.(*storagev1.StorageClass)
				expect(t, "reclaimPolicy", deref(t, "reclaimPolicy", sc.ReclaimPolicy), corev1.PersistentVolumeReclaimDelete)
				expect(t, "volumeBindingMode", deref(t, "volumeBindingMode", sc.VolumeBindingMode), storagev1.VolumeBindingImmediate)
			},
		},
		{
			name: "rolebinding",
			obj: &rbacv1.RoleBinding{Subjects: []rbacv1.Subject{
				{Kind: "User", Name: "u"}, {Kind: "Group", Name: "g"}, {Kind: "ServiceAccount", Name: "sa", Namespace: "ns"},
			}},
			check: func(t *testing.T, obj runtime.Object) {
				rb := obj.(*rbacv1.RoleBinding)
				expect(t, "roleRef apiGroup", rb.RoleRef.APIGroup, rbacv1.GroupName)
				got := []string{rb.Subjects[0].APIGroup, rb.Subjects[1].APIGroup, rb.Subjects[2].APIGroup}
				expect(t, "subject apiGroups", got, []string{rbacv1.GroupName, rbacv1.GroupName, ""})
			},
		},
		{
			name: "clusterrolebinding",
			obj:  &rbacv1.ClusterRoleBinding{Subjects: []rbacv1.Subject{{Kind: "User", Name: "u"}}},
			check: func(t *testing.T, obj runtime.Object) {
				expect(t, "subject apiGroup", obj.(*rbacv1.ClusterRoleBinding).Subjects[0].APIGroup, rbacv1.GroupName)
			},
		},
		{
			name: "list items",
			obj:  &corev1.SecretList{Items: []corev1.Secret{{}, {Type: corev1.SecretTypeTLS}}},
			check: func(t *testing.T, obj runtime.Object) {
				l := obj.(*corev1.SecretList)
				expect(t, "types", []corev1.SecretType{l.Items[0].Type, l.Items[1].Type}, []corev1.SecretType{corev1.SecretTypeOpaque, corev1.SecretTypeTLS})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Default(tc.obj)
			tc.check(t, tc.obj)
			// Defaulting is idempotent.
			again := tc.obj.DeepCopyObject()
			Default(again)
			if !reflect.DeepEqual(again, tc.obj) {
				t.Errorf("second Default changed the object:\n got %#v\nwant %#v", again, tc.obj)
			}
		})
	}
}

func TestPullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.25", corev1.PullIfNotPresent},
		{"registry.local:5000/team/app", corev1.PullAlways},
		{"registry.local:5000/team/app:v2", corev1.PullIfNotPresent},
		{"nginx@sha256:abcd", corev1.PullIfNotPresent},
		{"nginx:latest@sha256:abcd", corev1.PullAlways},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			if got := pullPolicyFor(tc.image); got != tc.want {
				t.Errorf("pullPolicyFor(%q) = %s; want %s", tc.image, got, tc.want)
			}
		})
	}
}

func TestDefaultNamespaceOnCreate(t *testing.T) {
	tests := []struct {
		name string
		ns   corev1.Namespace
		want []corev1.FinalizerName
	}{
		{"none", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, []corev1.FinalizerName{"kubernetes"}},
		{"kept", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}, []corev1.FinalizerName{"kubernetes"}},
		{"appended", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"x.io/y"}}}, []corev1.FinalizerName{"x.io/y", "kubernetes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.ns.DeepCopy()
			ns.Status.Phase = corev1.NamespaceTerminating
			DefaultNamespaceOnCreate(ns)
			expect(t, "finalizers", ns.Spec.Finalizers, tc.want)
			expect(t, "phase", ns.Status.Phase, corev1.NamespaceActive)
			expect(t, "name label", ns.Labels["kubernetes.io/metadata.name"], "a")
		})
	}
}

func TestGenerateJobSelector(t *testing.T) {
	tests := []struct {
		name         string
		manual       *bool
		wantSelector map[string]string
		wantLabels   map[string]string
	}{
		{
			name:         "generated",
			wantSelector: map[string]string{"batch.kubernetes.io/controller-uid": "u1"},
			wantLabels: map[string]string{
				"app": "x", "job-name": "j", "batch.kubernetes.io/job-name": "j",
				"controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1",
			},
		},
		{
			name:         "manual selector untouched",
			manual:       ptrTo(true),
			wantSelector: map[string]string{"app": "x"},
			wantLabels:   map[string]string{"app": "x"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u1"}, Spec: batchv1.JobSpec{
				ManualSelector: tc.manual,
				Template:       corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}},
			}}
			if tc.manual != nil {
				job.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
			}
			GenerateJobSelector(job)
			expect(t, "selector", job.Spec.Selector.MatchLabels, tc.wantSelector)
			expect(t, "template labels", job.Spec.Template.Labels, tc.wantLabels)
			if tc.manual == nil {
				expect(t, "job labels", job.Labels, tc.wantLabels)
			}
		})
	}
}
