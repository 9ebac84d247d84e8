package e2e

import (
	"strings"
	"testing"
)

// kubectlVersions are the kubectl releases the version-skew subset runs
// with ("" is the default kubectl on $PATH). TestWatch covers get -w with
// the same versions.
var kubectlVersions = []string{"", "1.27", "1.33"}

// TestKubectlVersions runs create/get/apply/explain/api-resources/delete
// with older and newer kubectl releases.
func TestKubectlVersions(t *testing.T) {
	t.Parallel()
	for _, v := range kubectlVersions {
		t.Run("kubectl"+v, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			if out := mustStdin(t, v, deploymentYAML("web", 1, "nginx:1.25"), "create", "-n", ns); out != "deployment.apps/web created\n" {
				t.Errorf("create: got %q", out)
			}
			table := mustKubectl(t, v, "get", "deploy", "-n", ns)
			lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("get deploy:\n%s", table)
			}
			cols := columnStarts(lines[0])
			if got := strings.Join(columnNames(cols), "|"); got != "NAME|READY|UP-TO-DATE|AVAILABLE|AGE" {
				t.Errorf("get deploy columns = %q", got)
			}
			// The deployment controller may or may not have made the pod yet;
			// without a node agent it is never ready.
			if row := cellsOf(lines[1], cols); row["NAME"] != "web" || row["READY"] != "0/1" || (row["UP-TO-DATE"] != "0" && row["UP-TO-DATE"] != "1") {
				t.Errorf("get deploy row = %v", row)
			}

			for i, step := range []struct{ manifest, want string }{
				{configMapYAML("cfg", "one"), "configmap/cfg created\n"},
				{configMapYAML("cfg", "two"), "configmap/cfg configured\n"},
				{configMapYAML("cfg", "two"), "configmap/cfg unchanged\n"},
			} {
				if out := mustStdin(t, v, step.manifest, "apply", "-n", ns); out != step.want {
					t.Errorf("apply #%d: got %q; want %q", i+1, out, step.want)
				}
			}
			if got := mustKubectl(t, v, "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}"); got != "two" {
				t.Errorf("after apply: data.key = %q; want two", got)
			}
			// Upstream lets manager "kubectl" take over fields from
			// client-side apply (they are in last-applied-configuration);
			// another manager then conflicts.
			if out := mustStdin(t, v, configMapYAML("cfg", "three"), "apply", "--server-side", "-n", ns); out != "configmap/cfg serverside-applied\n" {
				t.Errorf("server-side apply after client-side apply: got %q", out)
			}
			r := kubectlWith(t, v, cmdOpts{stdin: configMapYAML("cfg", "four")},
				"apply", "--server-side", "--field-manager=other", "-n", ns, "-f", "-")
			if r.Code == 0 || !strings.Contains(r.Stderr, `conflict with "kubectl"`) {
				t.Errorf("conflicting server-side apply: %s", r)
			}
			if got := mustKubectl(t, v, "get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}"); got != "three" {
				t.Errorf("after conflict: data.key = %q; want three", got)
			}

			checkExplain(t, v)
			checkAPIResources(t, v)

			if out := mustKubectl(t, v, "delete", "deploy", "web", "-n", ns); out != `deployment.apps "web" deleted`+"\n" {
				t.Errorf("delete: got %q", out)
			}
			if r := kubectl(t, v, "get", "deploy", "web", "-n", ns); r.Code != 1 ||
				!strings.Contains(r.Stderr, `Error from server (NotFound): deployments.apps "web" not found`) {
				t.Errorf("get after delete: %s", r)
			}
		})
	}
}
