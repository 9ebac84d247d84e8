package rbac

import (
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Metadata the bootstrap policy carries, as upstream.
const (
	// AutoUpdateAnnotation marks a default object the server may reconcile
	// at start-up; a user who sets it to "false" keeps their changes.
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	// BootstrappingLabel marks every default object, with value
	// BootstrappingValue.
	BootstrappingLabel = "kubernetes.io/bootstrapping"
	BootstrappingValue = "rbac-defaults"

	// Labels that feed the aggregated admin, edit and view roles.
	AggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"

	// ControllerRolePrefix starts the name of each per-controller role; the
	// rest is the name of the kube-system service account it is bound to.
	ControllerRolePrefix = "system:controller:"
)

// Well-known component users bound by the default policy.
const (
	KubeProxyUser             = "system:kube-proxy"
	KubeControllerManagerUser = "system:kube-controller-manager"
	KubeSchedulerUser         = "system:kube-scheduler"
	MonitoringGroup           = "system:monitoring"
)

var (
	read      = []string{"get", "list", "watch"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
)

// ruleB builds a PolicyRule readably: rule("get").groups("").resources("pods").
type ruleB rbacv1.PolicyRule

func rule(verbs ...string) ruleB            { return ruleB{Verbs: verbs} }
func (b ruleB) groups(g ...string) ruleB    { b.APIGroups = g; return b }
func (b ruleB) resources(r ...string) ruleB { b.Resources = r; return b }
func (b ruleB) names(n ...string) ruleB     { b.ResourceNames = n; return b }
func (b ruleB) urls(u ...string) ruleB      { b.NonResourceURLs = u; return b }

// eventsRule lets a component record events through either events API.
func eventsRule() ruleB {
	return rule("create", "update", "patch").groups("", "events.k8s.io").resources("events")
}

// build returns the rule with fresh slices, verbs, resources, names and
// URLs sorted as upstream stores them.
func (b ruleB) build() rbacv1.PolicyRule {
	return rbacv1.PolicyRule{
		Verbs:           sortedCopy(b.Verbs),
		APIGroups:       sortedCopy(b.APIGroups),
		Resources:       sortedCopy(b.Resources),
		ResourceNames:   sortedCopy(b.ResourceNames),
		NonResourceURLs: sortedCopy(b.NonResourceURLs),
	}
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func rules(bs ...ruleB) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(bs))
	for i, b := range bs {
		out[i] = b.build()
	}
	return out
}

func defaultMeta(name, namespace string, extraLabels ...string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:        name,
		Namespace:   namespace,
		Labels:      map[string]string{BootstrappingLabel: BootstrappingValue},
		Annotations: map[string]string{AutoUpdateAnnotation: "true"},
	}
	for _, l := range extraLabels {
		m.Labels[l] = "true"
	}
	return m
}

func clusterRole(name string, rs []rbacv1.PolicyRule, extraLabels ...string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: defaultMeta(name, "", extraLabels...), Rules: rs}
}

func aggregatedRole(name, from string, extraLabels ...string) rbacv1.ClusterRole {
	cr := clusterRole(name, nil, extraLabels...)
	cr.AggregationRule = &rbacv1.AggregationRule{
		ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{from: "true"}}},
	}
	return cr
}

// NodeRules are the rules of the system:node ClusterRole: what a node
// agent needs. The Node authorizer grants them to nodes for the resources
// it does not check object by object; no binding grants them by default.
func NodeRules() []rbacv1.PolicyRule {
	return rules(rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
		rule("create").groups("authorization.k8s.io").resources("localsubjectaccessreviews", "subjectaccessreviews"),
		rule(read...).groups("").resources("services"),
		rule("create", "get", "list", "watch").groups("").resources("nodes"),
		rule("patch", "update").groups("").resources("nodes/status"),
		rule("patch", "update").groups("").resources("nodes"),
		rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		rule(read...).groups("").resources("pods"),
		rule("create", "delete").groups("").resources("pods"),
		rule("patch", "update").groups("").resources("pods/status"),
		rule("create").groups("").resources("pods/eviction"),
		rule(read...).groups("").resources("configmaps", "secrets"),
		rule("get").groups("").resources("persistentvolumeclaims", "persistentvolumes"),
		rule("get").groups("").resources("endpoints"),
		rule("create", "get", "list", "watch").groups("certificates.k8s.io").resources("certificatesigningrequests"),
		rule("create", "delete", "get", "patch", "update").groups("coordination.k8s.io").resources("leases"),
		rule("get").groups("storage.k8s.io").resources("volumeattachments"),
		rule("create").groups("").resources("serviceaccounts/token"),
		rule("get", "patch", "update").groups("").resources("persistentvolumeclaims/status"),
		rule(read...).groups("storage.k8s.io").resources("csidrivers"),
		rule("create", "delete", "get", "patch", "update").groups("storage.k8s.io").resources("csinodes"),
		rule(read...).groups("node.k8s.io").resources("runtimeclasses"),
		rule("get").groups("resource.k8s.io").resources("resourceclaims"),
		rule("deletecollection").groups("resource.k8s.io").resources("resourceslices"),
		rule(read...).groups("certificates.k8s.io").resources("clustertrustbundles"),
		rule("get").groups("").resources("serviceaccounts"),
		rule("create", "get", "list", "watch").groups("certificates.k8s.io").resources("podcertificaterequests"),
	)
}

// BootstrapClusterRoles returns the default ClusterRoles, each labelled
// kubernetes.io/bootstrapping=rbac-defaults and annotated
// rbac.authorization.kubernetes.io/autoupdate=true. It returns fresh
// objects on every call.
//
// admin, edit and view carry aggregationRules as upstream; their Rules are
// filled in already, as the aggregation controller would over the default
// set, so the roles work before that controller first runs.
func BootstrapClusterRoles() []rbacv1.ClusterRole {
	roles := []rbacv1.ClusterRole{
		aggregatedRole("admin", AggregateToAdmin),
		aggregatedRole("edit", AggregateToEdit, AggregateToAdmin),
		aggregatedRole("view", AggregateToView, AggregateToEdit),
		clusterRole("system:node", NodeRules()),
		clusterRole("cluster-admin", rules(
			rule("*").groups("*").resources("*"),
			rule("*").urls("*"),
		)),
		clusterRole("system:aggregate-to-admin", rules(
			rule("create").groups("authorization.k8s.io").resources("localsubjectaccessreviews"),
			rule("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch").groups("rbac.authorization.k8s.io").resources("rolebindings", "roles"),
		), AggregateToAdmin),
		clusterRole("system:aggregate-to-edit", rules(
			rule(read...).groups("").resources("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"),
			rule("impersonate").groups("").resources("serviceaccounts"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("").resources("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
			rule("create").groups("").resources("pods/eviction"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("").resources("configmaps", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
			rule("create").groups("").resources("serviceaccounts/token"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("apps").resources("daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("autoscaling").resources("horizontalpodautoscalers"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("batch").resources("cronjobs", "jobs"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("extensions").resources("daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses", "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("policy").resources("poddisruptionbudgets"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("networking.k8s.io").resources("ingresses", "networkpolicies"),
			rule("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch").groups("coordination.k8s.io").resources("leases"),
			rule("create", "delete", "deletecollection", "patch", "update").groups("resource.k8s.io").resources("resourceclaims", "resourceclaimtemplates"),
		), AggregateToEdit),
		clusterRole("system:aggregate-to-view", rules(
			rule(read...).groups("").resources("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
			rule(read...).groups("").resources("bindings", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"),
			rule(read...).groups("").resources("namespaces"),
			rule(read...).groups("", "events.k8s.io").resources("events"),
			rule(read...).groups("discovery.k8s.io").resources("endpointslices"),
			rule(read...).groups("apps").resources("controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"),
			rule(read...).groups("autoscaling").resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			rule(read...).groups("batch").resources("cronjobs", "cronjobs/status", "jobs", "jobs/status"),
			rule(read...).groups("extensions").resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"),
			rule(read...).groups("policy").resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
			rule(read...).groups("networking.k8s.io").resources("ingresses", "ingresses/status", "networkpolicies"),
			rule(read...).groups("resource.k8s.io").resources("resourceclaims", "resourceclaims/status", "resourceclaimtemplates"),
		), AggregateToView),
		clusterRole("system:auth-delegator", rules(
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
		)),
		clusterRole("system:basic-user", rules(
			rule("create").groups("authorization.k8s.io").resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule("create").groups("authentication.k8s.io").resources("selfsubjectreviews"),
		)),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", rules(
			rule("create").groups("certificates.k8s.io").resources("certificatesigningrequests/nodeclient"),
		)),
		clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", rules(
			rule("create").groups("certificates.k8s.io").resources("certificatesigningrequests/selfnodeclient"),
		)),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-approver", rules(
			rule("approve").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kube-apiserver-client"),
		)),
		clusterRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", rules(
			rule("approve").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet"),
		)),
		clusterRole("system:certificates.k8s.io:kubelet-serving-approver", rules(
			rule("approve").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kubelet-serving"),
		)),
		clusterRole("system:certificates.k8s.io:legacy-unknown-approver", rules(
			rule("approve").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/legacy-unknown"),
		)),
		clusterRole("system:cluster-trust-bundle-discovery", rules(
			rule(read...).groups("certificates.k8s.io").resources("clustertrustbundles"),
		)),
		clusterRole("system:discovery", rules(
			rule("get").urls("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"),
		)),
		clusterRole("system:heapster", rules(
			rule(read...).groups("").resources("events", "namespaces", "nodes", "pods"),
			rule(read...).groups("extensions").resources("deployments"),
		)),
		clusterRole("system:kube-aggregator", rules(
			rule(read...).groups("").resources("endpoints", "services"),
		)),
		clusterRole("system:kube-controller-manager", rules(
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("create").groups("coordination.k8s.io").resources("leases"),
			rule("get", "update").groups("coordination.k8s.io").resources("leases").names("kube-controller-manager"),
			rule("create").groups("").resources("secrets", "serviceaccounts"),
			rule("delete").groups("").resources("secrets"),
			rule("get").groups("").resources("configmaps", "namespaces", "secrets", "serviceaccounts"),
			rule("update").groups("").resources("secrets", "serviceaccounts"),
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
			rule("list", "watch").groups("*").resources("*"),
			rule("create").groups("").resources("serviceaccounts/token"),
		)),
		clusterRole("system:kube-dns", rules(
			rule("list", "watch").groups("").resources("endpoints", "services"),
		)),
		clusterRole("system:kube-scheduler", rules(
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("create").groups("coordination.k8s.io").resources("leases"),
			rule("get", "list", "update", "watch").groups("coordination.k8s.io").resources("leases").names("kube-scheduler"),
			rule("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch").groups("coordination.k8s.io").resources("leasecandidates"),
			rule(read...).groups("").resources("nodes"),
			rule("delete", "get", "list", "watch").groups("").resources("pods"),
			rule("create").groups("").resources("bindings", "pods/binding"),
			rule("patch", "update").groups("").resources("pods/status"),
			rule(read...).groups("").resources("replicationcontrollers", "services"),
			rule(read...).groups("apps", "extensions").resources("replicasets"),
			rule(read...).groups("apps").resources("statefulsets"),
			rule(read...).groups("policy").resources("poddisruptionbudgets"),
			rule(read...).groups("").resources("persistentvolumeclaims", "persistentvolumes"),
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
			rule(read...).groups("storage.k8s.io").resources("csinodes"),
			rule(read...).groups("storage.k8s.io").resources("volumeattachments"),
			rule(read...).groups("").resources("namespaces"),
			rule(read...).groups("storage.k8s.io").resources("csidrivers"),
			rule(read...).groups("storage.k8s.io").resources("csistoragecapacities"),
			rule(read...).groups("resource.k8s.io").resources("deviceclasses"),
			rule("get", "list", "patch", "update", "watch").groups("resource.k8s.io").resources("resourceclaims"),
			rule("get", "list", "patch", "update", "watch").groups("resource.k8s.io").resources("resourceclaims/status"),
			rule("update").groups("").resources("pods/finalizers"),
			rule(read...).groups("resource.k8s.io").resources("resourceslices"),
			rule("create", "delete").groups("resource.k8s.io").resources("resourceclaims"),
			rule(read...).groups("resource.k8s.io").resources("devicetaintrules"),
			rule("patch", "update").groups("resource.k8s.io").resources("resourceclaims/binding"),
		)),
		clusterRole("system:kubelet-api-admin", rules(
			rule(read...).groups("").resources("nodes"),
			rule("proxy").groups("").resources("nodes"),
			rule("*").groups("").resources("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"),
			rule("*").groups("").resources("nodes/configz", "nodes/healthz", "nodes/pods"),
		)),
		clusterRole("system:monitoring", rules(
			rule("get").urls("/flagz", "/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*", "/statusz"),
			rule("get").groups("").resources("nodes/metrics"),
		)),
		clusterRole("system:node-bootstrapper", rules(
			rule("create", "get", "list", "watch").groups("certificates.k8s.io").resources("certificatesigningrequests"),
		)),
		clusterRole("system:node-problem-detector", rules(
			rule("get").groups("").resources("nodes"),
			rule("patch").groups("").resources("nodes/status"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		)),
		clusterRole("system:node-proxier", rules(
			rule("list", "watch").groups("").resources("endpoints", "services"),
			rule(read...).groups("").resources("nodes"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("list", "watch").groups("networking.k8s.io").resources("servicecidrs"),
			rule("list", "watch").groups("discovery.k8s.io").resources("endpointslices"),
		)),
		clusterRole("system:persistent-volume-provisioner", rules(
			rule("create", "delete", "get", "list", "watch").groups("").resources("persistentvolumes"),
			rule("get", "list", "update", "watch").groups("").resources("persistentvolumeclaims"),
			rule(read...).groups("storage.k8s.io").resources("storageclasses"),
			rule("watch").groups("").resources("events"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		)),
		clusterRole("system:public-info-viewer", rules(
			rule("get").urls("/healthz", "/livez", "/readyz", "/version", "/version/"),
		)),
		clusterRole("system:service-account-issuer-discovery", rules(
			rule("get").urls("/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"),
		)),
		clusterRole("system:volume-scheduler", rules(
			rule("get", "list", "patch", "update", "watch").groups("").resources("persistentvolumes"),
			rule(read...).groups("storage.k8s.io").resources("storageclasses"),
			rule("get", "list", "patch", "update", "watch").groups("").resources("persistentvolumeclaims"),
		)),
	}
	roles = append(roles, controllerRoles()...)
	fillAggregated(roles)
	return roles
}

// fillAggregated sets the rules of the aggregated roles in roles from the
// others, innermost first (view feeds edit, edit feeds admin).
func fillAggregated(roles []rbacv1.ClusterRole) {
	ptrs := make([]*rbacv1.ClusterRole, len(roles))
	byName := map[string]int{}
	for i := range roles {
		ptrs[i] = &roles[i]
		byName[roles[i].Name] = i
	}
	for _, name := range []string{"view", "edit", "admin"} {
		if i, ok := byName[name]; ok {
			roles[i].Rules = AggregateRules(&roles[i], ptrs)
		}
	}
}

// controllerRoles are the roles of the controllers Skiff runs, one per
// controller, each bound to the kube-system service account named after
// it.
func controllerRoles() []rbacv1.ClusterRole {
	c := func(name string, rs ...ruleB) rbacv1.ClusterRole {
		return clusterRole(ControllerRolePrefix+name, rules(rs...))
	}
	return []rbacv1.ClusterRole{
		c("attachdetach-controller",
			rule("list", "watch").groups("").resources("persistentvolumeclaims", "persistentvolumes"),
			rule(read...).groups("").resources("nodes"),
			rule("patch", "update").groups("").resources("nodes/status"),
			rule("list", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("create", "delete", "get", "list", "watch").groups("storage.k8s.io").resources("volumeattachments"),
			rule(read...).groups("storage.k8s.io").resources("csidrivers"),
			rule(read...).groups("storage.k8s.io").resources("csinodes"),
		),
		c("certificate-controller",
			rule("delete", "get", "list", "watch").groups("certificates.k8s.io").resources("certificatesigningrequests"),
			rule("update").groups("certificates.k8s.io").resources("certificatesigningrequests/approval", "certificatesigningrequests/status"),
			rule("approve").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet"),
			rule("sign").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("clusterrole-aggregation-controller",
			rule("escalate", "get", "list", "patch", "update", "watch").groups("rbac.authorization.k8s.io").resources("clusterroles"),
		),
		c("cronjob-controller",
			rule("get", "list", "update", "watch").groups("batch").resources("cronjobs"),
			rule("create", "delete", "get", "list", "patch", "update", "watch").groups("batch").resources("jobs"),
			rule("update").groups("batch").resources("cronjobs/status"),
			rule("update").groups("batch").resources("cronjobs/finalizers"),
			rule("delete", "list", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("daemon-set-controller",
			rule(read...).groups("apps", "extensions").resources("daemonsets"),
			rule("update").groups("apps", "extensions").resources("daemonsets/status"),
			rule("update").groups("apps", "extensions").resources("daemonsets/finalizers"),
			rule("list", "watch").groups("").resources("nodes"),
			rule("create", "delete", "list", "patch", "watch").groups("").resources("pods"),
			rule("create").groups("").resources("pods/binding"),
			rule("create", "delete", "get", "list", "patch", "update", "watch").groups("apps").resources("controllerrevisions"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("deployment-controller",
			rule("get", "list", "update", "watch").groups("apps", "extensions").resources("deployments"),
			rule("update").groups("apps", "extensions").resources("deployments/status"),
			rule("update").groups("apps", "extensions").resources("deployments/finalizers"),
			rule("create", "delete", "get", "list", "patch", "update", "watch").groups("apps", "extensions").resources("replicasets"),
			rule("get", "list", "update", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("device-taint-eviction-controller",
			rule("delete", "get", "list", "watch").groups("").resources("pods"),
			rule("patch", "update").groups("").resources("pods/status"),
			rule(read...).groups("resource.k8s.io").resources("resourceclaims"),
			rule(read...).groups("resource.k8s.io").resources("resourceslices"),
			rule(read...).groups("resource.k8s.io").resources("deviceclasses"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("patch", "update").groups("resource.k8s.io").resources("devicetaintrules/status"),
			rule(read...).groups("resource.k8s.io").resources("devicetaintrules"),
		),
		c("disruption-controller",
			rule(read...).groups("apps", "extensions").resources("deployments"),
			rule(read...).groups("apps", "extensions").resources("replicasets"),
			rule(read...).groups("").resources("replicationcontrollers"),
			rule(read...).groups("policy").resources("poddisruptionbudgets"),
			rule(read...).groups("apps").resources("statefulsets"),
			rule("update").groups("policy").resources("poddisruptionbudgets/status"),
			rule("patch", "update").groups("").resources("pods/status"),
			rule("get").groups("*").resources("*/scale"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("endpoint-controller",
			rule(read...).groups("").resources("pods", "services"),
			rule("create", "delete", "get", "list", "update", "watch").groups("").resources("endpoints"),
			rule("create").groups("").resources("endpoints/restricted"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("endpointslice-controller",
			rule(read...).groups("").resources("nodes", "pods", "services"),
			rule("update").groups("").resources("services/finalizers"),
			rule("create", "delete", "get", "list", "update", "watch").groups("discovery.k8s.io").resources("endpointslices"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("endpointslicemirroring-controller",
			rule(read...).groups("").resources("endpoints", "services"),
			rule("update").groups("").resources("services/finalizers"),
			rule("update").groups("").resources("endpoints/finalizers"),
			rule("create", "delete", "get", "list", "update", "watch").groups("discovery.k8s.io").resources("endpointslices"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("ephemeral-volume-controller",
			rule(read...).groups("").resources("pods"),
			rule("update").groups("").resources("pods/finalizers"),
			rule("create", "get", "list", "watch").groups("").resources("persistentvolumeclaims"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("expand-controller",
			rule("get", "list", "patch", "update", "watch").groups("").resources("persistentvolumes"),
			rule("patch", "update").groups("").resources("persistentvolumeclaims/status"),
			rule(read...).groups("").resources("persistentvolumeclaims"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("generic-garbage-collector",
			rule("delete", "get", "list", "patch", "update", "watch").groups("*").resources("*"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("horizontal-pod-autoscaler",
			rule(read...).groups("autoscaling").resources("horizontalpodautoscalers"),
			rule("update").groups("autoscaling").resources("horizontalpodautoscalers/status"),
			rule("get", "update").groups("*").resources("*/scale"),
			rule("list", "watch").groups("").resources("pods"),
			rule("list", "watch").groups("metrics.k8s.io").resources("pods"),
			rule(read...).groups("custom.metrics.k8s.io").resources("*"),
			rule(read...).groups("external.metrics.k8s.io").resources("*"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("job-controller",
			rule("get", "list", "patch", "update", "watch").groups("batch").resources("jobs"),
			rule("update").groups("batch").resources("jobs/status"),
			rule("update").groups("batch").resources("jobs/finalizers"),
			rule("create", "delete", "list", "patch", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("kube-apiserver-serving-clustertrustbundle-publisher",
			rule("attest").groups("certificates.k8s.io").resources("signers").names("kubernetes.io/kube-apiserver-serving"),
			rule("create", "delete", "list", "update", "watch").groups("certificates.k8s.io").resources("clustertrustbundles"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("legacy-service-account-token-cleaner",
			rule("get").groups("").resources("configmaps").names("kube-apiserver-legacy-service-account-token-tracking"),
			rule("delete", "patch").groups("").resources("secrets"),
		),
		c("namespace-controller",
			rule("delete", "get", "list", "watch").groups("").resources("namespaces"),
			rule("update").groups("").resources("namespaces/finalize", "namespaces/status"),
			rule("delete", "deletecollection", "get", "list", "watch").groups("*").resources("*"),
		),
		c("node-controller",
			rule("delete", "get", "list", "patch", "update", "watch").groups("").resources("nodes"),
			rule("patch", "update").groups("").resources("nodes/status"),
			rule("patch", "update").groups("").resources("pods/status"),
			rule("delete", "get", "list", "watch").groups("").resources("pods"),
			rule(read...).groups("coordination.k8s.io").resources("leases"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("persistent-volume-binder",
			rule("create", "delete", "get", "list", "update", "watch").groups("").resources("persistentvolumes"),
			rule("update").groups("").resources("persistentvolumes/status"),
			rule("get", "list", "update", "watch").groups("").resources("persistentvolumeclaims"),
			rule("update").groups("").resources("persistentvolumeclaims/status"),
			rule("create", "delete", "get", "list", "watch").groups("").resources("pods"),
			rule(read...).groups("storage.k8s.io").resources("storageclasses"),
			rule("list", "watch").groups("").resources("nodes"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("watch").groups("").resources("events"),
		),
		c("pod-garbage-collector",
			rule("delete", "list", "watch").groups("").resources("pods"),
			rule(read...).groups("").resources("nodes"),
			rule("patch").groups("").resources("pods/status"),
		),
		c("podcertificaterequestcleaner",
			rule("delete", "get", "list", "watch").groups("certificates.k8s.io").resources("podcertificaterequests"),
		),
		c("pv-protection-controller",
			rule("get", "list", "update", "watch").groups("").resources("persistentvolumes"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("pvc-protection-controller",
			rule("get", "list", "update", "watch").groups("").resources("persistentvolumeclaims"),
			rule("update").groups("").resources("persistentvolumeclaims/status"),
			rule(read...).groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("replicaset-controller",
			rule("get", "list", "update", "watch").groups("apps", "extensions").resources("replicasets"),
			rule("update").groups("apps", "extensions").resources("replicasets/status"),
			rule("update").groups("apps", "extensions").resources("replicasets/finalizers"),
			rule("create", "delete", "list", "patch", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("replication-controller",
			rule("get", "list", "update", "watch").groups("").resources("replicationcontrollers"),
			rule("update").groups("").resources("replicationcontrollers/status"),
			rule("update").groups("").resources("replicationcontrollers/finalizers"),
			rule("create", "delete", "list", "patch", "watch").groups("").resources("pods"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("resource-claim-controller",
			rule(read...).groups("").resources("pods"),
			rule("update").groups("").resources("pods/finalizers"),
			rule("create", "delete", "get", "list", "watch").groups("resource.k8s.io").resources("resourceclaims"),
			rule("patch", "update").groups("resource.k8s.io").resources("resourceclaims", "resourceclaims/status"),
			rule("patch", "update").groups("").resources("pods/status"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule("patch", "update").groups("resource.k8s.io").resources("resourceclaims/binding"),
		),
		c("resourcequota-controller",
			rule("list", "watch").groups("*").resources("*"),
			rule("update").groups("").resources("resourcequotas/status"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("root-ca-cert-publisher",
			rule("create", "update").groups("").resources("configmaps"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("route-controller",
			rule("list", "watch").groups("").resources("nodes"),
			rule("patch").groups("").resources("nodes/status"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("selinux-warning-controller",
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
			rule(read...).groups("").resources("persistentvolumes"),
			rule(read...).groups("").resources("persistentvolumeclaims"),
			rule(read...).groups("").resources("pods"),
			rule(read...).groups("storage.k8s.io").resources("csidrivers"),
		),
		c("service-account-controller",
			rule("create").groups("").resources("serviceaccounts"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("service-cidrs-controller",
			rule("get", "list", "patch", "update", "watch").groups("networking.k8s.io").resources("servicecidrs"),
			rule("patch", "update").groups("networking.k8s.io").resources("servicecidrs/finalizers"),
			rule("patch", "update").groups("networking.k8s.io").resources("servicecidrs/status"),
			rule(read...).groups("networking.k8s.io").resources("ipaddresses"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("service-controller",
			rule(read...).groups("").resources("services"),
			rule("patch", "update").groups("").resources("services/status"),
			rule("list", "watch").groups("").resources("nodes"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("statefulset-controller",
			rule("list", "watch").groups("").resources("pods"),
			rule(read...).groups("apps").resources("statefulsets"),
			rule("update").groups("apps").resources("statefulsets/status"),
			rule("update").groups("apps").resources("statefulsets/finalizers"),
			rule("create", "delete", "get", "patch", "update").groups("").resources("pods"),
			rule("create", "delete", "get", "list", "patch", "update", "watch").groups("apps").resources("controllerrevisions"),
			rule("create", "get", "list", "watch").groups("").resources("persistentvolumeclaims"),
			rule("delete", "update").groups("").resources("persistentvolumeclaims"),
			rule("update").groups("").resources("pods/finalizers"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("storage-version-migrator-controller",
			rule("list", "patch").groups("*").resources("*"),
			rule("get").groups("apiextensions.k8s.io").resources("customresourcedefinitions"),
			rule("patch").groups("apiextensions.k8s.io").resources("customresourcedefinitions/status"),
			rule("update").groups("storagemigration.k8s.io").resources("storageversionmigrations/status"),
		),
		c("ttl-after-finished-controller",
			rule("delete", "get", "list", "watch").groups("batch").resources("jobs"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("ttl-controller",
			rule("list", "patch", "update", "watch").groups("").resources("nodes"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("validatingadmissionpolicy-status-controller",
			rule(read...).groups("admissionregistration.k8s.io").resources("validatingadmissionpolicies"),
			rule("get", "patch", "update").groups("admissionregistration.k8s.io").resources("validatingadmissionpolicies/status"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
		c("volumeattributesclass-protection-controller",
			rule(read...).groups("").resources("persistentvolumeclaims"),
			rule(read...).groups("").resources("persistentvolumes"),
			rule("get", "list", "update", "watch").groups("storage.k8s.io").resources("volumeattributesclasses"),
			rule("create", "patch", "update").groups("", "events.k8s.io").resources("events"),
		),
	}
}

func subjects(kind string, names ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, len(names))
	for i, n := range names {
		out[i] = rbacv1.Subject{Kind: kind, APIGroup: rbacv1.GroupName, Name: n}
	}
	return out
}

func serviceAccount(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

func clusterBinding(role string, subs ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: defaultMeta(role, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subs,
	}
}

// BootstrapClusterRoleBindings returns the default ClusterRoleBindings,
// each named after its ClusterRole, with the same label and annotation as
// the roles. Each system:controller:NAME role is bound to service account
// kube-system/NAME. system:node is bound to no one: nodes get its rules
// from the Node authorizer.
func BootstrapClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bs := []rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", subjects(rbacv1.GroupKind, auth.SystemPrivileged)...),
		clusterBinding("system:monitoring", subjects(rbacv1.GroupKind, MonitoringGroup)...),
		clusterBinding("system:discovery", subjects(rbacv1.GroupKind, auth.AllAuthenticated)...),
		clusterBinding("system:basic-user", subjects(rbacv1.GroupKind, auth.AllAuthenticated)...),
		clusterBinding("system:public-info-viewer", subjects(rbacv1.GroupKind, auth.AllAuthenticated, auth.AllUnauthenticated)...),
		clusterBinding("system:node-proxier", subjects(rbacv1.UserKind, KubeProxyUser)...),
		clusterBinding("system:kube-controller-manager", subjects(rbacv1.UserKind, KubeControllerManagerUser)...),
		clusterBinding("system:kube-dns", serviceAccount("kube-system", "kube-dns")),
		clusterBinding("system:kube-scheduler", subjects(rbacv1.UserKind, KubeSchedulerUser)...),
		clusterBinding("system:volume-scheduler", subjects(rbacv1.UserKind, KubeSchedulerUser)...),
		clusterBinding("system:node"),
		clusterBinding("system:service-account-issuer-discovery", subjects(rbacv1.GroupKind, auth.ServiceAccountGroup)...),
		clusterBinding("system:cluster-trust-bundle-discovery", subjects(rbacv1.GroupKind, auth.ServiceAccountGroup)...),
	}
	for _, r := range controllerRoles() {
		bs = append(bs, clusterBinding(r.Name, serviceAccount("kube-system", r.Name[len(ControllerRolePrefix):])))
	}
	return bs
}

// BootstrapRoles returns the default namespaced Roles by namespace
// (kube-system and kube-public).
func BootstrapRoles() map[string][]rbacv1.Role {
	role := func(ns, name string, rs ...ruleB) rbacv1.Role {
		return rbacv1.Role{ObjectMeta: defaultMeta(name, ns), Rules: rules(rs...)}
	}
	return map[string][]rbacv1.Role{
		"kube-system": {
			role("kube-system", "extension-apiserver-authentication-reader",
				rule(read...).groups("").resources("configmaps").names("extension-apiserver-authentication")),
			role("kube-system", "system::leader-locking-kube-controller-manager",
				rule("create", "get", "list", "update", "watch").groups("coordination.k8s.io").resources("leases"),
				rule("create", "get", "list", "update", "watch").groups("coordination.k8s.io").resources("leasecandidates")),
			role("kube-system", "system::leader-locking-kube-scheduler",
				rule("create", "get", "list", "update", "watch").groups("coordination.k8s.io").resources("leases"),
				rule("create", "get", "list", "update", "watch").groups("coordination.k8s.io").resources("leasecandidates")),
			role("kube-system", ControllerRolePrefix+"bootstrap-signer",
				rule(read...).groups("").resources("secrets")),
			role("kube-system", ControllerRolePrefix+"cloud-provider",
				rule("create", "get", "list", "watch").groups("").resources("configmaps")),
			role("kube-system", ControllerRolePrefix+"token-cleaner",
				rule("delete", "get", "list", "watch").groups("").resources("secrets"),
				eventsRule()),
		},
		"kube-public": {
			role("kube-public", ControllerRolePrefix+"bootstrap-signer",
				rule(read...).groups("").resources("configmaps"),
				rule("update").groups("").resources("configmaps").names("cluster-info"),
				eventsRule()),
		},
	}
}

// BootstrapRoleBindings returns the default RoleBindings by namespace
// (kube-system and kube-public).
func BootstrapRoleBindings() map[string][]rbacv1.RoleBinding {
	binding := func(ns, name, role string, subs ...rbacv1.Subject) rbacv1.RoleBinding {
		return rbacv1.RoleBinding{
			ObjectMeta: defaultMeta(name, ns),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
			Subjects:   subs,
		}
	}
	users := func(names ...string) []rbacv1.Subject { return subjects(rbacv1.UserKind, names...) }
	return map[string][]rbacv1.RoleBinding{
		"kube-system": {
			binding("kube-system", "system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
				users(KubeControllerManagerUser, KubeSchedulerUser)...),
			binding("kube-system", "system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager",
				append(users(KubeControllerManagerUser), serviceAccount("kube-system", "kube-controller-manager"),
					serviceAccount("kube-system", "leader-election-controller"))...),
			binding("kube-system", "system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
				append(users(KubeSchedulerUser), serviceAccount("kube-system", "kube-scheduler"))...),
			binding("kube-system", ControllerRolePrefix+"bootstrap-signer", ControllerRolePrefix+"bootstrap-signer",
				serviceAccount("kube-system", "bootstrap-signer")),
			binding("kube-system", ControllerRolePrefix+"cloud-provider", ControllerRolePrefix+"cloud-provider",
				serviceAccount("kube-system", "cloud-provider")),
			binding("kube-system", ControllerRolePrefix+"token-cleaner", ControllerRolePrefix+"token-cleaner",
				serviceAccount("kube-system", "token-cleaner")),
		},
		"kube-public": {
			binding("kube-public", ControllerRolePrefix+"bootstrap-signer", ControllerRolePrefix+"bootstrap-signer",
				serviceAccount("kube-system", "bootstrap-signer")),
		},
	}
}
