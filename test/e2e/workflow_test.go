package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func deploymentYAML(name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {containers: [{name: c, image: "%[3]s"}]}
`, name, replicas, image)
}

func configMapYAML(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {key: %q}\n", name, value)
}

// writeFile writes content to a fresh file in the test's temp dir.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyClientSide(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for i, step := range []struct {
		replicas int
		want     string
	}{
		{2, "deployment.apps/web created\n"},
		{4, "deployment.apps/web configured\n"},
		{4, "deployment.apps/web unchanged\n"},
	} {
		f := writeFile(t, "d.yaml", deploymentYAML("web", step.replicas, "nginx:1.25"))
		if out := mustKubectl(t, "", "apply", "-n", ns, "-f", f); out != step.want {
			t.Errorf("apply #%d: got %q; want %q", i+1, out, step.want)
		}
		if got := mustKubectl(t, "", "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}"); got != fmt.Sprint(step.replicas) {
			t.Errorf("apply #%d: spec.replicas = %s; want %d", i+1, got, step.replicas)
		}
	}
	last := mustKubectl(t, "", "get", "deploy", "web", "-n", ns, "-o",
		`jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`)
	if !strings.Contains(last, `"replicas":4`) {
		t.Errorf("last-applied-configuration = %s; want replicas 4", last)
	}
	// generation counts the one spec change only.
	if got := mustKubectl(t, "", "get", "deploy", "web", "-n", ns, "-o", "jsonpath={.metadata.generation}"); got != "2" {
		t.Errorf("generation = %s; want 2", got)
	}
}

func TestApplyServerSideConflicts(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ssa := func(manager, value string, extra ...string) result {
		args := append([]string{"apply", "--server-side", "-n", ns, "--field-manager=" + manager}, extra...)
		return kubectlWith(t, "", cmdOpts{stdin: configMapYAML("cfg", value)}, append(args, "-f", "-")...)
	}
	if r := ssa("first", "one"); r.Code != 0 || r.Stdout != "configmap/cfg serverside-applied\n" {
		t.Fatalf("first server-side apply: %s", r)
	}
	r := ssa("other", "two")
	if r.Code == 0 || !strings.Contains(r.Stderr, "conflict") || !strings.Contains(r.Stderr, `conflict with "first"`) ||
		!strings.Contains(r.Stderr, ".data.key") {
		t.Errorf("conflicting apply: want a conflict with first on .data.key, got %s", r)
	}
	if got := mustKubectl(t, "", "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}"); got != "one" {
		t.Errorf("after conflict: data.key = %q; want unchanged %q", got, "one")
	}
	if r := ssa("other", "two", "--force-conflicts"); r.Code != 0 || r.Stdout != "configmap/cfg serverside-applied\n" {
		t.Fatalf("forced apply: %s", r)
	}
	got := mustKubectl(t, "", "get", "cm", "cfg", "-n", ns, "-o", `jsonpath={.data.key} {range .metadata.managedFields[*]}{.manager}:{.operation};{end}`)
	if got != "two other:Apply;" {
		t.Errorf("after forced apply: got %q; want %q (the field moved to manager other)", got, "two other:Apply;")
	}
}

func TestEdit(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", configMapYAML("cfg", "before"), "create", "-n", ns)
	r := kubectlWith(t, "", cmdOpts{env: []string{"EDITOR=sed -i s/before/after/", "KUBE_EDITOR="}},
		"edit", "cm", "cfg", "-n", ns)
	if r.Code != 0 || r.Stdout != "configmap/cfg edited\n" {
		t.Fatalf("edit: %s", r)
	}
	if got := mustKubectl(t, "", "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}"); got != "after" {
		t.Errorf("after edit: data.key = %q; want %q", got, "after")
	}
	// An edit that changes nothing is reported as such.
	r = kubectlWith(t, "", cmdOpts{env: []string{"EDITOR=true", "KUBE_EDITOR="}}, "edit", "cm", "cfg", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stderr, "Edit cancelled, no changes made.") {
		t.Errorf("no-op edit: %s", r)
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", deploymentYAML("web", 1, "nginx:1.25"), "create", "-n", ns)
	for _, tc := range []struct {
		name, typ, patch, query, want string
	}{
		{"strategic merges containers by name", "strategic",
			`{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1.36"}]}}}}`,
			`{range .spec.template.spec.containers[*]}{.name}={.image},{end}`, "side=busybox:1.36,c=nginx:1.25,"},
		{"merge replaces lists", "merge",
			`{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"redis:7"}]}}}}`,
			`{range .spec.template.spec.containers[*]}{.name}={.image},{end}`, "only=redis:7,"},
		{"json patch ops", "json",
			`[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/labels/extra","value":"yes"}]`,
			`{.spec.replicas} {.metadata.labels.extra}`, "3 yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustKubectl(t, "", "patch", "deploy", "web", "-n", ns, "--type", tc.typ, "-p", tc.patch)
			if out != "deployment.apps/web patched\n" {
				t.Errorf("patch: got %q", out)
			}
			if got := mustKubectl(t, "", "get", "deploy", "web", "-n", ns, "-o", "jsonpath="+tc.query); got != tc.want {
				t.Errorf("after patch: got %q; want %q", got, tc.want)
			}
		})
	}
	// A patch that changes nothing says so.
	out := mustKubectl(t, "", "patch", "deploy", "web", "-n", ns, "--type", "merge", "-p", `{"spec":{"replicas":3}}`)
	if out != "deployment.apps/web patched (no change)\n" {
		t.Errorf("no-op patch: got %q", out)
	}
	// A failing json patch test op changes nothing.
	r := kubectl(t, "", "patch", "deploy", "web", "-n", ns, "--type", "json", "-p", `[{"op":"test","path":"/spec/replicas","value":9}]`)
	if r.Code == 0 {
		t.Errorf("failing test op: want an error, got %s", r)
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", deploymentYAML("web", 1, "nginx:1.25"), "create", "-n", ns)
	mustStdin(t, "", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: "busybox:1.36"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: c, image: "busybox:1.36"}]}
`, "create", "-n", ns)
	for _, tc := range []struct{ kind, ref, path string }{
		{"deployment", "deployment.apps/web", "/apis/apps/v1/namespaces/%s/deployments/web/scale"},
		{"statefulset", "statefulset.apps/db", "/apis/apps/v1/namespaces/%s/statefulsets/db/scale"},
		{"replicaset", "replicaset.apps/rs", "/apis/apps/v1/namespaces/%s/replicasets/rs/scale"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if out := mustKubectl(t, "", "scale", tc.ref, "-n", ns, "--replicas=5"); out != tc.ref+" scaled\n" {
				t.Errorf("scale: got %q", out)
			}
			if got := mustKubectl(t, "", "get", tc.ref, "-n", ns, "-o", "jsonpath={.spec.replicas}"); got != "5" {
				t.Errorf("spec.replicas = %s; want 5", got)
			}
			var scale struct {
				Kind, APIVersion string
				Spec             struct{ Replicas int }
				Status           struct{ Selector string }
			}
			raw := mustKubectl(t, "", "get", "--raw", fmt.Sprintf(tc.path, ns))
			if err := json.Unmarshal([]byte(raw), &scale); err != nil {
				t.Fatalf("scale subresource: %v: %s", err, raw)
			}
			name := tc.ref[strings.Index(tc.ref, "/")+1:]
			if scale.Kind != "Scale" || scale.APIVersion != "autoscaling/v1" || scale.Spec.Replicas != 5 || scale.Status.Selector != "app="+name {
				t.Errorf("scale subresource = %+v; want autoscaling/v1 Scale, replicas 5, selector app=%s", scale, name)
			}
			// --current-replicas is a precondition.
			r := kubectl(t, "", "scale", tc.ref, "-n", ns, "--current-replicas=2", "--replicas=7")
			if r.Code == 0 || !strings.Contains(r.Stderr, "Expected replicas to be 2, was 5") {
				t.Errorf("scale with wrong --current-replicas: %s", r)
			}
		})
	}
}

func TestDeleteWithFinalizer(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustStdin(t, "", `apiVersion: v1
kind: ConfigMap
metadata: {name: held, finalizers: [example.com/hold]}
data: {a: b}
`, "create", "-n", ns)
	if out := mustKubectl(t, "", "delete", "cm", "held", "-n", ns, "--wait=false"); out != `configmap "held" deleted`+"\n" {
		t.Errorf("delete: got %q", out)
	}
	got := mustKubectl(t, "", "get", "cm", "held", "-n", ns, "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}")
	if !strings.HasPrefix(got, `["example.com/hold"] 20`) {
		t.Errorf("while finalizer held: got %q; want finalizers and a deletionTimestamp", got)
	}
	// While deleting, new finalizers cannot be added (as upstream), but
	// removing the last one lets the deletion finish.
	r := kubectl(t, "", "patch", "cm", "held", "-n", ns, "--type", "json",
		"-p", `[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]`)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no new finalizers can be added if the object is being deleted") {
		t.Errorf("adding a finalizer while deleting: %s", r)
	}
	mustKubectl(t, "", "patch", "cm", "held", "-n", ns, "--type", "merge", "-p", `{"metadata":{"finalizers":null}}`)
	eventually(t, 10*time.Second, func() error {
		r := kubectl(t, "", "get", "cm", "held", "-n", ns)
		if r.Code == 1 && strings.Contains(r.Stderr, `configmaps "held" not found`) {
			return nil
		}
		return fmt.Errorf("still there: %s", r)
	})
}

func TestWatch(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "1.27", "1.33"} {
		t.Run("kubectl"+v, func(t *testing.T) {
			t.Parallel()
			testWatch(t, v)
		})
	}
}

func testWatch(t *testing.T, version string) {
	ns := newNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath(t, version), "get", "cm", "-n", ns, "-w", "--output-watch-events")
	cmd.Env = kubectlEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	// next returns the next event row about configmap w (skipping the
	// header and any other configmap a controller may add) as
	// EVENT NAME DATA.
	next := func() string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended early; stderr: %s", stderr.String())
				}
				f := strings.Fields(l)
				if len(f) == 5 && f[0] == "EVENT" && f[1] == "NAME" {
					continue
				}
				if len(f) != 4 {
					t.Fatalf("watch line %q: want EVENT NAME DATA AGE", l)
				}
				if f[1] == "w" {
					return strings.Join(f[:3], " ")
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no watch line within 20s; stderr: %s", stderr.String())
			}
		}
	}
	// kubectl prints nothing for an empty list. Whether the create lands
	// before or after the initial list, kubectl reports it as ADDED and
	// watches from the list's resourceVersion, so no event is missed.
	mustStdin(t, version, configMapYAML("w", "1"), "create", "-n", ns)
	if got := next(); got != "ADDED w 1" {
		t.Fatalf("first event = %q; want %q", got, "ADDED w 1")
	}
	mustKubectl(t, version, "patch", "cm", "w", "-n", ns, "-p", `{"data":{"other":"2"}}`)
	mustKubectl(t, version, "delete", "cm", "w", "-n", ns)
	for _, want := range []string{"MODIFIED w 2", "DELETED w 2"} {
		if got := next(); got != want {
			t.Errorf("watch event = %q; want %q", got, want)
		}
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	f := writeFile(t, "cm.yaml", configMapYAML("cfg", "one"))
	mustKubectl(t, "", "apply", "-n", ns, "-f", f)
	if r := kubectl(t, "", "diff", "-n", ns, "-f", f); r.Code != 0 || r.Stdout != "" {
		t.Errorf("diff of an applied file: want exit 0 and no output, got %s", r)
	}
	f2 := writeFile(t, "cm.yaml", configMapYAML("cfg", "two"))
	r := kubectl(t, "", "diff", "-n", ns, "-f", f2)
	if r.Code != 1 || !strings.Contains(r.Stdout, `-  key: one`) || !strings.Contains(r.Stdout, `+  key: two`) {
		t.Errorf("diff of a change: want exit 1 with -one/+two, got %s", r)
	}
	// diff is a server-side dry run: nothing changed.
	if got := mustKubectl(t, "", "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}"); got != "one" {
		t.Errorf("after diff: data.key = %q; want %q", got, "one")
	}
}

func TestDryRunAndMissingNamespace(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	out := mustStdin(t, "", configMapYAML("dry", "x"), "create", "-n", ns, "--dry-run=server", "-o", "jsonpath={.metadata.name}/{.data.key}")
	if out != "dry/x" {
		t.Errorf("dry run output = %q; want %q", out, "dry/x")
	}
	r := kubectl(t, "", "get", "cm", "dry", "-n", ns)
	if r.Code != 1 || !strings.Contains(r.Stderr, `configmaps "dry" not found`) {
		t.Errorf("after dry run: want NotFound, got %s", r)
	}
	out = mustStdin(t, "", configMapYAML("dry", "x"), "apply", "-n", ns, "--dry-run=server")
	if out != "configmap/dry created (server dry run)\n" {
		t.Errorf("apply --dry-run=server = %q", out)
	}
	if r := kubectl(t, "", "get", "cm", "dry", "-n", ns); r.Code != 1 {
		t.Errorf("after apply dry run: want NotFound, got %s", r)
	}

	r = kubectlWith(t, "", cmdOpts{stdin: configMapYAML("c", "x")}, "create", "-n", "no-such-ns", "-f", "-")
	if r.Code != 1 || !strings.Contains(r.Stderr, `Error from server (NotFound): error when creating "STDIN": namespaces "no-such-ns" not found`) {
		t.Errorf("create into a missing namespace: %s", r)
	}
}
