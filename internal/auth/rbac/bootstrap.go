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
	return rules(
		// Checking API access; these creates do not mutate anything.
		rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
		rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews", "localsubjectaccessreviews"),
		// Service environment variables.
		rule(read...).groups("").resources("services"),
		// Registering and updating the Node; admission limits a node to its own.
		rule("create", "get", "list", "watch").groups("").resources("nodes"),
		rule("update", "patch").groups("").resources("nodes/status"),
		rule("update", "patch").groups("").resources("nodes"),
		rule("create", "update", "patch").groups("").resources("events"),
		rule(read...).groups("").resources("pods"),
		// Mirror pods, pod status and evictions of its own pods.
		rule("create", "delete").groups("").resources("pods"),
		rule("update", "patch").groups("").resources("pods/status"),
		rule("create").groups("").resources("pods/eviction"),
		// Volumes and environment; the Node authorizer narrows these to
		// objects its pods reference.
		rule(read...).groups("").resources("secrets", "configmaps"),
		rule("get").groups("").resources("persistentvolumeclaims", "persistentvolumes"),
		rule("get").groups("").resources("endpoints"),
		rule("create", "get", "list", "watch").groups("certificates.k8s.io").resources("certificatesigningrequests"),
		rule("get", "create", "update", "patch", "delete").groups("coordination.k8s.io").resources("leases"),
		rule("get").groups("storage.k8s.io").resources("volumeattachments"),
		rule("create").groups("").resources("serviceaccounts/token"),
		rule("get", "update", "patch").groups("").resources("persistentvolumeclaims/status"),
		rule(read...).groups("storage.k8s.io").resources("csidrivers"),
		rule("get", "create", "update", "patch", "delete").groups("storage.k8s.io").resources("csinodes"),
		rule(read...).groups("node.k8s.io").resources("runtimeclasses"),
		rule("get").groups("resource.k8s.io").resources("resourceclaims"),
		rule("deletecollection").groups("resource.k8s.io").resources("resourceslices"),
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
		clusterRole("cluster-admin", rules(
			rule("*").groups("*").resources("*"),
			rule("*").urls("*"),
		)),
		aggregatedRole("admin", AggregateToAdmin),
		aggregatedRole("edit", AggregateToEdit, AggregateToAdmin),
		aggregatedRole("view", AggregateToView, AggregateToEdit),
		clusterRole("system:aggregate-to-admin", rules(
			rule("create").groups("authorization.k8s.io").resources("localsubjectaccessreviews"),
			rule(readWrite...).groups("rbac.authorization.k8s.io").resources("roles", "rolebindings"),
		), AggregateToAdmin),
		clusterRole("system:aggregate-to-edit", rules(
			// Reading secrets and connecting to pods is the power to run as
			// any service account in the namespace, hence edit, not view.
			rule(read...).groups("").resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			rule("impersonate").groups("").resources("serviceaccounts"),
			rule(write...).groups("").resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			rule("create").groups("").resources("pods/eviction"),
			rule(write...).groups("").resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
			rule("create").groups("").resources("serviceaccounts/token"),
			rule(write...).groups("apps").resources("statefulsets", "statefulsets/scale", "daemonsets",
				"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"),
			rule(write...).groups("autoscaling").resources("horizontalpodautoscalers"),
			rule(write...).groups("batch").resources("jobs", "cronjobs"),
			rule(write...).groups("extensions").resources("daemonsets", "deployments", "deployments/scale", "deployments/rollback",
				"ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
			rule(write...).groups("policy").resources("poddisruptionbudgets"),
			rule(write...).groups("networking.k8s.io").resources("ingresses", "networkpolicies"),
			rule(readWrite...).groups("coordination.k8s.io").resources("leases"),
		), AggregateToEdit),
		clusterRole("system:aggregate-to-view", rules(
			rule(read...).groups("").resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			rule(read...).groups("").resources("limitranges", "resourcequotas", "bindings", "events",
				"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
			// Reading namespaces in a namespace means reading that one: a
			// hint of which namespaces one can use.
			rule(read...).groups("").resources("namespaces"),
			rule(read...).groups("discovery.k8s.io").resources("endpointslices"),
			rule(read...).groups("apps").resources("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
				"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
				"replicasets", "replicasets/status", "replicasets/scale"),
			rule(read...).groups("autoscaling").resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			rule(read...).groups("batch").resources("jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			rule(read...).groups("extensions").resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
				"deployments/status", "ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
				"replicationcontrollers/scale", "networkpolicies"),
			rule(read...).groups("policy").resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
			rule(read...).groups("networking.k8s.io").resources("ingresses", "ingresses/status", "networkpolicies"),
		), AggregateToView),
		clusterRole("system:discovery", rules(
			rule("get").urls("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
				"/readyz", "/version", "/version/"),
		)),
		clusterRole("system:basic-user", rules(
			rule("create").groups("authorization.k8s.io").resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule("create").groups("authentication.k8s.io").resources("selfsubjectreviews"),
		)),
		clusterRole("system:public-info-viewer", rules(
			rule("get").urls("/healthz", "/livez", "/readyz", "/version", "/version/"),
		)),
		clusterRole("system:auth-delegator", rules(
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
		)),
		clusterRole("system:monitoring", rules(
			rule("get").urls("/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"),
		)),
		clusterRole("system:service-account-issuer-discovery", rules(
			rule("get").urls("/.well-known/openid-configuration", "/.well-known/openid-configuration/",
				"/openid/v1/jwks", "/openid/v1/jwks/"),
		)),
		clusterRole("system:node", NodeRules()),
		clusterRole("system:node-bootstrapper", rules(
			rule("create", "get", "list", "watch").groups("certificates.k8s.io").resources("certificatesigningrequests"),
		)),
		clusterRole("system:node-proxier", rules(
			rule("list", "watch").groups("").resources("services", "endpoints"),
			rule(read...).groups("").resources("nodes"),
			eventsRule(),
			rule("list", "watch").groups("discovery.k8s.io").resources("endpointslices"),
		)),
		clusterRole("system:kubelet-api-admin", rules(
			rule(read...).groups("").resources("nodes"),
			rule("proxy").groups("").resources("nodes"),
			rule("*").groups("").resources("nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"),
		)),
		clusterRole("system:kube-dns", rules(
			rule("list", "watch").groups("").resources("endpoints", "services"),
		)),
		clusterRole("system:kube-scheduler", rules(
			eventsRule(),
			// Leader election.
			rule("create").groups("coordination.k8s.io").resources("leases"),
			rule("get", "list", "update", "watch").groups("coordination.k8s.io").resources("leases").names("kube-scheduler"),
			rule(readWrite...).groups("coordination.k8s.io").resources("leasecandidates"),
			rule(read...).groups("").resources("nodes"),
			rule("get", "list", "watch", "delete").groups("").resources("pods"),
			rule("create").groups("").resources("pods/binding", "bindings"),
			rule("patch", "update").groups("").resources("pods/status"),
			// What selects pods.
			rule(read...).groups("").resources("services", "replicationcontrollers"),
			rule(read...).groups("apps", "extensions").resources("replicasets"),
			rule(read...).groups("apps").resources("statefulsets"),
			// What pods use or what applies to them.
			rule(read...).groups("policy").resources("poddisruptionbudgets"),
			rule(read...).groups("").resources("persistentvolumeclaims", "persistentvolumes"),
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
			rule(read...).groups("storage.k8s.io").resources("csinodes"),
			rule(read...).groups("").resources("namespaces"),
			rule(read...).groups("storage.k8s.io").resources("csidrivers"),
			rule(read...).groups("storage.k8s.io").resources("csistoragecapacities"),
			rule(read...).groups("resource.k8s.io").resources("deviceclasses"),
			rule("get", "list", "watch", "update", "patch").groups("resource.k8s.io").resources("resourceclaims"),
			rule("get", "list", "watch", "update", "patch").groups("resource.k8s.io").resources("resourceclaims/status"),
			rule("get", "list", "watch", "update", "patch").groups("").resources("pods/finalizers"),
			rule(read...).groups("resource.k8s.io").resources("resourceslices"),
		)),
		clusterRole("system:volume-scheduler", rules(
			rule("get", "list", "watch", "update", "patch").groups("").resources("persistentvolumes"),
			rule(read...).groups("storage.k8s.io").resources("storageclasses"),
			rule("get", "list", "watch", "update", "patch").groups("").resources("persistentvolumeclaims"),
		)),
		clusterRole("system:kube-controller-manager", rules(
			eventsRule(),
			// Leader election.
			rule("create").groups("coordination.k8s.io").resources("leases"),
			rule("get", "update").groups("coordination.k8s.io").resources("leases").names("kube-controller-manager"),
			// Service accounts and tokens for the per-controller identities.
			rule("create").groups("").resources("secrets", "serviceaccounts"),
			rule("delete").groups("").resources("secrets"),
			rule("get").groups("").resources("namespaces", "configmaps", "secrets", "serviceaccounts"),
			rule("update").groups("").resources("secrets", "serviceaccounts"),
			rule("create").groups("authentication.k8s.io").resources("tokenreviews"),
			rule("create").groups("authorization.k8s.io").resources("subjectaccessreviews"),
			// Shared informers over everything.
			rule("list", "watch").groups("*").resources("*"),
			rule("create").groups("").resources("serviceaccounts/token"),
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
		c("clusterrole-aggregation-controller",
			// Writing any rules into a ClusterRole needs escalate.
			rule("escalate", "get", "list", "watch", "update", "patch").groups("rbac.authorization.k8s.io").resources("clusterroles"),
		),
		c("cronjob-controller",
			rule("get", "list", "watch", "update").groups("batch").resources("cronjobs"),
			rule("get", "list", "watch", "create", "update", "delete", "patch").groups("batch").resources("jobs"),
			rule("update").groups("batch").resources("cronjobs/status"),
			rule("update").groups("batch").resources("cronjobs/finalizers"),
			rule("list", "delete").groups("").resources("pods"),
			eventsRule(),
		),
		c("daemon-set-controller",
			rule(read...).groups("extensions", "apps").resources("daemonsets"),
			rule("update").groups("extensions", "apps").resources("daemonsets/status"),
			rule("update").groups("extensions", "apps").resources("daemonsets/finalizers"),
			rule("list", "watch").groups("").resources("nodes"),
			rule("list", "watch", "create", "delete", "patch").groups("").resources("pods"),
			rule("create").groups("").resources("pods/binding"),
			rule("get", "list", "watch", "create", "delete", "update", "patch").groups("apps").resources("controllerrevisions"),
			eventsRule(),
		),
		c("deployment-controller",
			rule("get", "list", "watch", "update").groups("extensions", "apps").resources("deployments"),
			rule("update").groups("extensions", "apps").resources("deployments/status"),
			rule("update").groups("extensions", "apps").resources("deployments/finalizers"),
			rule("get", "list", "watch", "create", "update", "patch", "delete").groups("apps", "extensions").resources("replicasets"),
			rule("get", "list", "watch", "update").groups("").resources("pods"),
			eventsRule(),
		),
		c("disruption-controller",
			rule(read...).groups("extensions", "apps").resources("deployments"),
			rule(read...).groups("apps", "extensions").resources("replicasets"),
			rule(read...).groups("").resources("replicationcontrollers"),
			rule(read...).groups("policy").resources("poddisruptionbudgets"),
			rule(read...).groups("apps").resources("statefulsets"),
			rule("update").groups("policy").resources("poddisruptionbudgets/status"),
			rule("get").groups("*").resources("*/scale"),
			eventsRule(),
		),
		c("endpoint-controller",
			rule(read...).groups("").resources("services", "pods"),
			rule("get", "list", "create", "update", "delete").groups("").resources("endpoints"),
			rule("create").groups("").resources("endpoints/restricted"),
			eventsRule(),
		),
		c("endpointslice-controller",
			rule(read...).groups("").resources("services", "pods", "nodes"),
			// Owner references with blockOwnerDeletion on the Service.
			rule("update").groups("").resources("services/finalizers"),
			rule("get", "list", "create", "update", "delete").groups("discovery.k8s.io").resources("endpointslices"),
			eventsRule(),
		),
		c("generic-garbage-collector",
			rule("get", "list", "watch", "patch", "update", "delete").groups("*").resources("*"),
			eventsRule(),
		),
		c("job-controller",
			rule("get", "list", "watch", "update", "patch").groups("batch").resources("jobs"),
			rule("update").groups("batch").resources("jobs/status"),
			rule("update").groups("batch").resources("jobs/finalizers"),
			rule("list", "watch", "create", "delete", "patch").groups("").resources("pods"),
			eventsRule(),
		),
		c("namespace-controller",
			rule("get", "list", "watch", "delete").groups("").resources("namespaces"),
			rule("update").groups("").resources("namespaces/finalize", "namespaces/status"),
			rule("get", "list", "delete", "deletecollection").groups("*").resources("*"),
		),
		c("node-controller",
			rule("get", "list", "update", "delete", "patch").groups("").resources("nodes"),
			rule("patch", "update").groups("").resources("nodes/status"),
			rule("update", "patch").groups("").resources("pods/status"),
			rule("list", "delete", "get").groups("").resources("pods"),
			eventsRule(),
		),
		c("pod-garbage-collector",
			rule("list", "watch", "delete").groups("").resources("pods"),
			rule("get", "list").groups("").resources("nodes"),
			rule("patch").groups("").resources("pods/status"),
		),
		c("replicaset-controller",
			rule("get", "list", "watch", "update").groups("apps", "extensions").resources("replicasets"),
			rule("update").groups("apps", "extensions").resources("replicasets/status"),
			rule("update").groups("apps", "extensions").resources("replicasets/finalizers"),
			rule("list", "watch", "patch", "create", "delete").groups("").resources("pods"),
			eventsRule(),
		),
		c("replication-controller",
			rule("get", "list", "watch", "update").groups("").resources("replicationcontrollers"),
			rule("update").groups("").resources("replicationcontrollers/status"),
			rule("update").groups("").resources("replicationcontrollers/finalizers"),
			rule("list", "watch", "patch", "create", "delete").groups("").resources("pods"),
			eventsRule(),
		),
		c("resourcequota-controller",
			// Quota may count anything, so it reads everything.
			rule("list", "watch").groups("*").resources("*"),
			rule("update").groups("").resources("resourcequotas/status"),
			eventsRule(),
		),
		c("root-ca-cert-publisher",
			rule("create", "update").groups("").resources("configmaps"),
			eventsRule(),
		),
		c("service-account-controller",
			rule("create").groups("").resources("serviceaccounts"),
			eventsRule(),
		),
		c("statefulset-controller",
			rule("list", "watch").groups("").resources("pods"),
			rule(read...).groups("apps").resources("statefulsets"),
			rule("update").groups("apps").resources("statefulsets/status"),
			rule("update").groups("apps").resources("statefulsets/finalizers"),
			rule("get", "create", "delete", "update", "patch").groups("").resources("pods"),
			rule("get", "create", "delete", "update", "patch", "list", "watch").groups("apps").resources("controllerrevisions"),
			rule("get", "create").groups("").resources("persistentvolumeclaims"),
			rule("update").groups("").resources("persistentvolumeclaims"),
			eventsRule(),
		),
		c("ttl-after-finished-controller",
			rule("get", "list", "watch", "delete").groups("batch").resources("jobs"),
			eventsRule(),
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
				rule("watch").groups("").resources("configmaps"),
				rule("get", "update").groups("").resources("configmaps").names("kube-controller-manager")),
			role("kube-system", "system::leader-locking-kube-scheduler",
				rule("watch").groups("").resources("configmaps"),
				rule("get", "update").groups("").resources("configmaps").names("kube-scheduler")),
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
				append(users(KubeControllerManagerUser), serviceAccount("kube-system", "kube-controller-manager"))...),
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
