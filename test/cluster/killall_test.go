package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/test/internal/testenv"
)

// TestKillall runs a pod on an agent, kills the agent (a crash: it cleans
// nothing up, and even a clean stop leaves the pods running), then runs
// `skiff killall` on that node as its admin would: no container process,
// containerd, mount, interface, nftables table, route or cgroup of the
// agent is left. Started again, the agent runs the pod again.
func TestKillall(t *testing.T) {
	a := agents[0]
	ns := newNamespace(t)
	apply(t, ns, whoPod("ka", a.name, nil))
	waitReady(t, ns, "ka")

	if out, err := killallOn(a); err == nil || !strings.Contains(out, "is running") {
		t.Fatalf("skiff killall with the agent running: %v\n%s\nwant a refusal", err, out)
	}

	_ = a.proc.Cmd.Process.Kill()
	<-a.proc.Done
	pids := agentProcs(a)
	before := killallLeftovers(a, pids)
	for _, want := range []string{"process", "mount", "device cni0", "veth", "device flannel.1", "nft table skiff-proxy", "nft table skiff-net", "cgroup"} {
		if !hasPrefixed(before, want) {
			t.Fatalf("after killing the agent there is no %s left; the check would prove nothing. Found: %v", want, before)
		}
	}

	out, err := killallOn(a)
	if err != nil {
		t.Fatalf("skiff killall: %v\n%s", err, out)
	}
	if got := killallLeftovers(a, pids); len(got) > 0 {
		t.Errorf("after skiff killall %s still has: %v\nkillall said:\n%s", a.name, got, out)
	}

	if err := startAgent(a); err != nil {
		t.Fatal(err)
	}
	// The pod's status still says Ready from before; what proves the
	// pod runs again is a command in a new container.
	eventually(t, waitTimeout, func() error {
		if err := nodeReady(a.name); err != nil {
			return err
		}
		out, err := execIn(ns, "ka", "cat", "/proc/1/cmdline")
		if err != nil {
			return fmt.Errorf("exec in ka: %v: %s", err, out)
		}
		return nil
	})
}

// hasPrefixed reports whether some entry of found starts with prefix.
func hasPrefixed(found []string, prefix string) bool {
	for _, f := range found {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// killallOn runs skiff killall for the node, in its network namespace.
func killallOn(n *node) (string, error) { return skiffOn(n, "killall") }

// skiffOn runs a skiff command (killall, uninstall) with the node's data
// directory and cgroup root, in its network namespace.
func skiffOn(n *node, command string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	args = append([]string{"--net=/run/netns/" + n.netns, bin, command, "--data-dir", n.data, "--cgroup-root", n.cgrp}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", args...).CombinedOutput()
	return string(out), err
}

// TestUninstall stops an agent cleanly (its pod keeps running), then
// runs skiff uninstall on that node: refused without --yes, with it
// nothing of the agent is left, its data directory included. The agent
// then joins again from scratch and runs the pod.
func TestUninstall(t *testing.T) {
	a := agents[0]
	ns := newNamespace(t)
	apply(t, ns, clientPod("un", a.name))
	waitReady(t, ns, "un")
	if err := a.proc.Stop(); err != nil {
		t.Fatalf("stopping %s: %v", a.name, err)
	}
	pids := agentProcs(a)
	if !hasPrefixed(killallLeftovers(a, pids), "process") {
		t.Fatalf("after a clean stop the pod's containers no longer run; the check would prove nothing")
	}
	if out, err := skiffOn(a, "uninstall"); err == nil || !strings.Contains(out, "--yes") || !exists(a.data) {
		t.Fatalf("skiff uninstall without --yes: %v\n%s\nwant a refusal naming --yes, and the data directory kept", err, out)
	}
	// The suite's image is imported at start from the data directory.
	images := kubelet.ImagesDir(a.data)
	saved := filepath.Join(tmp, a.name+"-images")
	if err := os.Rename(images, saved); err != nil {
		t.Fatal(err)
	}
	out, err := skiffOn(a, "uninstall", "--yes")
	if err != nil {
		t.Fatalf("skiff uninstall --yes: %v\n%s", err, out)
	}
	if got := killallLeftovers(a, pids); len(got) > 0 {
		t.Errorf("after skiff uninstall %s still has: %v\nuninstall said:\n%s", a.name, got, out)
	}
	if exists(a.data) {
		t.Errorf("after skiff uninstall the data directory %s is still there", a.data)
	}

	if err := os.MkdirAll(filepath.Dir(images), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved, images); err != nil {
		t.Fatal(err)
	}
	if err := startAgent(a); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitTimeout, func() error {
		if err := nodeReady(a.name); err != nil {
			return err
		}
		if out, err := execIn(ns, "un", "true"); err != nil {
			return fmt.Errorf("exec in un: %v: %s", err, out)
		}
		return nil
	})
}

// agentProcs lists the processes of the agent's containerd and shims (by
// their data directory) and of its pods (by cgroup).
func agentProcs(n *node) []int {
	pids := testenv.Procs(func(cmdline []byte) bool { return bytes.Contains(cmdline, []byte(n.data+"/")) })
	cgroups, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range cgroups {
		_ = filepath.WalkDir(filepath.Join("/sys/fs/cgroup", c.Name(), n.cgrp), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "cgroup.procs" {
				data, _ := os.ReadFile(path)
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
			}
			return nil
		})
	}
	return pids
}

// running reports whether pid runs (a zombie does not).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// killallLeftovers lists what of the agent is still on the machine: the
// given and current processes of the agent, mounts under its data
// directory, its pod network and its cgroups.
func killallLeftovers(n *node, pids []int) []string {
	var found []string
	seen := map[int]bool{}
	for _, pid := range append(pids, agentProcs(n)...) {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if running(pid) && syscall.Kill(pid, 0) == nil {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			found = append(found, fmt.Sprintf("process %d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], n.data+"/") {
				found = append(found, "mount "+fields[4])
			}
		}
		f.Close()
	}
	if _, err := inNetns(n, "ip", "link", "show", "cni0"); err == nil {
		found = append(found, "device cni0")
	}
	if out, err := inNetns(n, "ip", "-o", "link", "show", "type", "veth"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			// eth0 is the suite's link between the nodes.
			if f := strings.Fields(line); len(f) > 1 && !strings.HasPrefix(f[1], "eth0") {
				found = append(found, "veth "+f[1])
			}
		}
	}
	found = append(found, leftovers(n)...)
	cgroups, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range cgroups {
		if dir := filepath.Join("/sys/fs/cgroup", c.Name(), n.cgrp); exists(dir) {
			found = append(found, "cgroup "+dir)
		}
	}
	return found
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
