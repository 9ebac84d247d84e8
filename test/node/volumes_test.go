package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/clientcmd"
)

// Volumes as upstream's kubelet sets them up: downward API, projected
// (with bound service account tokens), emptyDir on disk and in memory,
// and secret volumes, checked from inside the containers.

// createPod creates a pod bound to the test node, as applyPod does, with
// extra metadata lines (under `metadata:`, indented by two spaces). It
// uses `kubectl create`, so the pod carries no last-applied annotation.
func createPod(t *testing.T, ns, name, meta, spec string) *corev1.Pod {
	t.Helper()
	manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n%sspec:\n  nodeName: %s\n  terminationGracePeriodSeconds: 5\n%s", name, ns, meta, nodeName, spec)
	kubectl(t, manifest, "create", "-f", "-")
	pod, err := client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// execIn runs cmd in a container of the pod and returns its stdout.
func execIn(t *testing.T, ns, pod, container string, cmd ...string) string {
	t.Helper()
	return kubectl(t, "", append([]string{"-n", ns, "exec", pod, "-c", container, "--"}, cmd...)...)
}

// fileModes returns `stat -L -c %a` (the mode of the file a volume's
// symlink leads to) for each path, by path.
func fileModes(t *testing.T, ns, pod, container string, paths ...string) map[string]string {
	t.Helper()
	out := execIn(t, ns, pod, container, append([]string{"stat", "-L", "-c", "%n %a"}, paths...)...)
	modes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, mode, ok := strings.Cut(line, " "); ok {
			modes[name] = mode
		}
	}
	return modes
}

// checkFiles compares file contents read in the container with want.
func checkFiles(t *testing.T, ns, pod, container string, want map[string]string) {
	t.Helper()
	for path, content := range want {
		if got := execIn(t, ns, pod, container, "cat", path); got != content {
			t.Errorf("%s = %q; want %q", path, got, content)
		}
	}
}

// checkModes compares file modes (octal, as stat prints them) with want.
func checkModes(t *testing.T, ns, pod, container string, want map[string]string) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	got := fileModes(t, ns, pod, container, paths...)
	for p, mode := range want {
		if got[p] != mode {
			t.Errorf("mode of %s = %q; want %s", p, got[p], mode)
		}
	}
}

// podEvents lists the events about a pod.
func podEvents(ns, name string) ([]corev1.Event, error) {
	list, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String(),
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func TestDownwardAPIVolume(t *testing.T) {
	ns := newNamespace(t)
	// defaultMode 0600 (384), one item 0400 (256).
	pod := createPod(t, ns, "dapi", `  labels: {app: dapi, tier: one}
  annotations: {note: 'say "hi"', build: "7"}
`, `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    resources:
      limits: {cpu: 250m, memory: 64Mi}
      requests: {cpu: 100m, memory: 32Mi}
    volumeMounts: [{name: podinfo, mountPath: /etc/podinfo}]
  volumes:
  - name: podinfo
    downwardAPI:
      defaultMode: 384
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: namespace, fieldRef: {fieldPath: metadata.namespace}}
      - {path: uid, fieldRef: {fieldPath: metadata.uid}}
      - {path: limits/cpu, resourceFieldRef: {containerName: c, resource: limits.cpu, divisor: 1m}}
      - {path: limits/cpu-cores, resourceFieldRef: {containerName: c, resource: limits.cpu}}
      - {path: requests/memory, resourceFieldRef: {containerName: c, resource: requests.memory, divisor: 1Mi}, mode: 256}
`)
	waitPod(t, ns, "dapi", "running", running)

	// Upstream formats labels and annotations as sorted key="value" lines
	// (Go-quoted values) without a final newline; a CPU quantity in units
	// of the divisor is rounded up.
	checkFiles(t, ns, "dapi", "c", map[string]string{
		"/etc/podinfo/labels":           "app=\"dapi\"\ntier=\"one\"",
		"/etc/podinfo/annotations":      "build=\"7\"\nnote=\"say \\\"hi\\\"\"",
		"/etc/podinfo/name":             "dapi",
		"/etc/podinfo/namespace":        ns,
		"/etc/podinfo/uid":              string(pod.UID),
		"/etc/podinfo/limits/cpu":       "250",
		"/etc/podinfo/limits/cpu-cores": "1",
		"/etc/podinfo/requests/memory":  "32",
	})
	checkModes(t, ns, "dapi", "c", map[string]string{
		"/etc/podinfo/labels":          "600",
		"/etc/podinfo/uid":             "600",
		"/etc/podinfo/limits/cpu":      "600",
		"/etc/podinfo/requests/memory": "400",
	})
	// The atomic writer's layout: each top-level name links through ..data.
	if got := execIn(t, ns, "dapi", "c", "readlink", "/etc/podinfo/labels"); strings.TrimSpace(got) != "..data/labels" {
		t.Errorf("readlink labels = %q; want ..data/labels", got)
	}

	kubectl(t, "", "label", "pod", "-n", ns, "dapi", "tier=two", "--overwrite")
	poll(t, time.Minute, "label change in the downward API file", func() error {
		got, err := kubectlTry("-n", ns, "exec", "dapi", "--", "cat", "/etc/podinfo/labels")
		if err != nil {
			return err
		}
		if want := "app=\"dapi\"\ntier=\"two\""; got != want {
			return fmt.Errorf("labels = %q; want %q", got, want)
		}
		return nil
	})
	deletePod(t, ns, pod)
}

// jwtClaims decodes the payload of a JWT, without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: %d parts; want a JWT's 3", token, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("token payload %s: %v", payload, err)
	}
	return claims
}

// claim walks nested JSON objects: claim(c, "kubernetes.io", "pod", "name").
func claim(c map[string]any, keys ...string) any {
	var v any = c
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// waitServiceAccount waits for the namespace's ServiceAccount (the token
// controller creates "default" shortly after the namespace).
func waitServiceAccount(t *testing.T, ns, name string) {
	t.Helper()
	poll(t, 30*time.Second, "service account "+name, func() error {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err
	})
}

func TestProjectedVolume(t *testing.T) {
	ns := newNamespace(t)
	kubectl(t, "", "create", "configmap", "-n", ns, "cfg", "--from-literal=color=blue")
	kubectl(t, "", "create", "secret", "generic", "-n", ns, "sec", "--from-literal=password=s3cret")
	waitServiceAccount(t, ns, "default")
	// defaultMode 0440 (288), the secret item 0400 (256).
	pod := applyPod(t, ns, "proj", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts: [{name: all, mountPath: /projected}]
  volumes:
  - name: all
    projected:
      defaultMode: 288
      sources:
      - serviceAccountToken: {audience: skiff-e2e, expirationSeconds: 3600, path: token}
      - configMap: {name: cfg, items: [{key: color, path: config/color}]}
      - secret: {name: sec, items: [{key: password, path: secret/password, mode: 256}]}
      - downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}
`)
	waitPod(t, ns, "proj", "running", running)

	checkFiles(t, ns, "proj", "c", map[string]string{
		"/projected/config/color":    "blue",
		"/projected/secret/password": "s3cret",
		"/projected/podname":         "proj",
	})
	checkModes(t, ns, "proj", "c", map[string]string{
		"/projected/token":           "440",
		"/projected/config/color":    "440",
		"/projected/secret/password": "400",
		"/projected/podname":         "440",
	})

	claims := jwtClaims(t, execIn(t, ns, "proj", "c", "cat", "/projected/token"))
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "skiff-e2e" {
		t.Errorf("aud = %v; want [skiff-e2e]", claims["aud"])
	}
	if got := claim(claims, "kubernetes.io", "pod", "name"); got != "proj" {
		t.Errorf("kubernetes.io.pod.name = %v; want proj", got)
	}
	if got := claim(claims, "kubernetes.io", "pod", "uid"); got != string(pod.UID) {
		t.Errorf("kubernetes.io.pod.uid = %v; want %s", got, pod.UID)
	}
	if got := claim(claims, "kubernetes.io", "namespace"); got != ns {
		t.Errorf("kubernetes.io.namespace = %v; want %s", got, ns)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if life := exp - iat; life < 3595 || life > 3605 {
		t.Errorf("exp - iat = %v s (iat %v, exp %v); want about the requested 3600", life, iat, exp)
	}

	// The ServiceAccount admission plugin's kube-api-access-* volume.
	var apiAccess string
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
			apiAccess = v.Name
		}
	}
	if apiAccess == "" {
		t.Fatalf("pod volumes %+v: want a kube-api-access-* projected volume", pod.Spec.Volumes)
	}
	const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	if got := strings.Fields(execIn(t, ns, "proj", "c", "ls", saDir)); strings.Join(got, " ") != "ca.crt namespace token" {
		t.Errorf("ls %s = %v; want ca.crt namespace token", saDir, got)
	}
	if got := execIn(t, ns, "proj", "c", "cat", saDir+"/namespace"); got != ns {
		t.Errorf("namespace file = %q; want %q", got, ns)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var clusterCA []byte
	for _, c := range cfg.Clusters {
		clusterCA = c.CertificateAuthorityData
	}
	if got := execIn(t, ns, "proj", "c", "cat", saDir+"/ca.crt"); len(clusterCA) == 0 || !bytes.Equal(bytes.TrimSpace([]byte(got)), bytes.TrimSpace(clusterCA)) {
		t.Errorf("ca.crt = %q; want the cluster CA %q", got, clusterCA)
	}
	saClaims := jwtClaims(t, execIn(t, ns, "proj", "c", "cat", saDir+"/token"))
	if got := claim(saClaims, "kubernetes.io", "serviceaccount", "name"); got != "default" {
		t.Errorf("service account token: kubernetes.io.serviceaccount.name = %v; want default", got)
	}
	if got := claim(saClaims, "kubernetes.io", "pod", "uid"); got != string(pod.UID) {
		t.Errorf("service account token: kubernetes.io.pod.uid = %v; want %s", got, pod.UID)
	}
	deletePod(t, ns, pod)
}

// mountAt returns the /proc/mounts fields (source, target, type,
// options) of the mount at target, as the container sees it.
func mountAt(t *testing.T, ns, pod, container, target string) []string {
	t.Helper()
	var found []string
	for _, line := range strings.Split(execIn(t, ns, pod, container, "cat", "/proc/mounts"), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == target {
			found = f // the last mount at target is the visible one
		}
	}
	if found == nil {
		t.Fatalf("no mount at %s in container %s", target, container)
	}
	return found
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func TestEmptyDirMediumAndSharing(t *testing.T) {
	ns := newNamespace(t)
	// Every container has a memory limit, so the pod's is their sum
	// (96Mi): upstream sizes a memory emptyDir without a sizeLimit to it.
	pod := applyPod(t, ns, "shared", `  containers:
  - name: writer
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from-writer > /scratch/w && exec sleep 3600"]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: mem, mountPath: /mem}
    - {name: mem-unsized, mountPath: /mem-unsized}
  - name: reader
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "echo from-reader > /scratch/r && exec sleep 3600"]
    resources: {limits: {memory: 32Mi}}
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: scratch
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory, sizeLimit: 8Mi}
  - name: mem-unsized
    emptyDir: {medium: Memory}
`)
	waitPod(t, ns, "shared", "running", running)

	mem := mountAt(t, ns, "shared", "writer", "/mem")
	if mem[2] != "tmpfs" || !hasOption(mem[3], "size=8192k") {
		t.Errorf("/mem mount = %v; want tmpfs with size=8192k (the sizeLimit)", mem)
	}
	unsized := mountAt(t, ns, "shared", "writer", "/mem-unsized")
	if unsized[2] != "tmpfs" || !hasOption(unsized[3], "size=98304k") {
		t.Errorf("/mem-unsized mount = %v; want tmpfs with size=98304k (the pod's memory limit)", unsized)
	}
	if scratch := mountAt(t, ns, "shared", "writer", "/scratch"); scratch[2] == "tmpfs" {
		t.Errorf("/scratch mount = %v; want the node's disk, not tmpfs", scratch)
	}
	// A disk emptyDir is 0777; a tmpfs mounted without a mode keeps
	// tmpfs's 1777, as upstream mounts it.
	checkModes(t, ns, "shared", "writer", map[string]string{"/scratch": "777", "/mem": "1777"})

	// Both containers see each other's files.
	poll(t, 10*time.Second, "the reader's file", func() error {
		_, err := kubectlTry("-n", ns, "exec", "shared", "-c", "writer", "--", "test", "-f", "/scratch/r")
		return err
	})
	checkFiles(t, ns, "shared", "writer", map[string]string{"/scratch/r": "from-reader\n"})
	checkFiles(t, ns, "shared", "reader", map[string]string{"/scratch/w": "from-writer\n"})
	execIn(t, ns, "shared", "writer", "sh", "-c", "echo later > /scratch/later")
	checkFiles(t, ns, "shared", "reader", map[string]string{"/scratch/later": "later\n"})
	deletePod(t, ns, pod)
}

func TestSecretVolumeModes(t *testing.T) {
	ns := newNamespace(t)
	kubectl(t, "", "create", "secret", "generic", "-n", ns, "creds", "--from-literal=user=admin", "--from-literal=pass=hunter2")
	// defaultMode 0400 (256); an item 0600 (384).
	pod := applyPod(t, ns, "sec", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts:
    - {name: plain, mountPath: /plain}
    - {name: strict, mountPath: /strict}
    - {name: picked, mountPath: /picked}
  volumes:
  - name: plain
    secret: {secretName: creds}
  - name: strict
    secret: {secretName: creds, defaultMode: 256}
  - name: picked
    secret:
      secretName: creds
      items: [{key: pass, path: dir/password, mode: 384}]
`)
	waitPod(t, ns, "sec", "running", running)
	checkFiles(t, ns, "sec", "c", map[string]string{
		"/plain/user":          "admin",
		"/plain/pass":          "hunter2",
		"/strict/pass":         "hunter2",
		"/picked/dir/password": "hunter2",
	})
	checkModes(t, ns, "sec", "c", map[string]string{
		"/plain/user":          "644",
		"/plain/pass":          "644",
		"/strict/user":         "400",
		"/picked/dir/password": "600",
	})
	if got := strings.Fields(execIn(t, ns, "sec", "c", "ls", "/picked")); strings.Join(got, " ") != "dir" {
		t.Errorf("ls /picked = %v; want only the listed item's dir", got)
	}
	deletePod(t, ns, pod)
}

func TestSecretVolumeMissing(t *testing.T) {
	ns := newNamespace(t)
	spec := func(optional bool) string {
		return fmt.Sprintf(`  containers:
  - name: c
    image: %s
    imagePullPolicy: Never
    command: ["sleep", "3600"]
    volumeMounts: [{name: creds, mountPath: /creds}]
  volumes:
  - name: creds
    secret: {secretName: nope, optional: %v}
`, BusyboxImage, optional)
	}
	blocked := applyPod(t, ns, "blocked", spec(false))
	optional := applyPod(t, ns, "optional", spec(true))

	// The optional one starts with an empty directory.
	waitPod(t, ns, "optional", "running", running)
	if got := execIn(t, ns, "optional", "c", "ls", "/creds"); strings.TrimSpace(got) != "" {
		t.Errorf("ls /creds = %q; want empty", got)
	}

	// The other waits in ContainerCreating, with upstream's FailedMount
	// event.
	const want = `MountVolume.SetUp failed for volume "creds" : secret "nope" not found`
	poll(t, 30*time.Second, "FailedMount event", func() error {
		events, err := podEvents(ns, "blocked")
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range events {
			if e.Reason == "FailedMount" && e.Type == corev1.EventTypeWarning && e.Message == want {
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return fmt.Errorf("events %q", seen)
	})
	p, err := client.CoreV1().Pods(ns).Get(context.Background(), "blocked", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("blocked pod: want Pending with its container waiting in ContainerCreating:\n%s", describeStatus(p))
	}
	if sbs, cs := runtimeObjects(t, blocked.UID); len(cs) != 0 {
		t.Errorf("blocked pod: sandboxes %v, containers %v; want no container", sbs, cs)
	}
	deletePod(t, ns, blocked)
	deletePod(t, ns, optional)
}
