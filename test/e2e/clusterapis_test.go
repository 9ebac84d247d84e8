package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clusterKind is one of the cluster-infrastructure kinds driven through
// create, get -o wide and delete by kubectl.
type clusterKind struct {
	name     string // test name and object name
	resource string // what kubectl get takes
	ref      string // kubectl's name prefix: "runtimeclass.node.k8s.io"
	cluster  bool
	manifest string // %[1]s is the object name
	columns  []string
	cells    map[string]string
}

func clusterKinds(t *testing.T) []clusterKind {
	ca := selfSignedCA(t)
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(ca), "\n", "\n    ")
	return []clusterKind{
		{name: "runtimeclass", resource: "runtimeclasses", ref: "runtimeclass.node.k8s.io", cluster: true,
			manifest: "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: %[1]s}\nhandler: runsc\n",
			columns:  []string{"NAME", "HANDLER", "AGE"}, cells: map[string]string{"HANDLER": "runsc"}},
		{name: "csidriver", resource: "csidrivers", ref: "csidriver.storage.k8s.io", cluster: true,
			manifest: "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: %[1]s}\nspec: {volumeLifecycleModes: [Persistent, Ephemeral]}\n",
			columns:  []string{"NAME", "ATTACHREQUIRED", "PODINFOONMOUNT", "STORAGECAPACITY", "TOKENREQUESTS", "REQUIRESREPUBLISH", "MODES", "AGE"},
			cells:    map[string]string{"ATTACHREQUIRED": "true", "PODINFOONMOUNT": "false", "TOKENREQUESTS": "<unset>", "MODES": "Persistent,Ephemeral"}},
		{name: "csinode", resource: "csinodes", ref: "csinode.storage.k8s.io", cluster: true,
			manifest: "apiVersion: storage.k8s.io/v1\nkind: CSINode\nmetadata: {name: %[1]s}\nspec: {drivers: [{name: csi.example.com, nodeID: n1}]}\n",
			columns:  []string{"NAME", "DRIVERS", "AGE"}, cells: map[string]string{"DRIVERS": "1"}},
		{name: "csistoragecapacity", resource: "csistoragecapacities", ref: "csistoragecapacity.storage.k8s.io",
			manifest: "apiVersion: storage.k8s.io/v1\nkind: CSIStorageCapacity\nmetadata: {name: %[1]s}\nstorageClassName: fast\ncapacity: 10Gi\n",
			columns:  []string{"NAME", "STORAGECLASSNAME", "CAPACITY"}, cells: map[string]string{"STORAGECLASSNAME": "fast", "CAPACITY": "10Gi"}},
		{name: "volumeattachment", resource: "volumeattachments", ref: "volumeattachment.storage.k8s.io", cluster: true,
			manifest: "apiVersion: storage.k8s.io/v1\nkind: VolumeAttachment\nmetadata: {name: %[1]s}\nspec: {attacher: csi.example.com, nodeName: n1, source: {persistentVolumeName: pv1}}\n",
			columns:  []string{"NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"}, cells: map[string]string{"ATTACHER": "csi.example.com", "PV": "pv1", "NODE": "n1", "ATTACHED": "false"}},
		{name: "volumeattributesclass", resource: "vac", ref: "volumeattributesclass.storage.k8s.io", cluster: true,
			manifest: "apiVersion: storage.k8s.io/v1\nkind: VolumeAttributesClass\nmetadata: {name: %[1]s}\ndriverName: csi.example.com\nparameters: {iops: \"300\"}\n",
			columns:  []string{"NAME", "DRIVERNAME", "AGE"}, cells: map[string]string{"DRIVERNAME": "csi.example.com"}},
		{name: "deviceclass", resource: "deviceclasses", ref: "deviceclass.resource.k8s.io", cluster: true,
			manifest: "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: %[1]s}\nspec: {selectors: [{cel: {expression: 'device.driver == \"gpu.example.com\"'}}]}\n",
			columns:  []string{"NAME", "AGE"}},
		{name: "devicetaintrule", resource: "devicetaintrules", ref: "devicetaintrule.resource.k8s.io", cluster: true,
			manifest: "apiVersion: resource.k8s.io/v1\nkind: DeviceTaintRule\nmetadata: {name: %[1]s}\nspec: {deviceSelector: {driver: gpu.example.com}, taint: {key: example.com/broken, effect: NoSchedule}}\n",
			columns:  []string{"NAME", "KEY", "VALUE", "EFFECT", "TIMEADDED", "AGE"}, cells: map[string]string{"KEY": "example.com/broken", "EFFECT": "NoSchedule"}},
		{name: "resourceclaim", resource: "resourceclaims", ref: "resourceclaim.resource.k8s.io",
			manifest: "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: %[1]s}\nspec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: gpu.example.com}}]}}\n",
			columns:  []string{"NAME", "STATE", "AGE"}, cells: map[string]string{"STATE": "pending"}},
		{name: "resourceclaimtemplate", resource: "resourceclaimtemplates", ref: "resourceclaimtemplate.resource.k8s.io",
			manifest: "apiVersion: resource.k8s.io/v1\nkind: ResourceClaimTemplate\nmetadata: {name: %[1]s}\nspec: {spec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: gpu.example.com}}]}}}\n",
			columns:  []string{"NAME", "AGE"}},
		{name: "resourceslice", resource: "resourceslices", ref: "resourceslice.resource.k8s.io", cluster: true,
			manifest: "apiVersion: resource.k8s.io/v1\nkind: ResourceSlice\nmetadata: {name: %[1]s}\nspec: {driver: gpu.example.com, nodeName: n1, pool: {name: n1, resourceSliceCount: 1}, devices: [{name: gpu-0}]}\n",
			columns:  []string{"NAME", "NODE", "DRIVER", "POOL", "AGE"}, cells: map[string]string{"NODE": "n1", "DRIVER": "gpu.example.com", "POOL": "n1"}},
		{name: "flowschema", resource: "flowschemas", ref: "flowschema.flowcontrol.apiserver.k8s.io", cluster: true,
			manifest: "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: %[1]s}\nspec:\n  priorityLevelConfiguration: {name: workload-low}\n" +
				"  distinguisherMethod: {type: ByUser}\n  rules: [{subjects: [{kind: User, user: {name: alice}}], nonResourceRules: [{verbs: [get], nonResourceURLs: [/version]}]}]\n",
			columns: []string{"NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"},
			cells:   map[string]string{"PRIORITYLEVEL": "workload-low", "MATCHINGPRECEDENCE": "1000", "DISTINGUISHERMETHOD": "ByUser"}},
		{name: "prioritylevelconfiguration", resource: "prioritylevelconfigurations", ref: "prioritylevelconfiguration.flowcontrol.apiserver.k8s.io", cluster: true,
			manifest: "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nmetadata: {name: %[1]s}\nspec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {queues: 16}}}}\n",
			columns:  []string{"NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE", "QUEUELENGTHLIMIT", "AGE"},
			cells:    map[string]string{"TYPE": "Limited", "NOMINALCONCURRENCYSHARES": "30", "QUEUES": "16", "HANDSIZE": "8", "QUEUELENGTHLIMIT": "50"}},
		{name: "servicecidr", resource: "servicecidrs", ref: "servicecidr.networking.k8s.io", cluster: true,
			manifest: "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: %[1]s}\nspec: {cidrs: [10.99.0.0/24]}\n",
			columns:  []string{"NAME", "CIDRS", "AGE"}, cells: map[string]string{"CIDRS": "10.99.0.0/24"}},
		{name: "clustertrustbundle", resource: "clustertrustbundles", ref: "clustertrustbundle.certificates.k8s.io", cluster: true,
			manifest: "apiVersion: certificates.k8s.io/v1\nkind: ClusterTrustBundle\nmetadata: {name: %[1]s}\nspec:\n  trustBundle: |\n" + indented + "\n",
			columns:  []string{"NAME", "SIGNERNAME"}, cells: map[string]string{"SIGNERNAME": "<none>"}},
		{name: "storageversionmigration", resource: "storageversionmigrations", ref: "storageversionmigration.storagemigration.k8s.io", cluster: true,
			manifest: "apiVersion: storagemigration.k8s.io/v1\nkind: StorageVersionMigration\nmetadata: {name: %[1]s}\nspec: {resource: {group: apps, resource: deployments}}\n",
			columns:  []string{"NAME", "RESOURCE", "STATUS"}, cells: map[string]string{"RESOURCE": "deployments.apps", "STATUS": "Unknown"}},
	}
}

func selfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestClusterKinds creates, lists (checking upstream's columns) and
// deletes each kind with kubectl.
func TestClusterKinds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, k := range clusterKinds(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			name := k.name + "-1"
			if k.cluster {
				name = ns + "-" + k.name
			}
			nsArgs := []string{"-n", ns}
			if out := mustStdin(t, "", fmt.Sprintf(k.manifest, name), append([]string{"create"}, nsArgs...)...); out != k.ref+"/"+name+" created\n" {
				t.Fatalf("create: got %q", out)
			}
			table := mustKubectl(t, "", append([]string{"get", k.resource, name, "-o", "wide"}, nsArgs...)...)
			lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("get -o wide: want header and one row, got:\n%s", table)
			}
			cols := columnStarts(lines[0])
			if got := columnNames(cols); strings.Join(got, "|") != strings.Join(k.columns, "|") {
				t.Errorf("columns:\n got %q\nwant %q", got, k.columns)
			}
			row := cellsOf(lines[1], cols)
			if row["NAME"] != name {
				t.Errorf("NAME = %q; want %q", row["NAME"], name)
			}
			for col, want := range k.cells {
				if row[col] != want {
					t.Errorf("%s = %q; want %q\n%s", col, row[col], want, table)
				}
			}
			if out := mustKubectl(t, "", append([]string{"delete", k.resource, name}, nsArgs...)...); out != k.ref+` "`+name+`" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
		})
	}
}

// TestClusterKindsInvalid checks that kubectl shows upstream's field
// causes for invalid objects.
func TestClusterKindsInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ manifest, want string }{
		{"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: bad-rc}\nhandler: Run_SC\n", `"bad-rc" is invalid: handler: Invalid value: "Run_SC"`},
		{"apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: bad-cidr}\nspec: {cidrs: [10.1.0.0/16, 10.2.0.0/16]}\n", `spec.cidrs: Invalid value`},
		{"apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata: {name: not-an-ip}\nspec: {parentRef: {resource: services, name: x}}\n", `metadata.name: Invalid value: "not-an-ip"`},
		{"apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: catch-all}\nspec: {priorityLevelConfiguration: {name: catch-all}, matchingPrecedence: 10}\n", `spec of 'catch-all' must equal the fixed value`},
	} {
		r := kubectlWith(t, "", cmdOpts{stdin: tc.manifest}, "create", "-f", "-")
		if r.Code == 0 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("create:\n%s\nwant stderr containing %q", r, tc.want)
		}
	}
}

// TestClusterDefaultObjects checks what the server creates at start.
func TestClusterDefaultObjects(t *testing.T) {
	t.Parallel()
	fs := mustKubectl(t, "", "get", "flowschemas", "-o", "name")
	for _, name := range []string{"exempt", "catch-all", "probes", "system-leader-election", "system-node-high", "system-nodes",
		"kube-controller-manager", "kube-scheduler", "kube-system-service-accounts", "service-accounts", "global-default"} {
		if !strings.Contains(fs, "flowschema.flowcontrol.apiserver.k8s.io/"+name+"\n") {
			t.Errorf("flowschemas lack %s:\n%s", name, fs)
		}
	}
	// The Dangling condition, kept as upstream's APF controller keeps it.
	eventually(t, 30*time.Second, func() error {
		out := squeeze(mustKubectl(t, "", "get", "flowschemas", "exempt", "catch-all", "--no-headers"))
		if !strings.HasPrefix(out, "exempt exempt 1 <none> ") || !strings.HasSuffix(out, " False\n") || strings.Count(out, " False\n") != 2 {
			return errors.New("flowschemas:\n" + out)
		}
		return nil
	})
	dangling := "e2e-dangling-" + fmt.Sprint(time.Now().UnixNano())
	mustStdin(t, "", "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: "+dangling+"}\nspec:\n  priorityLevelConfiguration: {name: no-such-level}\n", "create")
	t.Cleanup(func() { kubectl(t, "", "delete", "flowschema", dangling) })
	eventually(t, 30*time.Second, func() error {
		out := mustKubectl(t, "", "get", "flowschema", dangling, "-o", `jsonpath={.status.conditions[?(@.type=="Dangling")].status}/{.status.conditions[?(@.type=="Dangling")].reason}`)
		if out != "True/NotFound" {
			return errors.New("dangling schema condition: " + out)
		}
		return nil
	})
	pl := mustKubectl(t, "", "get", "prioritylevelconfigurations", "exempt", "catch-all", "workload-low", "--no-headers")
	for _, want := range []string{"exempt Exempt <none> <none> <none> <none>", "catch-all Limited 5 <none> <none> <none>", "workload-low Limited 100 128 6 50"} {
		if !strings.Contains(squeeze(pl), want) {
			t.Errorf("prioritylevelconfigurations lack %q:\n%s", want, pl)
		}
	}
	cidr := mustKubectl(t, "", "get", "servicecidr", "kubernetes", "-o", `jsonpath={.spec.cidrs[0]} {.status.conditions[?(@.type=="Ready")].status}`)
	if !strings.HasSuffix(cidr, "/16 True") {
		t.Errorf("default ServiceCIDR = %q; want the service range and Ready True", cidr)
	}
	ip := mustKubectl(t, "", "get", "svc", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}")
	eventually(t, 30*time.Second, func() error {
		r := kubectl(t, "", "get", "ipaddresses", ip, "--no-headers")
		if r.Code != 0 || squeeze(strings.TrimSpace(r.Stdout)) != ip+" services/default/kubernetes" {
			return fmt.Errorf("ipaddress for the kubernetes service: %s", r)
		}
		return nil
	})
	cm := mustKubectl(t, "", "get", "configmap", "-n", "kube-system", "extension-apiserver-authentication", "-o", "jsonpath={.data.client-ca-file}")
	if !strings.HasPrefix(cm, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("extension-apiserver-authentication client-ca-file = %q", cm)
	}
	r := kubectl(t, "", "get", "componentstatuses")
	if r.Code != 0 || !strings.Contains(r.Stderr, "v1 ComponentStatus is deprecated in v1.19+") {
		t.Fatalf("get componentstatuses: %s", r)
	}
	for _, want := range []string{"NAME STATUS MESSAGE ERROR", "controller-manager Healthy ok", "etcd-0 Healthy ok", "scheduler Healthy ok"} {
		if !strings.Contains(squeeze(r.Stdout), want) {
			t.Errorf("componentstatuses lack %q:\n%s", want, r.Stdout)
		}
	}
}

// TestServiceAccountIssuerDiscovery reads the OIDC metadata and key set.
func TestServiceAccountIssuerDiscovery(t *testing.T) {
	t.Parallel()
	var meta struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	resp := doRaw(t, http.MethodGet, "/.well-known/openid-configuration", "", nil)
	if resp.code != http.StatusOK || json.Unmarshal(resp.body, &meta) != nil {
		t.Fatalf("openid-configuration: %d %s", resp.code, resp.body)
	}
	if meta.Issuer == "" || !strings.HasSuffix(meta.JWKSURI, "/openid/v1/jwks") || strings.Join(meta.Algs, ",") != "ES256" {
		t.Errorf("openid-configuration = %+v", meta)
	}
	var jwks struct {
		Keys []struct{ Kty, Kid, Alg, Use, Crv, X, Y string } `json:"keys"`
	}
	resp = doRaw(t, http.MethodGet, "/openid/v1/jwks", "", nil)
	if resp.code != http.StatusOK || json.Unmarshal(resp.body, &jwks) != nil || len(jwks.Keys) != 1 {
		t.Fatalf("jwks: %d %s", resp.code, resp.body)
	}
	if k := jwks.Keys[0]; k.Kty != "EC" || k.Alg != "ES256" || k.Use != "sig" || k.Kid == "" || k.X == "" || k.Y == "" {
		t.Errorf("jwks key = %+v", k)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("jwks Content-Type = %q", ct)
	}
}

// TestBindingsAndNamespaceVerbs posts a core/v1 Binding and checks that
// namespaces refuse deletecollection, as upstream.
func TestBindingsAndNamespaceVerbs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", "apiVersion: v1\nkind: Pod\nmetadata: {name: unbound}\nspec: {schedulerName: nobody, containers: [{name: c, image: busybox}]}\n", "create", "-n", ns)
	// kubectl's client-side check of a kind without a PATCH operation
	// lists CRDs, which Skiff does not serve yet: skip it.
	out := mustStdin(t, "", "apiVersion: v1\nkind: Binding\nmetadata: {name: unbound}\ntarget: {kind: Node, name: elsewhere}\n", "create", "--validate=false", "-n", ns)
	// The server answers a Status, as upstream's bindings do, which kubectl
	// names status/<unknown>.
	if !strings.HasSuffix(out, " created\n") {
		t.Errorf("create binding: got %q", out)
	}
	if got := mustKubectl(t, "", "get", "pod", "unbound", "-n", ns, "-o", "jsonpath={.spec.nodeName}"); got != "elsewhere" {
		t.Errorf("pod nodeName after binding = %q", got)
	}
	resp := doRaw(t, http.MethodDelete, "/api/v1/namespaces?labelSelector=e2e-none%3Dnone", "", nil)
	expectStatus(t, resp, http.StatusMethodNotAllowed, "MethodNotAllowed")
}

// TestResourceClaimPodUnschedulable checks that a pod claiming devices no
// driver publishes stays pending with upstream's reasons. Its pods select
// and tolerate a Node of their own, as TestSchedulingEvents does.
func TestResourceClaimPodUnschedulable(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", schedNodeYAML(ns+"-node", "dra-owner", ns), "create")
	t.Cleanup(func() { kubectl(t, "", "delete", "node", ns+"-node") })
	class := ns + "-gpu"
	mustStdin(t, "", "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: "+class+"}\n", "create")
	mustStdin(t, "", "apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: gpu}\nspec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: "+class+"}}]}}\n", "create", "-n", ns)
	pod := func(name, claim string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n  containers: [{name: c, image: busybox, resources: {claims: [{name: gpu}]}}]\n" +
			"  resourceClaims: [{name: gpu, resourceClaimName: " + claim + "}]\n" +
			"  nodeSelector: {dra-owner: " + ns + "}\n" +
			"  tolerations: [{key: dra-owner, operator: Exists}, {key: node.kubernetes.io/not-ready, operator: Exists}]\n"
	}
	mustStdin(t, "", pod("with-claim", "gpu"), "create", "-n", ns)
	mustStdin(t, "", pod("missing-claim", "nope"), "create", "-n", ns)
	for name, want := range map[string]string{
		"with-claim":    "1 cannot allocate all claims",
		"missing-claim": `resourceclaim.resource.k8s.io "nope" not found`,
	} {
		eventually(t, 30*time.Second, func() error {
			msg := mustKubectl(t, "", "get", "pod", name, "-n", ns, "-o", `jsonpath={.spec.nodeName}|{.status.conditions[?(@.type=="PodScheduled")].reason}|{.status.conditions[?(@.type=="PodScheduled")].message}`)
			if !strings.HasPrefix(msg, "|Unschedulable|") || !strings.Contains(msg, want) {
				return errors.New(name + ": " + msg)
			}
			return nil
		})
	}
}
