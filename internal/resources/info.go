// Package resources describes every kind Skiff serves: its names, scope and
// subresources, and (in subpackages) its defaulting, validation, selectable
// fields and table columns.
package resources

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Info names one served resource in one group version.
type Info struct {
	GVK          schema.GroupVersionKind
	Resource     string // plural, lower case: "deployments"
	Singular     string
	ShortNames   []string
	Categories   []string
	Namespaced   bool
	Subresources []string // "status", "scale"
	// StorageGVK is the version objects are stored as when it differs from
	// GVK (events.k8s.io/v1 Event is stored as core/v1 Event, autoscaling/v1
	// HPA as autoscaling/v2).
	StorageGVK schema.GroupVersionKind
	// Virtual resources are never stored: a create computes and returns a
	// result (TokenReview, SubjectAccessReview and the like), a read
	// computes what it returns (ComponentStatus).
	Virtual bool
	// Verbs, when set, replaces the verbs the resource itself serves
	// (namespaces have no deletecollection, componentstatuses are only
	// read); discovery reports them and the server refuses the others.
	Verbs []string
}

// GroupResource returns the resource qualified by its group.
func (i Info) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: i.GVK.Group, Resource: i.Resource}
}

// GVR returns the resource's group, version and plural name.
func (i Info) GVR() schema.GroupVersionResource {
	return i.GVK.GroupVersion().WithResource(i.Resource)
}

// Has reports whether the resource serves the named subresource.
func (i Info) Has(sub string) bool {
	for _, s := range i.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Listed reports whether the resource serves list (and so has a List
// kind): every stored one, and the computed ones whose verbs say so.
func (i Info) Listed() bool {
	if !i.Virtual {
		return true
	}
	for _, v := range i.Verbs {
		if v == "list" {
			return true
		}
	}
	return false
}

// Storage returns the kind objects of this resource are stored as.
func (i Info) Storage() schema.GroupVersionKind {
	if i.StorageGVK.Kind == "" {
		return i.GVK
	}
	return i.StorageGVK
}

var (
	all    = []string{"all"}
	status = []string{"status"}
	scale  = []string{"status", "scale"}
)

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// All lists every served resource, grouped by group version in the order
// discovery reports them.
func All() []Info {
	return []Info{
		// core/v1
		{GVK: gvk("", "v1", "Binding"), Resource: "bindings", Singular: "binding", Namespaced: true, Virtual: true, Verbs: []string{"create"}},
		{GVK: gvk("", "v1", "ComponentStatus"), Resource: "componentstatuses", Singular: "componentstatus", ShortNames: []string{"cs"}, Virtual: true, Verbs: []string{"get", "list"}},
		{GVK: gvk("", "v1", "ConfigMap"), Resource: "configmaps", Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true},
		{GVK: gvk("", "v1", "Endpoints"), Resource: "endpoints", Singular: "endpoints", ShortNames: []string{"ep"}, Namespaced: true},
		{GVK: gvk("", "v1", "Event"), Resource: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true},
		{GVK: gvk("", "v1", "LimitRange"), Resource: "limitranges", Singular: "limitrange", ShortNames: []string{"limits"}, Namespaced: true},
		{GVK: gvk("", "v1", "Namespace"), Resource: "namespaces", Singular: "namespace", ShortNames: []string{"ns"}, Subresources: []string{"status", "finalize"},
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}},
		{GVK: gvk("", "v1", "Node"), Resource: "nodes", Singular: "node", ShortNames: []string{"no"}, Subresources: []string{"proxy", "status"}},
		{GVK: gvk("", "v1", "PersistentVolumeClaim"), Resource: "persistentvolumeclaims", Singular: "persistentvolumeclaim", ShortNames: []string{"pvc"}, Namespaced: true, Subresources: status},
		{GVK: gvk("", "v1", "PersistentVolume"), Resource: "persistentvolumes", Singular: "persistentvolume", ShortNames: []string{"pv"}, Subresources: status},
		{GVK: gvk("", "v1", "Pod"), Resource: "pods", Singular: "pod", ShortNames: []string{"po"}, Categories: all, Namespaced: true, Subresources: []string{"attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy", "resize", "status"}},
		{GVK: gvk("", "v1", "PodTemplate"), Resource: "podtemplates", Singular: "podtemplate", Namespaced: true},
		{GVK: gvk("", "v1", "ReplicationController"), Resource: "replicationcontrollers", Singular: "replicationcontroller", ShortNames: []string{"rc"}, Categories: all, Namespaced: true, Subresources: scale},
		{GVK: gvk("", "v1", "ResourceQuota"), Resource: "resourcequotas", Singular: "resourcequota", ShortNames: []string{"quota"}, Namespaced: true, Subresources: status},
		{GVK: gvk("", "v1", "Secret"), Resource: "secrets", Singular: "secret", Namespaced: true},
		{GVK: gvk("", "v1", "ServiceAccount"), Resource: "serviceaccounts", Singular: "serviceaccount", ShortNames: []string{"sa"}, Namespaced: true, Subresources: []string{"token"}},
		{GVK: gvk("", "v1", "Service"), Resource: "services", Singular: "service", ShortNames: []string{"svc"}, Categories: all, Namespaced: true, Subresources: []string{"proxy", "status"}},
		// apps/v1
		{GVK: gvk("apps", "v1", "ControllerRevision"), Resource: "controllerrevisions", Singular: "controllerrevision", Namespaced: true},
		{GVK: gvk("apps", "v1", "DaemonSet"), Resource: "daemonsets", Singular: "daemonset", ShortNames: []string{"ds"}, Categories: all, Namespaced: true, Subresources: status},
		{GVK: gvk("apps", "v1", "Deployment"), Resource: "deployments", Singular: "deployment", ShortNames: []string{"deploy"}, Categories: all, Namespaced: true, Subresources: scale},
		{GVK: gvk("apps", "v1", "ReplicaSet"), Resource: "replicasets", Singular: "replicaset", ShortNames: []string{"rs"}, Categories: all, Namespaced: true, Subresources: scale},
		{GVK: gvk("apps", "v1", "StatefulSet"), Resource: "statefulsets", Singular: "statefulset", ShortNames: []string{"sts"}, Categories: all, Namespaced: true, Subresources: scale},
		// authentication.k8s.io/v1 and authorization.k8s.io/v1 reviews
		{GVK: gvk("authentication.k8s.io", "v1", "SelfSubjectReview"), Resource: "selfsubjectreviews", Singular: "selfsubjectreview", Virtual: true},
		{GVK: gvk("authentication.k8s.io", "v1", "TokenReview"), Resource: "tokenreviews", Singular: "tokenreview", Virtual: true},
		{GVK: gvk("authorization.k8s.io", "v1", "LocalSubjectAccessReview"), Resource: "localsubjectaccessreviews", Singular: "localsubjectaccessreview", Namespaced: true, Virtual: true},
		{GVK: gvk("authorization.k8s.io", "v1", "SelfSubjectAccessReview"), Resource: "selfsubjectaccessreviews", Singular: "selfsubjectaccessreview", Virtual: true},
		{GVK: gvk("authorization.k8s.io", "v1", "SelfSubjectRulesReview"), Resource: "selfsubjectrulesreviews", Singular: "selfsubjectrulesreview", Virtual: true},
		{GVK: gvk("authorization.k8s.io", "v1", "SubjectAccessReview"), Resource: "subjectaccessreviews", Singular: "subjectaccessreview", Virtual: true},
		// autoscaling
		{GVK: gvk("autoscaling", "v2", "HorizontalPodAutoscaler"), Resource: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", ShortNames: []string{"hpa"}, Categories: all, Namespaced: true, Subresources: status},
		{GVK: gvk("autoscaling", "v1", "HorizontalPodAutoscaler"), Resource: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", ShortNames: []string{"hpa"}, Categories: all, Namespaced: true, Subresources: status, StorageGVK: gvk("autoscaling", "v2", "HorizontalPodAutoscaler")},
		// batch/v1
		{GVK: gvk("batch", "v1", "CronJob"), Resource: "cronjobs", Singular: "cronjob", ShortNames: []string{"cj"}, Categories: all, Namespaced: true, Subresources: status},
		{GVK: gvk("batch", "v1", "Job"), Resource: "jobs", Singular: "job", Categories: all, Namespaced: true, Subresources: status},
		// certificates.k8s.io/v1
		{GVK: gvk("certificates.k8s.io", "v1", "CertificateSigningRequest"), Resource: "certificatesigningrequests", Singular: "certificatesigningrequest", ShortNames: []string{"csr"}, Subresources: []string{"approval", "status"}},
		{GVK: gvk("certificates.k8s.io", "v1", "ClusterTrustBundle"), Resource: "clustertrustbundles", Singular: "clustertrustbundle"},
		// coordination.k8s.io/v1
		{GVK: gvk("coordination.k8s.io", "v1", "Lease"), Resource: "leases", Singular: "lease", Namespaced: true},
		// discovery.k8s.io/v1
		{GVK: gvk("discovery.k8s.io", "v1", "EndpointSlice"), Resource: "endpointslices", Singular: "endpointslice", Namespaced: true},
		// events.k8s.io/v1
		{GVK: gvk("events.k8s.io", "v1", "Event"), Resource: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true, StorageGVK: gvk("", "v1", "Event")},
		// flowcontrol.apiserver.k8s.io/v1
		{GVK: gvk("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"), Resource: "flowschemas", Singular: "flowschema", Subresources: status},
		{GVK: gvk("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"), Resource: "prioritylevelconfigurations", Singular: "prioritylevelconfiguration", Subresources: status},
		// networking.k8s.io/v1
		{GVK: gvk("networking.k8s.io", "v1", "IngressClass"), Resource: "ingressclasses", Singular: "ingressclass"},
		{GVK: gvk("networking.k8s.io", "v1", "Ingress"), Resource: "ingresses", Singular: "ingress", ShortNames: []string{"ing"}, Namespaced: true, Subresources: status},
		{GVK: gvk("networking.k8s.io", "v1", "NetworkPolicy"), Resource: "networkpolicies", Singular: "networkpolicy", ShortNames: []string{"netpol"}, Namespaced: true},
		{GVK: gvk("networking.k8s.io", "v1", "IPAddress"), Resource: "ipaddresses", Singular: "ipaddress", ShortNames: []string{"ip"}},
		{GVK: gvk("networking.k8s.io", "v1", "ServiceCIDR"), Resource: "servicecidrs", Singular: "servicecidr", Subresources: status},
		// node.k8s.io/v1
		{GVK: gvk("node.k8s.io", "v1", "RuntimeClass"), Resource: "runtimeclasses", Singular: "runtimeclass"},
		// policy/v1
		{GVK: gvk("policy", "v1", "PodDisruptionBudget"), Resource: "poddisruptionbudgets", Singular: "poddisruptionbudget", ShortNames: []string{"pdb"}, Namespaced: true, Subresources: status},
		// rbac.authorization.k8s.io/v1
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"), Resource: "clusterrolebindings", Singular: "clusterrolebinding"},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "ClusterRole"), Resource: "clusterroles", Singular: "clusterrole"},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "RoleBinding"), Resource: "rolebindings", Singular: "rolebinding", Namespaced: true},
		{GVK: gvk("rbac.authorization.k8s.io", "v1", "Role"), Resource: "roles", Singular: "role", Namespaced: true},
		// resource.k8s.io/v1
		{GVK: gvk("resource.k8s.io", "v1", "DeviceClass"), Resource: "deviceclasses", Singular: "deviceclass"},
		{GVK: gvk("resource.k8s.io", "v1", "DeviceTaintRule"), Resource: "devicetaintrules", Singular: "devicetaintrule", Subresources: status},
		{GVK: gvk("resource.k8s.io", "v1", "ResourceClaim"), Resource: "resourceclaims", Singular: "resourceclaim", Namespaced: true, Subresources: status},
		{GVK: gvk("resource.k8s.io", "v1", "ResourceClaimTemplate"), Resource: "resourceclaimtemplates", Singular: "resourceclaimtemplate", Namespaced: true},
		{GVK: gvk("resource.k8s.io", "v1", "ResourceSlice"), Resource: "resourceslices", Singular: "resourceslice"},
		// scheduling.k8s.io/v1
		{GVK: gvk("scheduling.k8s.io", "v1", "PriorityClass"), Resource: "priorityclasses", Singular: "priorityclass", ShortNames: []string{"pc"}},
		// storage.k8s.io/v1
		{GVK: gvk("storage.k8s.io", "v1", "CSIDriver"), Resource: "csidrivers", Singular: "csidriver"},
		{GVK: gvk("storage.k8s.io", "v1", "CSINode"), Resource: "csinodes", Singular: "csinode", Subresources: status},
		{GVK: gvk("storage.k8s.io", "v1", "CSIStorageCapacity"), Resource: "csistoragecapacities", Singular: "csistoragecapacity", Namespaced: true},
		{GVK: gvk("storage.k8s.io", "v1", "StorageClass"), Resource: "storageclasses", Singular: "storageclass", ShortNames: []string{"sc"}},
		{GVK: gvk("storage.k8s.io", "v1", "VolumeAttachment"), Resource: "volumeattachments", Singular: "volumeattachment", Subresources: status},
		{GVK: gvk("storage.k8s.io", "v1", "VolumeAttributesClass"), Resource: "volumeattributesclasses", Singular: "volumeattributesclass", ShortNames: []string{"vac"}},
		// storagemigration.k8s.io/v1
		{GVK: gvk("storagemigration.k8s.io", "v1", "StorageVersionMigration"), Resource: "storageversionmigrations", Singular: "storageversionmigration", Subresources: status},
	}
}
