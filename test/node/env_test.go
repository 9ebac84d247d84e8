package node

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A container's environment as upstream builds it: literal values,
// configMap and secret keys, the downward API, resources, envFrom with
// prefixes, $(VAR) expansion, and the Docker-link variables of the
// namespace's Services; and the configuration error of a missing key.

// envOf parses `env` output into a map. Values here hold no newlines.
func envOf(out string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			env[name] = value
		}
	}
	return env
}

// serviceLinks is the variables upstream gives a pod for the Service
// with that prefix, cluster IP and ports (the first port is the
// default one; named ports get _SERVICE_PORT_NAME).
func serviceLinks(prefix, ip string, ports []corev1.ServicePort) map[string]string {
	env := map[string]string{
		prefix + "_SERVICE_HOST": ip,
		prefix + "_SERVICE_PORT": fmt.Sprint(ports[0].Port),
		prefix + "_PORT":         fmt.Sprintf("%s://%s:%d", strings.ToLower(string(ports[0].Protocol)), ip, ports[0].Port),
	}
	for _, p := range ports {
		if p.Name != "" {
			env[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = fmt.Sprint(p.Port)
		}
		proto := strings.ToLower(string(p.Protocol))
		base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		env[base] = fmt.Sprintf("%s://%s:%d", proto, ip, p.Port)
		env[base+"_PROTO"] = proto
		env[base+"_PORT"] = fmt.Sprint(p.Port)
		env[base+"_ADDR"] = ip
	}
	return env
}

// createServices creates, in ns, a ClusterIP Service "foo-web" with two
// named ports, "db" with one unnamed port and a headless "lookup", and
// returns the variables upstream derives from them (none from the
// headless one).
func createServices(t *testing.T, ns string) map[string]string {
	t.Helper()
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: foo-web, namespace: %[1]s}
spec:
  selector: {app: none}
  ports:
  - {name: http-alt, port: 80, targetPort: 8080}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: %[1]s}
spec:
  selector: {app: none}
  ports:
  - {port: 5432}
---
apiVersion: v1
kind: Service
metadata: {name: lookup, namespace: %[1]s}
spec:
  clusterIP: None
  selector: {app: none}
  ports:
  - {name: http, port: 80}
`, ns), "apply", "-f", "-")
	want := map[string]string{}
	for name, prefix := range map[string]string{"foo-web": "FOO_WEB", "db": "DB"} {
		svc, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range serviceLinks(prefix, svc.Spec.ClusterIP, svc.Spec.Ports) {
			want[k] = v
		}
	}
	return want
}

// apiServerLinks is the variables of default/kubernetes (the server
// creates it at start), which every pod gets whatever its
// enableServiceLinks.
func apiServerLinks(t *testing.T) map[string]string {
	t.Helper()
	svc, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(context.Background(), "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("default/kubernetes: %v", err)
	}
	return serviceLinks("KUBERNETES", svc.Spec.ClusterIP, svc.Spec.Ports)
}

func TestEnvSources(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	kubectl(t, "", "create", "configmap", "-n", ns, "cfg", "--from-literal=a=1", "--from-literal=b=2")
	kubectl(t, "", "create", "secret", "generic", "-n", ns, "sec", "--from-literal=password=s3cret")
	services := createServices(t, ns)
	pod := runToCompletion(t, ns, "env", `  restartPolicy: Never
  containers:
  - name: main
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c"]
    args: ["echo ARG=$(PLAIN)/$(FROM_SECRET); env"]
    resources:
      requests: {cpu: 250m, memory: 32Mi}
      limits: {memory: 64Mi}
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CM_
    - secretRef: {name: sec}
      prefix: SEC_
    env:
    - {name: PLAIN, value: hello}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: cfg, key: a}}
    - name: FROM_SECRET
      valueFrom: {secretKeyRef: {name: sec, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_UID
      valueFrom: {fieldRef: {fieldPath: metadata.uid}}
    - name: NODE_NAME
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - name: SA_NAME
      valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}
    - name: MEMORY_LIMIT
      valueFrom: {resourceFieldRef: {resource: limits.memory}}
    - name: CPU_REQUEST_MILLIS
      valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}
    - name: OTHER_MEMORY_LIMIT
      valueFrom: {resourceFieldRef: {containerName: other, resource: limits.memory}}
    - {name: EXPANDED, value: "$(PLAIN)-$(FROM_CM)-$(CM_b)-$(FOO_WEB_SERVICE_PORT)"}
    - {name: ESCAPED, value: "$$(PLAIN)"}
    - {name: UNKNOWN, value: "$(NOT_DEFINED)"}
    - {name: FORWARD, value: "$(DEFINED_LATER)"}
    - {name: DEFINED_LATER, value: later}
    - {name: CM_a, value: from-env}
  - name: other
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["true"]
`)
	node, err := client.CoreV1().Nodes().Get(context.Background(), nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := containerLog(t, ns, "env", "main")
	env := envOf(out)
	want := map[string]string{
		"ARG":         "hello/s3cret",
		"PLAIN":       "hello",
		"FROM_CM":     "1",
		"FROM_SECRET": "s3cret",
		// envFrom with a prefix; env entries override envFrom.
		"CM_a":         "from-env",
		"CM_b":         "2",
		"SEC_password": "s3cret",
		// The downward API.
		"POD_NAME":      "env",
		"POD_NAMESPACE": ns,
		"POD_UID":       string(pod.UID),
		"NODE_NAME":     nodeName,
		"POD_IP":        pod.Status.PodIP,
		"HOST_IP":       pod.Status.HostIP,
		"SA_NAME":       pod.Spec.ServiceAccountName,
		// Resources: the limit in bytes, the request in millicores, and
		// for a container without a memory limit the node's allocatable.
		"MEMORY_LIMIT":       "67108864",
		"CPU_REQUEST_MILLIS": "250",
		"OTHER_MEMORY_LIMIT": fmt.Sprint(node.Status.Allocatable.Memory().Value()),
		// Expansion sees earlier entries, envFrom and service variables;
		// $$ escapes; unknown and later names stay as written.
		"EXPANDED":      "hello-1-2-80",
		"ESCAPED":       "$(PLAIN)",
		"UNKNOWN":       "$(NOT_DEFINED)",
		"FORWARD":       "$(DEFINED_LATER)",
		"DEFINED_LATER": "later",
	}
	if pod.Status.PodIP == "" || pod.Spec.ServiceAccountName == "" {
		t.Errorf("pod status/spec lack podIP %q or serviceAccountName %q", pod.Status.PodIP, pod.Spec.ServiceAccountName)
	}
	for k, v := range services {
		want[k] = v
	}
	for k, v := range apiServerLinks(t) {
		want[k] = v
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (set: %v); want %q", k, got, ok, v)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "LOOKUP_") {
			t.Errorf("%s is set: a headless Service has no variables", k)
		}
	}
	if t.Failed() {
		t.Logf("environment:\n%s", out)
	}
	deletePod(t, ns, pod)
}

// TestEnvServiceLinksDisabled: enableServiceLinks: false drops the
// namespace's Services but keeps the API server's.
func TestEnvServiceLinksDisabled(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	services := createServices(t, ns)
	pod := runToCompletion(t, ns, "no-links", `  restartPolicy: Never
  enableServiceLinks: false
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["env"]
`)
	env := envOf(containerLog(t, ns, "no-links", "c"))
	for k := range services {
		if v, ok := env[k]; ok {
			t.Errorf("%s = %q; want unset with enableServiceLinks: false", k, v)
		}
	}
	for k, v := range apiServerLinks(t) {
		if env[k] != v {
			t.Errorf("%s = %q; want %q (the API server's variables stay)", k, env[k], v)
		}
	}
	deletePod(t, ns, pod)
}

// TestEnvMissingConfigMapKey: a missing key is a configuration error the
// container waits on, with upstream's message, until the key appears; an
// optional one leaves the variable out.
func TestEnvMissingConfigMapKey(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	kubectl(t, "", "create", "configmap", "-n", ns, "cfg", "--from-literal=present=yes")
	pod := applyPod(t, ns, "missing", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
    env:
    - name: V
      valueFrom: {configMapKeyRef: {name: cfg, key: absent}}
`)
	pod = waitPod(t, ns, "missing", "waiting with CreateContainerConfigError", func(p *corev1.Pod) bool {
		s := containerStatus(p, "c")
		return s != nil && s.State.Waiting != nil && s.State.Waiting.Reason == "CreateContainerConfigError"
	})
	want := fmt.Sprintf("couldn't find key absent in ConfigMap %s/cfg", ns)
	if got := containerStatus(pod, "c").State.Waiting.Message; got != want {
		t.Errorf("waiting message = %q; want %q", got, want)
	}
	if pod.Status.Phase != corev1.PodPending || condition(pod, corev1.PodReady) != corev1.ConditionFalse {
		t.Errorf("phase %s, Ready %s; want Pending, False", pod.Status.Phase, condition(pod, corev1.PodReady))
	}
	// The kubelet retries: once the key exists the container runs.
	kubectl(t, "", "patch", "configmap", "-n", ns, "cfg", "--type=merge", "-p", `{"data":{"absent":"now-present"}}`)
	waitPod(t, ns, "missing", "Running", running)
	if got := kubectl(t, "", "exec", "-n", ns, "missing", "--", "sh", "-c", `echo "$V"`); strings.TrimSpace(got) != "now-present" {
		t.Errorf("V = %q; want now-present", got)
	}
	deletePod(t, ns, pod)

	pod = runToCompletion(t, ns, "optional", `  restartPolicy: Never
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["env"]
    env:
    - name: MISSING_KEY
      valueFrom: {configMapKeyRef: {name: cfg, key: nope, optional: true}}
    - name: MISSING_CONFIGMAP
      valueFrom: {configMapKeyRef: {name: no-such-configmap, key: k, optional: true}}
    - name: MISSING_SECRET
      valueFrom: {secretKeyRef: {name: no-such-secret, key: k, optional: true}}
    - name: PRESENT
      valueFrom: {configMapKeyRef: {name: cfg, key: present, optional: true}}
`)
	env := envOf(containerLog(t, ns, "optional", "c"))
	for _, k := range []string{"MISSING_KEY", "MISSING_CONFIGMAP", "MISSING_SECRET"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s = %q; want unset (optional source missing)", k, v)
		}
	}
	if env["PRESENT"] != "yes" {
		t.Errorf("PRESENT = %q; want yes", env["PRESENT"])
	}
	deletePod(t, ns, pod)
}
