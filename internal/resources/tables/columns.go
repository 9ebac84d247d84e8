package tables

import (
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The descriptions come from the API types' own documentation, as upstream's
// do, so that clients reading column descriptions see the same text.
var (
	metaDoc = metav1.ObjectMeta{}.SwaggerDoc()

	containersDoc = "Names of each container in the template."
	imagesDoc     = "Images referenced by each container in the template."
)

// col builds a column definition; priority 1 marks a column kubectl shows
// only with -o wide.
func col(name, typ, desc string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: priority}
}

func nameCol() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metaDoc["name"]}
}

func ageCol() metav1.TableColumnDefinition {
	return col("Age", "string", metaDoc["creationTimestamp"], 0)
}

// defaultColumns are those of upstream's default table convertor, used for
// every kind without a printer of its own.
func defaultColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Created At", "date", metaDoc["creationTimestamp"], 0),
	}
}

func gk(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }

// columnSets maps each kind with a dedicated printer to its columns.
var columnSets = map[schema.GroupKind]func() []metav1.TableColumnDefinition{
	gk("", "Pod"):                   podColumns,
	gk("", "PodTemplate"):           podTemplateColumns,
	gk("", "ReplicationController"): replicationControllerColumns,
	gk("", "Service"):               serviceColumns,
	gk("", "Endpoints"):             endpointsColumns,
	gk("", "Node"):                  nodeColumns,
	gk("", "Event"):                 eventColumns,
	gk("events.k8s.io", "Event"):    eventColumns,
	gk("", "Namespace"):             namespaceColumns,
	gk("", "Secret"):                secretColumns,
	gk("", "ServiceAccount"):        serviceAccountColumns,
	gk("", "PersistentVolume"):      persistentVolumeColumns,
	gk("", "PersistentVolumeClaim"): persistentVolumeClaimColumns,
	gk("", "ConfigMap"):             configMapColumns,
	gk("", "ResourceQuota"):         resourceQuotaColumns,

	gk("apps", "ReplicaSet"):         replicaSetColumns,
	gk("apps", "DaemonSet"):          daemonSetColumns,
	gk("apps", "Deployment"):         deploymentColumns,
	gk("apps", "StatefulSet"):        statefulSetColumns,
	gk("apps", "ControllerRevision"): controllerRevisionColumns,

	gk("batch", "Job"):     jobColumns,
	gk("batch", "CronJob"): cronJobColumns,

	gk("autoscaling", "HorizontalPodAutoscaler"): hpaColumns,

	gk("policy", "PodDisruptionBudget"): pdbColumns,

	gk("networking.k8s.io", "Ingress"):       ingressColumns,
	gk("networking.k8s.io", "IngressClass"):  ingressClassColumns,
	gk("networking.k8s.io", "NetworkPolicy"): networkPolicyColumns,

	gk("discovery.k8s.io", "EndpointSlice"): endpointSliceColumns,

	gk("coordination.k8s.io", "Lease"): leaseColumns,

	gk("rbac.authorization.k8s.io", "RoleBinding"):        roleBindingColumns,
	gk("rbac.authorization.k8s.io", "ClusterRoleBinding"): clusterRoleBindingColumns,

	gk("scheduling.k8s.io", "PriorityClass"): priorityClassColumns,

	gk("storage.k8s.io", "StorageClass"): storageClassColumns,
}

func podColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
		col("Status", "string", "The aggregate status of the containers in this pod.", 0),
		col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
		ageCol(),
		col("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"], 1),
		col("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"], 1),
		col("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"], 1),
		col("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"], 1),
	}
}

func podTemplateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Containers", "string", containersDoc, 0),
		col("Images", "string", imagesDoc, 0),
		col("Pod Labels", "string", "The labels for the pod template.", 0),
	}
}

func pdbColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Min Available", "string", "The minimum number of pods that must be available.", 0),
		col("Max Unavailable", "string", "The maximum number of pods that may be unavailable.", 0),
		col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time.", 0),
		ageCol(),
	}
}

func replicationControllerColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Desired", "integer", spec["replicas"], 0),
		col("Current", "integer", status["replicas"], 0),
		col("Ready", "integer", status["readyReplicas"], 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", spec["selector"], 1),
	}
}

func replicaSetColumns() []metav1.TableColumnDefinition {
	spec, status := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc(), extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Desired", "integer", spec["replicas"], 0),
		col("Current", "integer", status["replicas"], 0),
		col("Ready", "integer", status["readyReplicas"], 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", spec["selector"], 1),
	}
}

func daemonSetColumns() []metav1.TableColumnDefinition {
	status := extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Desired", "integer", status["desiredNumberScheduled"], 0),
		col("Current", "integer", status["currentNumberScheduled"], 0),
		col("Ready", "integer", status["numberReady"], 0),
		col("Up-to-date", "integer", status["updatedNumberScheduled"], 0),
		col("Available", "integer", status["numberAvailable"], 0),
		col("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"], 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"], 1),
	}
}

func jobColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Status", "string", "Status of the job.", 0),
		col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"], 0),
		col("Duration", "string", "Time required to complete the job.", 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"], 1),
	}
}

func cronJobColumns() []metav1.TableColumnDefinition {
	spec, status := batchv1beta1.CronJobSpec{}.SwaggerDoc(), batchv1beta1.CronJobStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Schedule", "string", spec["schedule"], 0),
		col("Timezone", "string", spec["timeZone"], 0),
		col("Suspend", "boolean", spec["suspend"], 0),
		col("Active", "integer", status["active"], 0),
		col("Last Schedule", "string", status["lastScheduleTime"], 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"], 1),
	}
}

func serviceColumns() []metav1.TableColumnDefinition {
	spec := corev1.ServiceSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Type", "string", spec["type"], 0),
		col("Cluster-IP", "string", spec["clusterIP"], 0),
		col("External-IP", "string", spec["externalIPs"], 0),
		col("Port(s)", "string", spec["ports"], 0),
		ageCol(),
		col("Selector", "string", spec["selector"], 1),
	}
}

func ingressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration", 0),
		col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule", 0),
		col("Address", "string", "Address is a list containing ingress points for the load-balancer", 0),
		col("Ports", "string", "Ports of TLS configurations that open", 0),
		ageCol(),
	}
}

func ingressClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Controller", "string", "Controller that is responsible for handling this class", 0),
		col("Parameters", "string", "A reference to a resource with additional parameters", 0),
		ageCol(),
	}
}

func statefulSetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Ready", "string", "Number of the pod with ready state", 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
	}
}

func endpointsColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"], 0),
		ageCol(),
	}
}

func nodeColumns() []metav1.TableColumnDefinition {
	info, status := corev1.NodeSystemInfo{}.SwaggerDoc(), corev1.NodeStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Status", "string", "The status of the node", 0),
		col("Roles", "string", "The roles of the node", 0),
		ageCol(),
		col("Version", "string", info["kubeletVersion"], 0),
		col("Internal-IP", "string", status["addresses"], 1),
		col("External-IP", "string", status["addresses"], 1),
		col("OS-Image", "string", info["osImage"], 1),
		col("Kernel-Version", "string", info["kernelVersion"], 1),
		col("Container-Runtime", "string", info["containerRuntimeVersion"], 1),
	}
}

func eventColumns() []metav1.TableColumnDefinition {
	ev := corev1.Event{}.SwaggerDoc()
	name := nameCol()
	name.Priority = 1
	return []metav1.TableColumnDefinition{
		col("Last Seen", "string", ev["lastTimestamp"], 0),
		col("Type", "string", ev["type"], 0),
		col("Reason", "string", ev["reason"], 0),
		col("Object", "string", ev["involvedObject"], 0),
		col("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"], 1),
		col("Source", "string", ev["source"], 1),
		col("Message", "string", ev["message"], 0),
		col("First Seen", "string", ev["firstTimestamp"], 1),
		col("Count", "string", ev["count"], 1),
		name,
	}
}

func namespaceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Status", "string", "The status of the namespace", 0),
		ageCol(),
	}
}

func secretColumns() []metav1.TableColumnDefinition {
	doc := corev1.Secret{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Type", "string", doc["type"], 0),
		col("Data", "string", doc["data"], 0),
		ageCol(),
	}
}

func serviceAccountColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"], 0),
		ageCol(),
	}
}

func persistentVolumeColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.PersistentVolumeSpec{}.SwaggerDoc(), corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Capacity", "string", spec["capacity"], 0),
		col("Access Modes", "string", spec["accessModes"], 0),
		col("Reclaim Policy", "string", spec["persistentVolumeReclaimPolicy"], 0),
		col("Status", "string", status["phase"], 0),
		col("Claim", "string", spec["claimRef"], 0),
		col("StorageClass", "string", "StorageClass of the pv", 0),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0),
		col("Reason", "string", status["reason"], 0),
		ageCol(),
		col("VolumeMode", "string", spec["volumeMode"], 1),
	}
}

func persistentVolumeClaimColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc(), corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Status", "string", status["phase"], 0),
		col("Volume", "string", spec["volumeName"], 0),
		col("Capacity", "string", status["capacity"], 0),
		col("Access Modes", "string", status["accessModes"], 0),
		col("StorageClass", "string", "StorageClass of the pvc", 0),
		col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0),
		ageCol(),
		col("VolumeMode", "string", spec["volumeMode"], 1),
	}
}

func deploymentColumns() []metav1.TableColumnDefinition {
	status := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Ready", "string", "Number of the pod with ready state", 0),
		col("Up-to-date", "string", status["updatedReplicas"], 0),
		col("Available", "string", status["availableReplicas"], 0),
		ageCol(),
		col("Containers", "string", containersDoc, 1),
		col("Images", "string", imagesDoc, 1),
		col("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"], 1),
	}
}

func hpaColumns() []metav1.TableColumnDefinition {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Reference", "string", spec["scaleTargetRef"], 0),
		col("Targets", "string", spec["metrics"], 0),
		col("MinPods", "string", spec["minReplicas"], 0),
		col("MaxPods", "string", spec["maxReplicas"], 0),
		col("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"], 0),
		ageCol(),
	}
}

func configMapColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"], 0),
		ageCol(),
	}
}

func networkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Pod-Selector", "string", extensionsv1beta1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"], 0),
		ageCol(),
	}
}

func roleBindingColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Role", "string", rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"], 0),
		ageCol(),
		col("Users", "string", "Users in the roleBinding", 1),
		col("Groups", "string", "Groups in the roleBinding", 1),
		col("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
	}
}

func clusterRoleBindingColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Role", "string", rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], 0),
		ageCol(),
		col("Users", "string", "Users in the clusterRoleBinding", 1),
		col("Groups", "string", "Groups in the clusterRoleBinding", 1),
		col("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", 1),
	}
}

func leaseColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"], 0),
		ageCol(),
	}
}

func storageClassColumns() []metav1.TableColumnDefinition {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Provisioner", "string", doc["provisioner"], 0),
		col("ReclaimPolicy", "string", doc["reclaimPolicy"], 0),
		col("VolumeBindingMode", "string", doc["volumeBindingMode"], 0),
		col("AllowVolumeExpansion", "string", doc["allowVolumeExpansion"], 0),
		ageCol(),
	}
}

func controllerRevisionColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Controller", "string", "Controller of the object", 0),
		col("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"], 0),
		ageCol(),
	}
}

func resourceQuotaColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", 0),
		col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0),
		ageCol(),
	}
}

func priorityClassColumns() []metav1.TableColumnDefinition {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Value", "integer", doc["value"], 0),
		col("Global-Default", "boolean", doc["globalDefault"], 0),
		ageCol(),
		// Upstream gives this column no priority, so kubectl shows it
		// without -o wide too.
		col("PreemptionPolicy", "string", doc["preemptionPolicy"], 0),
	}
}

func endpointSliceColumns() []metav1.TableColumnDefinition {
	doc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("AddressType", "string", doc["addressType"], 0),
		col("Ports", "string", doc["ports"], 0),
		col("Endpoints", "string", doc["endpoints"], 0),
		ageCol(),
	}
}
