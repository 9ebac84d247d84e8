package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// schedNodeYAML is a Node with 1 cpu, labelled and tainted with key=owner so
// only this test's pods (which select and tolerate it) land there: the e2e
// server is shared by parallel tests and nodes are cluster-wide.
func schedNodeYAML(name, key, owner string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %[1]s
  labels:
    kubernetes.io/hostname: %[1]s
    %[2]s: %[3]s
spec:
  taints:
  - {key: %[2]s, value: %[3]s, effect: NoSchedule}
status:
  capacity: {cpu: "1", memory: 4Gi, pods: "110"}
  allocatable: {cpu: "1", memory: 4Gi, pods: "110"}
`, name, key, owner)
}

func schedPodYAML(name, key, owner, cpu string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  nodeSelector: {%[2]s: %[3]s}
  tolerations:
  - {key: %[2]s, operator: Equal, value: %[3]s, effect: NoSchedule}
  # TaintNodesByCondition gives new Nodes the not-ready taint, and these
  # Nodes have no agent to report Ready. Removing the taint by hand (kubectl
  # taint ... not-ready:NoSchedule-) did not stick: the scheduler still saw
  # it (presumably the node lifecycle controller re-adding it to a Node
  # without a Ready condition), so tolerate it.
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}
  containers:
  - name: app
    image: registry.example/app:1
    resources:
      requests: {cpu: "%[4]s"}
`, name, key, owner, cpu)
}

// TestSchedulingEvents creates two Nodes with kubectl, then a pod too big
// for either and one that fits, and reads what a user reads: `kubectl
// describe pod` shows upstream's FailedScheduling message for the first and
// the Scheduled event for the second.
func TestSchedulingEvents(t *testing.T) {
	ns := newNamespace(t)
	const key = "e2e.skiff.sh/scheduler-test"
	nodes := []string{ns + "-a", ns + "-b"}
	for _, n := range nodes {
		mustStdin(t, "", schedNodeYAML(n, key, ns), "create")
		t.Cleanup(func() { kubectl(t, "", "delete", "node", n, "--wait=false") })
	}

	mustStdin(t, "", schedPodYAML("big", key, ns, "2"), "create", "-n", ns)
	mustStdin(t, "", schedPodYAML("fits", key, ns, "100m"), "create", "-n", ns)

	// Other tests' nodes may exist too: they fail our taint toleration or
	// node selector, so the node count and the other reasons vary, but our
	// two nodes always say Insufficient cpu.
	failed := regexp.MustCompile(`(?m)^\s+Warning\s+FailedScheduling\s+.*default-scheduler\s+` +
		`0/\d+ nodes are available: .*\b2 Insufficient cpu\b.*\. preemption: 0/\d+ nodes are available: .*$`)
	unschedulable := regexp.MustCompile(`(?m)^\s+PodScheduled\s+False\s*$`)
	eventually(t, 30*time.Second, func() error {
		out := mustKubectl(t, "", "describe", "pod", "big", "-n", ns)
		if !failed.MatchString(out) {
			return fmt.Errorf("no FailedScheduling event with 2 Insufficient cpu in:\n%s", out)
		}
		if !unschedulable.MatchString(out) {
			return fmt.Errorf("no PodScheduled False condition in:\n%s", out)
		}
		return nil
	})

	scheduled := regexp.MustCompile(`(?m)^\s+Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned ` +
		regexp.QuoteMeta(ns+"/fits") + ` to (\S+)$`)
	eventually(t, 30*time.Second, func() error {
		out := mustKubectl(t, "", "describe", "pod", "fits", "-n", ns)
		m := scheduled.FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no Scheduled event in:\n%s", out)
		}
		if m[1] != nodes[0] && m[1] != nodes[1] {
			return fmt.Errorf("fits assigned to %s; want one of %v", m[1], nodes)
		}
		if !regexp.MustCompile(`(?m)^Node:\s+` + regexp.QuoteMeta(m[1]) + `/`).MatchString(out) {
			return fmt.Errorf("describe does not show Node: %s/...:\n%s", m[1], out)
		}
		return nil
	})
}
