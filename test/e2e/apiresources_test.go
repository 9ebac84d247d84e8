package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// apiResource is one row of `kubectl api-resources -o wide`.
type apiResource struct {
	name, shortNames, apiVersion string
	namespaced                   bool
	kind, verbs, categories      string // verbs space-separated and sorted
}

func (r apiResource) key() string { return r.name + " " + r.apiVersion }

func (r apiResource) String() string {
	return fmt.Sprintf("%s [%s] %s namespaced=%v %s [%s] [%s]", r.name, r.shortNames, r.apiVersion, r.namespaced, r.kind, r.verbs, r.categories)
}

// upstreamAPIResources is what `kubectl api-resources -o wide` lists
// against an upstream v1.37 kube-apiserver with its default resource
// configuration: every resource of the stable group versions
// (pkg/controlplane/instance.go enables v1 and autoscaling/v2 groups,
// disables every alpha and beta one), whose feature gates are all on by
// default in v1.37 (ClusterTrustBundle, PodCertificateRequest,
// DRADeviceTaintRules, MutatingAdmissionPolicy, StorageVersionMigrator are
// GA). Rows come from upstream's api/discovery/*.json for those group
// versions; autoscaling/v1 is left out because kubectl lists a group's
// preferred version only.
var upstreamAPIResources = []apiResource{
	{"bindings", "", "v1", true, "Binding", "create", ""},
	{"componentstatuses", "cs", "v1", false, "ComponentStatus", "get list", ""},
	{"configmaps", "cm", "v1", true, "ConfigMap", "create delete deletecollection get list patch update watch", ""},
	{"endpoints", "ep", "v1", true, "Endpoints", "create delete deletecollection get list patch update watch", ""},
	{"events", "ev", "v1", true, "Event", "create delete deletecollection get list patch update watch", ""},
	{"limitranges", "limits", "v1", true, "LimitRange", "create delete deletecollection get list patch update watch", ""},
	{"namespaces", "ns", "v1", false, "Namespace", "create delete get list patch update watch", ""},
	{"nodes", "no", "v1", false, "Node", "create delete deletecollection get list patch update watch", ""},
	{"persistentvolumeclaims", "pvc", "v1", true, "PersistentVolumeClaim", "create delete deletecollection get list patch update watch", ""},
	{"persistentvolumes", "pv", "v1", false, "PersistentVolume", "create delete deletecollection get list patch update watch", ""},
	{"pods", "po", "v1", true, "Pod", "create delete deletecollection get list patch update watch", "all"},
	{"podtemplates", "", "v1", true, "PodTemplate", "create delete deletecollection get list patch update watch", ""},
	{"replicationcontrollers", "rc", "v1", true, "ReplicationController", "create delete deletecollection get list patch update watch", "all"},
	{"resourcequotas", "quota", "v1", true, "ResourceQuota", "create delete deletecollection get list patch update watch", ""},
	{"secrets", "", "v1", true, "Secret", "create delete deletecollection get list patch update watch", ""},
	{"serviceaccounts", "sa", "v1", true, "ServiceAccount", "create delete deletecollection get list patch update watch", ""},
	{"services", "svc", "v1", true, "Service", "create delete deletecollection get list patch update watch", "all"},
	{"mutatingadmissionpolicies", "", "admissionregistration.k8s.io/v1", false, "MutatingAdmissionPolicy", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"mutatingadmissionpolicybindings", "", "admissionregistration.k8s.io/v1", false, "MutatingAdmissionPolicyBinding", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"mutatingwebhookconfigurations", "", "admissionregistration.k8s.io/v1", false, "MutatingWebhookConfiguration", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"validatingadmissionpolicies", "", "admissionregistration.k8s.io/v1", false, "ValidatingAdmissionPolicy", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"validatingadmissionpolicybindings", "", "admissionregistration.k8s.io/v1", false, "ValidatingAdmissionPolicyBinding", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"validatingwebhookconfigurations", "", "admissionregistration.k8s.io/v1", false, "ValidatingWebhookConfiguration", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", false, "CustomResourceDefinition", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"apiservices", "", "apiregistration.k8s.io/v1", false, "APIService", "create delete deletecollection get list patch update watch", "api-extensions"},
	{"controllerrevisions", "", "apps/v1", true, "ControllerRevision", "create delete deletecollection get list patch update watch", ""},
	{"daemonsets", "ds", "apps/v1", true, "DaemonSet", "create delete deletecollection get list patch update watch", "all"},
	{"deployments", "deploy", "apps/v1", true, "Deployment", "create delete deletecollection get list patch update watch", "all"},
	{"replicasets", "rs", "apps/v1", true, "ReplicaSet", "create delete deletecollection get list patch update watch", "all"},
	{"statefulsets", "sts", "apps/v1", true, "StatefulSet", "create delete deletecollection get list patch update watch", "all"},
	{"selfsubjectreviews", "", "authentication.k8s.io/v1", false, "SelfSubjectReview", "create", ""},
	{"tokenreviews", "", "authentication.k8s.io/v1", false, "TokenReview", "create", ""},
	{"localsubjectaccessreviews", "", "authorization.k8s.io/v1", true, "LocalSubjectAccessReview", "create", ""},
	{"selfsubjectaccessreviews", "", "authorization.k8s.io/v1", false, "SelfSubjectAccessReview", "create", ""},
	{"selfsubjectrulesreviews", "", "authorization.k8s.io/v1", false, "SelfSubjectRulesReview", "create", ""},
	{"subjectaccessreviews", "", "authorization.k8s.io/v1", false, "SubjectAccessReview", "create", ""},
	{"horizontalpodautoscalers", "hpa", "autoscaling/v2", true, "HorizontalPodAutoscaler", "create delete deletecollection get list patch update watch", "all"},
	{"cronjobs", "cj", "batch/v1", true, "CronJob", "create delete deletecollection get list patch update watch", "all"},
	{"jobs", "", "batch/v1", true, "Job", "create delete deletecollection get list patch update watch", "all"},
	{"certificatesigningrequests", "csr", "certificates.k8s.io/v1", false, "CertificateSigningRequest", "create delete deletecollection get list patch update watch", ""},
	{"clustertrustbundles", "", "certificates.k8s.io/v1", false, "ClusterTrustBundle", "create delete deletecollection get list patch update watch", ""},
	{"podcertificaterequests", "", "certificates.k8s.io/v1", true, "PodCertificateRequest", "create delete deletecollection get list patch update watch", ""},
	{"leases", "", "coordination.k8s.io/v1", true, "Lease", "create delete deletecollection get list patch update watch", ""},
	{"endpointslices", "", "discovery.k8s.io/v1", true, "EndpointSlice", "create delete deletecollection get list patch update watch", ""},
	{"events", "ev", "events.k8s.io/v1", true, "Event", "create delete deletecollection get list patch update watch", ""},
	{"flowschemas", "", "flowcontrol.apiserver.k8s.io/v1", false, "FlowSchema", "create delete deletecollection get list patch update watch", ""},
	{"prioritylevelconfigurations", "", "flowcontrol.apiserver.k8s.io/v1", false, "PriorityLevelConfiguration", "create delete deletecollection get list patch update watch", ""},
	{"ingressclasses", "", "networking.k8s.io/v1", false, "IngressClass", "create delete deletecollection get list patch update watch", ""},
	{"ingresses", "ing", "networking.k8s.io/v1", true, "Ingress", "create delete deletecollection get list patch update watch", ""},
	{"ipaddresses", "ip", "networking.k8s.io/v1", false, "IPAddress", "create delete deletecollection get list patch update watch", ""},
	{"networkpolicies", "netpol", "networking.k8s.io/v1", true, "NetworkPolicy", "create delete deletecollection get list patch update watch", ""},
	{"servicecidrs", "", "networking.k8s.io/v1", false, "ServiceCIDR", "create delete deletecollection get list patch update watch", ""},
	{"runtimeclasses", "", "node.k8s.io/v1", false, "RuntimeClass", "create delete deletecollection get list patch update watch", ""},
	{"poddisruptionbudgets", "pdb", "policy/v1", true, "PodDisruptionBudget", "create delete deletecollection get list patch update watch", ""},
	{"clusterrolebindings", "", "rbac.authorization.k8s.io/v1", false, "ClusterRoleBinding", "create delete deletecollection get list patch update watch", ""},
	{"clusterroles", "", "rbac.authorization.k8s.io/v1", false, "ClusterRole", "create delete deletecollection get list patch update watch", ""},
	{"rolebindings", "", "rbac.authorization.k8s.io/v1", true, "RoleBinding", "create delete deletecollection get list patch update watch", ""},
	{"roles", "", "rbac.authorization.k8s.io/v1", true, "Role", "create delete deletecollection get list patch update watch", ""},
	{"deviceclasses", "", "resource.k8s.io/v1", false, "DeviceClass", "create delete deletecollection get list patch update watch", ""},
	{"devicetaintrules", "", "resource.k8s.io/v1", false, "DeviceTaintRule", "create delete deletecollection get list patch update watch", ""},
	{"resourceclaims", "", "resource.k8s.io/v1", true, "ResourceClaim", "create delete deletecollection get list patch update watch", ""},
	{"resourceclaimtemplates", "", "resource.k8s.io/v1", true, "ResourceClaimTemplate", "create delete deletecollection get list patch update watch", ""},
	{"resourceslices", "", "resource.k8s.io/v1", false, "ResourceSlice", "create delete deletecollection get list patch update watch", ""},
	{"priorityclasses", "pc", "scheduling.k8s.io/v1", false, "PriorityClass", "create delete deletecollection get list patch update watch", ""},
	{"csidrivers", "", "storage.k8s.io/v1", false, "CSIDriver", "create delete deletecollection get list patch update watch", ""},
	{"csinodes", "", "storage.k8s.io/v1", false, "CSINode", "create delete deletecollection get list patch update watch", ""},
	{"csistoragecapacities", "", "storage.k8s.io/v1", true, "CSIStorageCapacity", "create delete deletecollection get list patch update watch", ""},
	{"storageclasses", "sc", "storage.k8s.io/v1", false, "StorageClass", "create delete deletecollection get list patch update watch", ""},
	{"volumeattachments", "", "storage.k8s.io/v1", false, "VolumeAttachment", "create delete deletecollection get list patch update watch", ""},
	{"volumeattributesclasses", "vac", "storage.k8s.io/v1", false, "VolumeAttributesClass", "create delete deletecollection get list patch update watch", ""},
	{"storageversionmigrations", "", "storagemigration.k8s.io/v1", false, "StorageVersionMigration", "create delete deletecollection get list patch update watch", ""},
}

// absentAPIResources are upstream resources Skiff deliberately does not
// serve yet, each with the reason.
var absentAPIResources = map[string]string{
	"mutatingadmissionpolicies admissionregistration.k8s.io/v1":         "admission policies and webhooks wait for the extensibility issue",
	"mutatingadmissionpolicybindings admissionregistration.k8s.io/v1":   "admission policies and webhooks wait for the extensibility issue",
	"mutatingwebhookconfigurations admissionregistration.k8s.io/v1":     "admission policies and webhooks wait for the extensibility issue",
	"validatingadmissionpolicies admissionregistration.k8s.io/v1":       "admission policies and webhooks wait for the extensibility issue",
	"validatingadmissionpolicybindings admissionregistration.k8s.io/v1": "admission policies and webhooks wait for the extensibility issue",
	"validatingwebhookconfigurations admissionregistration.k8s.io/v1":   "admission policies and webhooks wait for the extensibility issue",
	"customresourcedefinitions apiextensions.k8s.io/v1":                 "CRD serving waits for the extensibility issue",
	"apiservices apiregistration.k8s.io/v1":                             "API aggregation waits for the extensibility issue",
	"podcertificaterequests certificates.k8s.io/v1":                     "pod certificates (and their kubelet projected volumes) are not implemented yet",
}

// TestAPIResourcesMatchUpstream compares every row of `kubectl
// api-resources -o wide` with upstream v1.37's default list: a resource
// missing, extra or different fails the test unless absentAPIResources
// names it with a reason.
func TestAPIResourcesMatchUpstream(t *testing.T) {
	t.Parallel()
	out := mustKubectl(t, "", "api-resources", "-o", "wide")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	cols := columnStarts(lines[0])
	if got := strings.Join(columnNames(cols), "|"); got != "NAME|SHORTNAMES|APIVERSION|NAMESPACED|KIND|VERBS|CATEGORIES" {
		t.Fatalf("api-resources -o wide header = %q", got)
	}
	served := map[string]apiResource{}
	for _, l := range lines[1:] {
		c := cellsOf(l, cols)
		// kubectl prints the verbs as [a,b,c] (older releases [a b c]).
		verbs := strings.Fields(strings.ReplaceAll(strings.Trim(c["VERBS"], "[]"), ",", " "))
		sort.Strings(verbs)
		r := apiResource{c["NAME"], c["SHORTNAMES"], c["APIVERSION"], c["NAMESPACED"] == "true", c["KIND"], strings.Join(verbs, " "), c["CATEGORIES"]}
		served[r.key()] = r
	}
	for _, want := range upstreamAPIResources {
		got, ok := served[want.key()]
		delete(served, want.key())
		_, absent := absentAPIResources[want.key()]
		switch {
		case !ok && !absent:
			t.Errorf("missing %s", want)
		case ok && absent:
			t.Errorf("%s is served now: drop it from absentAPIResources", want.key())
		case ok && got != want:
			t.Errorf("api-resources row\n got %s\nwant %s", got, want)
		}
	}
	for _, extra := range served {
		t.Errorf("served but not by upstream v1.37 by default: %s", extra)
	}
}
