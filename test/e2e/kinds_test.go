package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
)

// kindCase is one kind driven through create/get/describe/label/annotate/
// delete by kubectl.
type kindCase struct {
	name     string // test name and object name prefix
	resource string // what kubectl get takes: "cm", "deployments.apps", ...
	ref      string // the object's kubectl name prefix: "configmap", "deployment.apps"
	cluster  bool   // cluster-scoped
	manifest string // YAML; %[1]s is the object name
	// columns is the `get -o wide` header; cells the object's row
	// (checked cell by cell where non-empty, AGE and other clocks left out).
	columns []string
	cells   map[string]string
	// checkRow checks cells whose values the server picks (allocations).
	checkRow func(t *testing.T, row map[string]string)
	// jsonpath is a query and its expected output.
	jsonpath, jsonpathWant string
	// describe lines expected in `kubectl describe` (after the Name line).
	describe []string
}

var kindCases = []kindCase{
	{
		name: "configmap", resource: "configmaps", ref: "configmap",
		manifest: `apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s}
data: {a: "1", b: "2"}
`,
		columns:  []string{"NAME", "DATA", "AGE"},
		cells:    map[string]string{"DATA": "2"},
		jsonpath: "{.data.b}", jsonpathWant: "2",
		describe: []string{"Data\n====", "a:\n----\n1"},
	},
	{
		name: "secret", resource: "secrets", ref: "secret",
		manifest: `apiVersion: v1
kind: Secret
metadata: {name: %[1]s}
stringData: {user: admin}
data: {pass: c2VjcmV0}
`,
		columns:  []string{"NAME", "TYPE", "DATA", "AGE"},
		cells:    map[string]string{"TYPE": "Opaque", "DATA": "2"},
		jsonpath: "{.data.user}", jsonpathWant: "YWRtaW4=",
		describe: []string{"Type:  Opaque", "user:  5 bytes", "pass:  6 bytes"},
	},
	{
		name: "service", resource: "svc", ref: "service",
		manifest: `apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`,
		columns:  []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"},
		cells:    map[string]string{"TYPE": "NodePort", "EXTERNAL-IP": "<none>", "SELECTOR": "app=web"},
		checkRow: checkNodePortRow,
		jsonpath: "{.spec.ports[0].targetPort}", jsonpathWant: "8080",
		describe: []string{"Type:                     NodePort", "TargetPort:               8080/TCP", "Session Affinity:         None"},
	},
	{
		name: "pod", resource: "po", ref: "pod",
		manifest: `apiVersion: v1
kind: Pod
metadata: {name: %[1]s, labels: {app: p}}
spec:
  containers: [{name: c, image: "busybox:1.36"}]
`,
		columns:  []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
		cells:    map[string]string{"READY": "0/1", "STATUS": "Pending", "RESTARTS": "0", "IP": "<none>", "NODE": "<none>"},
		jsonpath: "{.status.qosClass}/{.spec.containers[0].imagePullPolicy}", jsonpathWant: "BestEffort/IfNotPresent",
		describe: []string{"Status:           Pending", "    Image:        busybox:1.36", "QoS Class:                   BestEffort"},
	},
	{
		name: "serviceaccount", resource: "sa", ref: "serviceaccount",
		manifest: `apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s}
`,
		columns:  []string{"NAME", "SECRETS", "AGE"},
		cells:    map[string]string{"SECRETS": "0"},
		jsonpath: "{.kind}", jsonpathWant: "ServiceAccount",
		describe: []string{"Mountable secrets:   <none>"},
	},
	{
		name: "deployment", resource: "deploy", ref: "deployment.apps",
		manifest: `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: "nginx:1.25"}]}
`,
		columns:  []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
		cells:    map[string]string{"READY": "0/2", "CONTAINERS": "c", "IMAGES": "nginx:1.25", "SELECTOR": "app=d"},
		jsonpath: "{.spec.strategy.type} {.spec.revisionHistoryLimit}", jsonpathWant: "RollingUpdate 10",
		describe: []string{"Replicas:               2 desired | ", "StrategyType:           RollingUpdate"},
	},
	{
		name: "statefulset", resource: "sts", ref: "statefulset.apps",
		manifest: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %[1]s}
spec:
  replicas: 3
  serviceName: web
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec: {containers: [{name: c, image: "busybox:1.36"}]}
`,
		columns:  []string{"NAME", "READY", "AGE", "CONTAINERS", "IMAGES"},
		cells:    map[string]string{"READY": "0/3", "CONTAINERS": "c", "IMAGES": "busybox:1.36"},
		jsonpath: "{.spec.podManagementPolicy} {.spec.updateStrategy.type}", jsonpathWant: "OrderedReady RollingUpdate",
		describe: []string{"Replicas:           3 desired | ", "Update Strategy:    RollingUpdate"},
	},
	{
		name: "daemonset", resource: "ds", ref: "daemonset.apps",
		manifest: `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: %[1]s}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: c, image: "busybox:1.36"}]
`,
		columns: []string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
		cells: map[string]string{"DESIRED": "0", "CURRENT": "0", "READY": "0", "NODE SELECTOR": "disk=ssd",
			"CONTAINERS": "c", "IMAGES": "busybox:1.36", "SELECTOR": "app=ds"},
		jsonpath: "{.spec.updateStrategy.rollingUpdate.maxUnavailable}", jsonpathWant: "1",
		describe: []string{"Node-Selector:  disk=ssd"},
	},
	{
		name: "job", resource: "jobs", ref: "job.batch",
		manifest: `apiVersion: batch/v1
kind: Job
metadata: {name: %[1]s}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:1.36"}]
`,
		columns:  []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
		cells:    map[string]string{"COMPLETIONS": "0/1", "CONTAINERS": "c", "IMAGES": "busybox:1.36"},
		jsonpath: "{.spec.backoffLimit} {.spec.completionMode} {.spec.template.metadata.labels.batch\\.kubernetes\\.io/job-name}",
		describe: []string{"Parallelism:      1", "Completions:      1"},
	},
	{
		name: "cronjob", resource: "cj", ref: "cronjob.batch",
		manifest: `apiVersion: batch/v1
kind: CronJob
metadata: {name: %[1]s}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: "busybox:1.36"}]
`,
		columns:  []string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"},
		cells:    map[string]string{"SCHEDULE": "*/5 * * * *", "TIMEZONE": "<none>", "SUSPEND": "False", "ACTIVE": "0", "LAST SCHEDULE": "<none>"},
		jsonpath: "{.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit}", jsonpathWant: "Allow 3",
		describe: []string{"Schedule:                      */5 * * * *", "Concurrency Policy:            Allow"},
	},
	{
		name: "ingress", resource: "ing", ref: "ingress.networking.k8s.io",
		manifest: `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %[1]s}
spec:
  rules:
  - host: foo.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`,
		columns:  []string{"NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"},
		cells:    map[string]string{"CLASS": "<none>", "HOSTS": "foo.example.com", "PORTS": "80"},
		jsonpath: "{.spec.rules[0].http.paths[0].backend.service.name}", jsonpathWant: "web",
		describe: []string{"foo.example.com", "/   web:80 (<error: services \"web\" not found>)"},
	},
	{
		name: "networkpolicy", resource: "netpol", ref: "networkpolicy.networking.k8s.io",
		manifest: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: %[1]s}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 80}]}]
`,
		columns:  []string{"NAME", "POD-SELECTOR", "AGE"},
		cells:    map[string]string{"POD-SELECTOR": "app=web"},
		jsonpath: "{.spec.policyTypes} {.spec.ingress[0].ports[0].protocol}", jsonpathWant: `["Ingress"] TCP`,
		describe: []string{"PodSelector:     app=web"},
	},
	{
		name: "pdb", resource: "pdb", ref: "poddisruptionbudget.policy",
		manifest: `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: %[1]s}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
`,
		columns:  []string{"NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"},
		cells:    map[string]string{"MIN AVAILABLE": "1", "MAX UNAVAILABLE": "N/A", "ALLOWED DISRUPTIONS": "0"},
		jsonpath: "{.spec.minAvailable}", jsonpathWant: "1",
		describe: []string{"Min available:  1", "Selector:       app=web"},
	},
	{
		name: "role", resource: "roles", ref: "role.rbac.authorization.k8s.io",
		manifest: `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[1]s}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
`,
		columns:  []string{"NAME", "CREATED AT"},
		jsonpath: "{.rules[0].verbs}", jsonpathWant: `["get","list"]`,
		describe: []string{"pods       []                 []              [get list]"},
	},
	{
		name: "rolebinding", resource: "rolebindings", ref: "rolebinding.rbac.authorization.k8s.io",
		manifest: `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: robot}
`,
		columns:  []string{"NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"},
		cells:    map[string]string{"ROLE": "Role/reader", "USERS": "alice"},
		jsonpath: "{.subjects[1].name}", jsonpathWant: "robot",
		describe: []string{"  Kind:  Role\n  Name:  reader", "User            alice"},
	},
	{
		name: "priorityclass", resource: "pc", ref: "priorityclass.scheduling.k8s.io", cluster: true,
		manifest: `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: %[1]s}
value: 1000
description: for tests
`,
		columns:  []string{"NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"},
		cells:    map[string]string{"VALUE": "1000", "GLOBAL-DEFAULT": "false", "PREEMPTIONPOLICY": "PreemptLowerPriority"},
		jsonpath: "{.description}", jsonpathWant: "for tests",
		describe: []string{"Value:              1000", "Description:        for tests"},
	},
	{
		name: "storageclass", resource: "sc", ref: "storageclass.storage.k8s.io", cluster: true,
		manifest: `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: %[1]s}
provisioner: example.com/x
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
`,
		columns: []string{"NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"},
		cells: map[string]string{"PROVISIONER": "example.com/x", "RECLAIMPOLICY": "Delete",
			"VOLUMEBINDINGMODE": "WaitForFirstConsumer", "ALLOWVOLUMEEXPANSION": "true"},
		jsonpath: "{.reclaimPolicy}", jsonpathWant: "Delete",
		describe: []string{"Provisioner:           example.com/x", "VolumeBindingMode:     WaitForFirstConsumer"},
	},
	{
		name: "lease", resource: "leases", ref: "lease.coordination.k8s.io",
		manifest: `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: %[1]s}
spec: {holderIdentity: node-a, leaseDurationSeconds: 40}
`,
		columns:  []string{"NAME", "HOLDER", "AGE"},
		cells:    map[string]string{"HOLDER": "node-a"},
		jsonpath: "{.spec.leaseDurationSeconds}", jsonpathWant: "40",
		describe: []string{"Holder Identity:         node-a"},
	},
	{
		name: "endpointslice", resource: "endpointslices", ref: "endpointslice.discovery.k8s.io",
		manifest: `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.1.2.3]}, {addresses: [10.1.2.4]}]
`,
		columns:  []string{"NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"},
		cells:    map[string]string{"ADDRESSTYPE": "IPv4", "PORTS": "8080", "ENDPOINTS": "10.1.2.3,10.1.2.4"},
		jsonpath: "{.ports[0].protocol}", jsonpathWant: "TCP",
		describe: []string{"AddressType:  IPv4", "  - Addresses:  10.1.2.3"},
	},
	{
		name: "hpa-v2", resource: "hpa", ref: "horizontalpodautoscaler.autoscaling",
		manifest: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: %[1]s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]
`,
		columns:  []string{"NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"},
		cells:    map[string]string{"REFERENCE": "Deployment/web", "TARGETS": "cpu: <unknown>/60%", "MINPODS": "1", "MAXPODS": "5", "REPLICAS": "0"},
		jsonpath: "{.spec.minReplicas} {.spec.behavior}", jsonpathWant: "1 ",
		describe: []string{"Reference:                                             Deployment/web", "Min replicas:                                          1"},
	},
	{
		name: "hpa-v1", resource: "horizontalpodautoscalers.v1.autoscaling", ref: "horizontalpodautoscaler.autoscaling",
		manifest: `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: %[1]s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  targetCPUUtilizationPercentage: 70
`,
		columns:  []string{"NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"},
		cells:    map[string]string{"REFERENCE": "Deployment/web", "TARGETS": "cpu: <unknown>/70%", "MINPODS": "2", "MAXPODS": "4"},
		jsonpath: "{.apiVersion} {.spec.targetCPUUtilizationPercentage}", jsonpathWant: "autoscaling/v1 70",
		describe: []string{"Max replicas:                                          4"},
	},
	{
		name: "event", resource: "events.events.k8s.io", ref: "event.events.k8s.io",
		manifest: `apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: %[1]s}
eventTime: "2024-01-01T00:00:00.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Sync
reason: Synced
type: Normal
note: hello
regarding: {kind: Pod, name: p1}
`,
		columns:  []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"},
		cells:    map[string]string{"TYPE": "Normal", "REASON": "Synced", "OBJECT": "pod/p1", "MESSAGE": "hello", "SOURCE": "example.com/ctl, ctl-1"},
		jsonpath: "{.note} {.action}", jsonpathWant: "hello Sync",
	},
}

// TestKinds drives each kind through kubectl create/get/describe/label/
// annotate/delete.
func TestKinds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, kc := range kindCases {
		t.Run(kc.name, func(t *testing.T) {
			t.Parallel()
			name := kc.name + "-1"
			if kc.cluster {
				name = ns + "-" + kc.name
			}
			nsArgs := []string{"-n", ns}
			manifest := fmt.Sprintf(kc.manifest, name)
			get := func(args ...string) string {
				t.Helper()
				return mustKubectl(t, "", append(append([]string{"get", kc.resource, name}, nsArgs...), args...)...)
			}

			// create -f
			out := mustStdin(t, "", manifest, append([]string{"create"}, nsArgs...)...)
			if want := kc.ref + "/" + name + " created\n"; out != want {
				t.Fatalf("create: got %q; want %q", out, want)
			}

			// get -o name
			if out := get("-o", "name"); out != kc.ref+"/"+name+"\n" {
				t.Errorf("get -o name: got %q; want %q", out, kc.ref+"/"+name)
			}

			// get -o wide: header and the object's row
			table := get("-o", "wide")
			lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("get -o wide: want header and one row, got:\n%s", table)
			}
			cols := columnStarts(lines[0])
			if got := columnNames(cols); strings.Join(got, "|") != strings.Join(kc.columns, "|") {
				t.Errorf("get -o wide columns:\n got %q\nwant %q", got, kc.columns)
			}
			row := cellsOf(lines[1], cols)
			if row["NAME"] != name {
				t.Errorf("row NAME = %q; want %q\n%s", row["NAME"], name, table)
			}
			if kc.checkRow != nil {
				kc.checkRow(t, row)
			}
			for col, want := range kc.cells {
				if row[col] != want {
					t.Errorf("column %s = %q; want %q\n%s", col, row[col], want, table)
				}
			}

			// get -o json and -o yaml
			var obj struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name, Namespace, UID, ResourceVersion string
				} `json:"metadata"`
			}
			if err := json.Unmarshal([]byte(get("-o", "json")), &obj); err != nil {
				t.Fatalf("get -o json: %v", err)
			}
			wantNS := ns
			if kc.cluster {
				wantNS = ""
			}
			if obj.Metadata.Name != name || obj.Metadata.Namespace != wantNS || obj.Metadata.UID == "" || obj.Metadata.ResourceVersion == "" {
				t.Errorf("get -o json metadata = %+v; want name %q namespace %q and a uid and resourceVersion", obj.Metadata, name, wantNS)
			}
			yml := get("-o", "yaml")
			if !strings.Contains(yml, "\n  name: "+name+"\n") || !strings.Contains(yml, "kind: "+obj.Kind+"\n") ||
				!strings.Contains(yml, "  uid: "+obj.Metadata.UID+"\n") {
				t.Errorf("get -o yaml lacks name/kind/uid:\n%s", yml)
			}

			// jsonpath
			if kc.name == "job" {
				kc.jsonpathWant = "6 NonIndexed " + name
			}
			if got := get("-o", "jsonpath="+kc.jsonpath); got != kc.jsonpathWant {
				t.Errorf("jsonpath %s = %q; want %q", kc.jsonpath, got, kc.jsonpathWant)
			}

			// describe
			desc := mustKubectl(t, "", append([]string{"describe", kc.resource, name}, nsArgs...)...)
			if !strings.HasPrefix(desc, "Name:") || !strings.Contains(strings.SplitN(desc, "\n", 2)[0], name) {
				t.Errorf("describe: first line is not Name: %s\n%s", name, desc)
			}
			for _, want := range kc.describe {
				if !strings.Contains(squeeze(desc), squeeze(want)) {
					t.Errorf("describe lacks %q:\n%s", want, desc)
				}
			}

			// label and annotate
			if out := mustKubectl(t, "", append([]string{"label", kc.resource, name, "tier=e2e"}, nsArgs...)...); out != kc.ref+"/"+name+" labeled\n" {
				t.Errorf("label: got %q", out)
			}
			if out := mustKubectl(t, "", append([]string{"annotate", kc.resource, name, "note=hi there"}, nsArgs...)...); out != kc.ref+"/"+name+" annotated\n" {
				t.Errorf("annotate: got %q", out)
			}
			if got := get("-o", `jsonpath={.metadata.labels.tier}|{.metadata.annotations.note}`); got != "e2e|hi there" {
				t.Errorf("after label/annotate: got %q; want %q", got, "e2e|hi there")
			}
			if out := mustKubectl(t, "", append([]string{"get", kc.resource, "-l", "tier=e2e", "-o", "name"}, nsArgs...)...); !strings.Contains(out, kc.ref+"/"+name+"\n") {
				t.Errorf("get -l tier=e2e: got %q", out)
			}

			// delete; then get is NotFound
			if out := mustKubectl(t, "", append([]string{"delete", kc.resource, name, "--wait=true"}, nsArgs...)...); out != kc.ref+` "`+name+`" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
			r := kubectl(t, "", append([]string{"get", kc.resource, name}, nsArgs...)...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "(NotFound)") || !strings.Contains(r.Stderr, `"`+name+`" not found`) {
				t.Errorf("get after delete: want NotFound, got %s", r)
			}
		})
	}
}

// column is a table column: its header and where it starts.
type column struct {
	name  string
	start int
}

// columnStarts finds the columns of a kubectl table header; kubectl pads
// columns with at least three spaces, so a single space is part of a name
// ("NOMINATED NODE").
func columnStarts(header string) []column {
	var cols []column
	i := 0
	for i < len(header) {
		for i < len(header) && header[i] == ' ' {
			i++
		}
		if i >= len(header) {
			break
		}
		start := i
		for i < len(header) && !strings.HasPrefix(header[i:], "  ") {
			i++
		}
		cols = append(cols, column{strings.TrimSpace(header[start:i]), start})
	}
	return cols
}

func columnNames(cols []column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// cellsOf cuts a table row at the header's column starts.
func cellsOf(line string, cols []column) map[string]string {
	cells := map[string]string{}
	for i, c := range cols {
		if c.start >= len(line) {
			cells[c.name] = ""
			continue
		}
		end := len(line)
		if i+1 < len(cols) && cols[i+1].start < end {
			end = cols[i+1].start
		}
		cells[c.name] = strings.TrimSpace(line[c.start:end])
	}
	return cells
}

var blanks = regexp.MustCompile(`[ \t]+`)

// squeeze collapses runs of blanks, so describe output is compared without
// depending on its column alignment.
func squeeze(s string) string { return blanks.ReplaceAllString(s, " ") }

// checkNodePortRow checks a NodePort service row: a cluster IP from the
// service range and a node port in 30000-32767 for port 80.
func checkNodePortRow(t *testing.T, row map[string]string) {
	t.Helper()
	if ip := net.ParseIP(row["CLUSTER-IP"]); ip == nil || ip.To4() == nil || !strings.HasPrefix(row["CLUSTER-IP"], "10.43.") {
		t.Errorf("CLUSTER-IP = %q; want an IPv4 address in 10.43.0.0/16", row["CLUSTER-IP"])
	}
	var port, nodePort int
	if n, err := fmt.Sscanf(row["PORT(S)"], "%d:%d/TCP", &port, &nodePort); n != 2 || err != nil ||
		port != 80 || nodePort < 30000 || nodePort > 32767 {
		t.Errorf("PORT(S) = %q; want 80:<30000-32767>/TCP", row["PORT(S)"])
	}
}
