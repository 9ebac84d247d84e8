package defaults

import (
	"time"

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
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Default applies upstream defaulting to obj in place. Objects of kinds
// that upstream does not default (and unknown types) are left untouched.
// List types are defaulted item by item.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	// core/v1
	case *corev1.Pod:
		defaultPod(o)
	case *corev1.PodTemplate:
		defaultPodTemplateSpec(&o.Template)
	case *corev1.ReplicationController:
		defaultReplicationController(o)
	case *corev1.Service:
		defaultService(o)
	case *corev1.Endpoints:
		defaultEndpoints(o)
	case *corev1.Secret:
		if o.Type == "" {
			o.Type = corev1.SecretTypeOpaque
		}
		// Not defaulting upstream but its v1 conversion, which every write
		// goes through: write-only stringData is merged into data, winning
		// over it, and never stored.
		for k, v := range o.StringData {
			if o.Data == nil {
				o.Data = map[string][]byte{}
			}
			o.Data[k] = []byte(v)
		}
		o.StringData = nil
	case *corev1.Namespace:
		defaultNamespace(o)
	case *corev1.Node:
		defaultNode(o)
	case *corev1.PersistentVolume:
		defaultPersistentVolume(o)
	case *corev1.PersistentVolumeClaim:
		defaultPersistentVolumeClaim(o)
	case *corev1.LimitRange:
		defaultLimitRange(o)
	case *corev1.ConfigMap, *corev1.ServiceAccount, *corev1.Event, *corev1.ResourceQuota:
		// Upstream has no defaults for these kinds.

	// apps/v1
	case *appsv1.Deployment:
		defaultDeployment(o)
	case *appsv1.ReplicaSet:
		defaultReplicaSet(o)
	case *appsv1.StatefulSet:
		defaultStatefulSet(o)
	case *appsv1.DaemonSet:
		defaultDaemonSet(o)
	case *appsv1.ControllerRevision:

	// batch/v1
	case *batchv1.Job:
		defaultJob(o)
	case *batchv1.CronJob:
		defaultCronJob(o)

	// autoscaling
	case *autoscalingv1.HorizontalPodAutoscaler:
		setDefault(&o.Spec.MinReplicas, 1)
	case *autoscalingv2.HorizontalPodAutoscaler:
		defaultHPAv2(o)

	// networking.k8s.io/v1
	case *networkingv1.NetworkPolicy:
		defaultNetworkPolicy(o)
	case *networkingv1.IngressClass:
		if p := o.Spec.Parameters; p != nil {
			setDefault(&p.Scope, networkingv1.IngressClassParametersReferenceScopeCluster)
		}
	case *networkingv1.Ingress:
		// pathType is required in networking.k8s.io/v1, not defaulted.

	// discovery.k8s.io/v1
	case *discoveryv1.EndpointSlice:
		defaultEndpointSlice(o)

	// policy/v1, coordination.k8s.io/v1, events.k8s.io/v1
	case *policyv1.PodDisruptionBudget, *coordinationv1.Lease, *eventsv1.Event:

	// scheduling.k8s.io/v1
	case *schedulingv1.PriorityClass:
		setDefault(&o.PreemptionPolicy, corev1.PreemptLowerPriority)

	// storage.k8s.io/v1
	case *storagev1.StorageClass:
		setDefault(&o.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)
		setDefault(&o.VolumeBindingMode, storagev1.VolumeBindingImmediate)

	// rbac.authorization.k8s.io/v1
	case *rbacv1.RoleBinding:
		defaultRoleRef(&o.RoleRef)
		defaultSubjects(o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		defaultRoleRef(&o.RoleRef)
		defaultSubjects(o.Subjects)
	case *rbacv1.Role, *rbacv1.ClusterRole:

	default:
		if !defaultCluster(obj, time.Now()) {
			defaultList(obj)
		}
	}
}

// defaultList defaults the items of any list type.
func defaultList(obj runtime.Object) {
	if !meta.IsListType(obj) {
		return
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return
	}
	for _, item := range items {
		Default(item)
	}
}

// setDefault sets *p to a pointer to v when *p is nil.
func setDefault[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}

func ptrTo[T any](v T) *T { return &v }
