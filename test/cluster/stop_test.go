package cluster

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func readLog(n *node) (string, error) {
	data, err := os.ReadFile(n.proc.Log)
	return string(data), err
}

// leftovers lists what of the agent's network is still in its namespace.
func leftovers(n *node) []string {
	var found []string
	if out, err := inNetns(n, "nft", "list", "tables"); err == nil {
		for _, tbl := range []string{"skiff-proxy", "skiff-net"} {
			if strings.Contains(out, tbl) {
				found = append(found, "nft table "+tbl)
			}
		}
	}
	if _, err := inNetns(n, "ip", "link", "show", "flannel.1"); err == nil {
		found = append(found, "device flannel.1")
	}
	if out, err := inNetns(n, "ip", "route", "show", "root", "10.42.0.0/16"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			// The node's own pod range on its bridge is the CNI's, not
			// the router's.
			if line != "" && !strings.Contains(line, "dev cni0") {
				found = append(found, "route "+line)
			}
		}
	}
	return found
}

// TestAgentStopLeavesNothing stops an agent cleanly: its proxy table,
// masquerade table, VXLAN device and routes are gone; started again, the
// node is Ready and its pods reachable again.
func TestAgentStopLeavesNothing(t *testing.T) {
	a := agents[1]
	if got := leftovers(a); len(got) == 0 {
		t.Fatalf("a running agent has none of its network in place; the check would prove nothing")
	}
	if err := a.proc.Stop(); err != nil {
		t.Fatalf("stopping %s: %v", a.name, err)
	}
	if got := leftovers(a); len(got) > 0 {
		t.Errorf("after a clean stop %s still has: %v", a.name, got)
	}
	if err := startAgent(a); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitTimeout, func() error { return nodeReady(a.name) })
	podToPod(t)
}

// TestHostGW restarts the cluster with the host-gw backend (the nodes
// share a link) and checks pod to pod traffic across nodes again.
func TestHostGW(t *testing.T) {
	if err := stopCluster(); err != nil {
		t.Fatalf("stopping the cluster: %v", err)
	}
	backend = "host-gw"
	if err := startCluster(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes() {
		eventually(t, 30*time.Second, func() error {
			out, err := inNetns(n, "ip", "route", "show", "root", "10.42.0.0/16")
			if err != nil {
				return err
			}
			if strings.Contains(out, "flannel.1") {
				return fmt.Errorf("%s still routes through flannel.1:\n%s", n.name, out)
			}
			return nil
		})
	}
	podToPod(t)
}
