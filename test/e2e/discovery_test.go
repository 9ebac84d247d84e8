package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// servedResources are the api-resources rows every Skiff server serves:
// name, shortnames, apiVersion, namespaced, kind.
var servedResources = [][5]string{
	{"configmaps", "cm", "v1", "true", "ConfigMap"},
	{"endpoints", "ep", "v1", "true", "Endpoints"},
	{"events", "ev", "v1", "true", "Event"},
	{"limitranges", "limits", "v1", "true", "LimitRange"},
	{"namespaces", "ns", "v1", "false", "Namespace"},
	{"nodes", "no", "v1", "false", "Node"},
	{"persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"},
	{"persistentvolumes", "pv", "v1", "false", "PersistentVolume"},
	{"pods", "po", "v1", "true", "Pod"},
	{"podtemplates", "", "v1", "true", "PodTemplate"},
	{"replicationcontrollers", "rc", "v1", "true", "ReplicationController"},
	{"resourcequotas", "quota", "v1", "true", "ResourceQuota"},
	{"secrets", "", "v1", "true", "Secret"},
	{"serviceaccounts", "sa", "v1", "true", "ServiceAccount"},
	{"services", "svc", "v1", "true", "Service"},
	{"controllerrevisions", "", "apps/v1", "true", "ControllerRevision"},
	{"daemonsets", "ds", "apps/v1", "true", "DaemonSet"},
	{"deployments", "deploy", "apps/v1", "true", "Deployment"},
	{"replicasets", "rs", "apps/v1", "true", "ReplicaSet"},
	{"statefulsets", "sts", "apps/v1", "true", "StatefulSet"},
	{"horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"},
	{"cronjobs", "cj", "batch/v1", "true", "CronJob"},
	{"jobs", "", "batch/v1", "true", "Job"},
	{"leases", "", "coordination.k8s.io/v1", "true", "Lease"},
	{"endpointslices", "", "discovery.k8s.io/v1", "true", "EndpointSlice"},
	{"events", "ev", "events.k8s.io/v1", "true", "Event"},
	{"ingressclasses", "", "networking.k8s.io/v1", "false", "IngressClass"},
	{"ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"},
	{"networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"},
	{"poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"},
	{"clusterrolebindings", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"},
	{"clusterroles", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"},
	{"rolebindings", "", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"},
	{"roles", "", "rbac.authorization.k8s.io/v1", "true", "Role"},
	{"priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"},
	{"storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"},
}

func checkAPIResources(t *testing.T, version string) {
	t.Helper()
	out := mustKubectl(t, version, "api-resources", "--no-headers=false")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	cols := columnStarts(lines[0])
	if got := strings.Join(columnNames(cols), "|"); got != "NAME|SHORTNAMES|APIVERSION|NAMESPACED|KIND" {
		t.Fatalf("api-resources header = %q", got)
	}
	rowsByKey := map[string][5]string{}
	for _, l := range lines[1:] {
		c := cellsOf(l, cols)
		row := [5]string{c["NAME"], c["SHORTNAMES"], c["APIVERSION"], c["NAMESPACED"], c["KIND"]}
		rowsByKey[row[0]+" "+row[2]] = row
	}
	for _, want := range servedResources {
		got, ok := rowsByKey[want[0]+" "+want[2]]
		if !ok {
			t.Errorf("api-resources lacks %s %s", want[0], want[2])
			continue
		}
		if got != want {
			t.Errorf("api-resources row = %q; want %q", got, want)
		}
	}
}

func TestAPIResources(t *testing.T) {
	t.Parallel()
	checkAPIResources(t, "")
	// A narrowed listing.
	out := mustKubectl(t, "", "api-resources", "--api-group=apps", "--namespaced=true", "-o", "name")
	want := "controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\n"
	if out != want {
		t.Errorf("api-resources --api-group=apps -o name:\n got %q\nwant %q", out, want)
	}
}

func TestAPIVersions(t *testing.T) {
	t.Parallel()
	out := mustKubectl(t, "", "api-versions")
	for _, gv := range []string{"v1", "apps/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1", "coordination.k8s.io/v1",
		"discovery.k8s.io/v1", "events.k8s.io/v1", "networking.k8s.io/v1", "policy/v1",
		"rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1"} {
		if !strings.Contains("\n"+out, "\n"+gv+"\n") {
			t.Errorf("api-versions lacks %s:\n%s", gv, out)
		}
	}
}

func checkExplain(t *testing.T, version string) {
	t.Helper()
	out := mustKubectl(t, version, "explain", "deployment.spec.strategy")
	for _, want := range []string{
		"KIND:       Deployment", "VERSION:    v1",
		"The deployment strategy to use to replace existing pods with new ones.",
		"rollingUpdate\t<RollingUpdateDeployment>", "type\t<string>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain deployment.spec.strategy lacks %q:\n%s", want, out)
		}
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	checkExplain(t, "")
	out := mustKubectl(t, "", "explain", "pods.spec.containers.image")
	if !strings.Contains(out, "FIELD: image <string>") || !strings.Contains(out, "Container image name.") {
		t.Errorf("explain pods.spec.containers.image:\n%s", out)
	}
	out = mustKubectl(t, "", "explain", "cronjobs", "--api-version=batch/v1")
	if !strings.Contains(out, "KIND:       CronJob") || !strings.Contains(out, "GROUP:      batch") {
		t.Errorf("explain cronjobs:\n%s", out)
	}
	r := kubectl(t, "", "explain", "deployment.spec.nosuchfield")
	if r.Code == 0 || !strings.Contains(r.Stderr, `field "nosuchfield" does not exist`) {
		t.Errorf("explain of a missing field: %s", r)
	}
}

func TestGetRaw(t *testing.T) {
	t.Parallel()
	var v struct{ Major, Minor, GitVersion, Platform string }
	if err := json.Unmarshal([]byte(mustKubectl(t, "", "get", "--raw", "/version")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Major != "1" || v.Minor == "" || !strings.HasPrefix(v.GitVersion, "v1."+v.Minor+".") || v.Platform == "" {
		t.Errorf("/version = %+v", v)
	}
	ready := mustKubectl(t, "", "get", "--raw", "/readyz?verbose")
	if !strings.HasPrefix(ready, "[+]ping ok\n") || !strings.Contains(ready, "[+]etcd ok\n") || !strings.HasSuffix(ready, "readyz check passed\n") {
		t.Errorf("/readyz?verbose:\n%s", ready)
	}
	if got := mustKubectl(t, "", "get", "--raw", "/livez"); got != "ok" {
		t.Errorf("/livez = %q; want ok", got)
	}
	ns := newNamespace(t)
	var list struct {
		Kind, APIVersion string
		Items            []struct{ Metadata struct{ Name string } }
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, "", "get", "--raw", "/api/v1/namespaces")), &list); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, it := range list.Items {
		names[it.Metadata.Name] = true
	}
	if list.Kind != "NamespaceList" || list.APIVersion != "v1" || !names["default"] || !names[ns] {
		t.Errorf("/api/v1/namespaces: kind %q apiVersion %q names %v; want NamespaceList v1 with default and %s", list.Kind, list.APIVersion, names, ns)
	}
}
