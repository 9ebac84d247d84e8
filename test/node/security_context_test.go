package node

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Security contexts as the container sees them: users and groups from
// `id`, capabilities and no_new_privs from /proc, a read-only root, the
// host's devices for a privileged container, and upstream's refusal to
// run an image as root under runAsNonRoot.

// runToCompletion creates a restartPolicy: Never pod from spec (a
// fragment under `spec:`, restartPolicy included), waits for it to
// succeed and returns it; a failed pod fails the test with its status.
func runToCompletion(t *testing.T, ns, name, spec string) *corev1.Pod {
	t.Helper()
	applyPod(t, ns, name, spec)
	pod := waitPod(t, ns, name, "Succeeded or Failed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if pod.Status.Phase != corev1.PodSucceeded {
		for _, s := range pod.Status.ContainerStatuses {
			logs, _ := kubectlTry("logs", "-n", ns, name, "-c", s.Name)
			t.Logf("container %s log:\n%s", s.Name, logs)
		}
		t.Fatalf("pod %s/%s failed:\n%s", ns, name, describeStatus(pod))
	}
	return pod
}

// logEventsOnFailure logs the namespace's events if t failed: the agent
// reports sandbox and container failures there.
func logEventsOnFailure(t *testing.T, ns string) {
	if !t.Failed() {
		return
	}
	events, err := kubectlTry("get", "events", "-n", ns, "--sort-by=.lastTimestamp")
	t.Logf("events in %s (%v):\n%s", ns, err, events)
}

// containerLog is the log of one container of a pod.
func containerLog(t *testing.T, ns, pod, container string) string {
	t.Helper()
	return kubectl(t, "", "logs", "-n", ns, pod, "-c", container)
}

// procStatusField returns the value of a /proc/PID/status field from
// output that holds such lines ("CapEff:\t00000000a80425fb").
func procStatusField(t *testing.T, output, field string) string {
	t.Helper()
	for _, line := range strings.Split(output, "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && name == field {
			return strings.TrimSpace(value)
		}
	}
	t.Fatalf("no %s line in %q", field, output)
	return ""
}

// capMask parses a CapEff value.
func capMask(t *testing.T, hex string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		t.Fatalf("capability mask %q: %v", hex, err)
	}
	return v
}

// idOutput is what `id -u; id -g; id -G` printed: the user, the primary
// group and the set of all groups.
type idOutput struct {
	uid, gid string
	groups   []string // sorted, without duplicates
}

func parseID(t *testing.T, out string) idOutput {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("id output %q: want three lines", out)
	}
	seen := map[string]bool{}
	var groups []string
	for _, g := range strings.Fields(lines[2]) {
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	sort.Strings(groups)
	return idOutput{uid: strings.TrimSpace(lines[0]), gid: strings.TrimSpace(lines[1]), groups: groups}
}

func (o idOutput) String() string {
	return fmt.Sprintf("uid=%s gid=%s groups=%s", o.uid, o.gid, strings.Join(o.groups, ","))
}

const idCommand = `["sh", "-c", "id -u; id -g; id -G"]`

// TestSecurityContextUserAndGroups: the pod's runAsUser, runAsGroup,
// supplementalGroups and fsGroup apply to every container; a container's
// own runAsUser and runAsGroup override the pod's while the pod's
// supplemental groups and fsGroup stay. A container's runAsGroup without
// a runAsUser runs as the image's user in that group.
func TestSecurityContextUserAndGroups(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	pod := runToCompletion(t, ns, "ids", `  restartPolicy: Never
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
    fsGroup: 2000
  containers:
  - name: inherit
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: `+idCommand+`
  - name: override
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: `+idCommand+`
    securityContext:
      runAsUser: 2001
      runAsGroup: 2002
`)
	for _, tc := range []struct {
		container string
		want      idOutput
	}{
		{"inherit", idOutput{uid: "1000", gid: "3000", groups: []string{"2000", "3000", "4000"}}},
		{"override", idOutput{uid: "2001", gid: "2002", groups: []string{"2000", "2002", "4000"}}},
	} {
		got := parseID(t, containerLog(t, ns, "ids", tc.container))
		if got.String() != tc.want.String() {
			t.Errorf("container %s: id says %s; want %s", tc.container, got, tc.want)
		}
	}
	deletePod(t, ns, pod)

	// Upstream fills in the image's user (root here) when runAsUser is
	// unset, so the runtime gets a user to go with the group.
	pod = runToCompletion(t, ns, "group-only", `  restartPolicy: Never
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: `+idCommand+`
    securityContext:
      runAsGroup: 3000
`)
	want := idOutput{uid: "0", gid: "3000", groups: []string{"3000"}}
	if got := parseID(t, containerLog(t, ns, "group-only", "c")); got.String() != want.String() {
		t.Errorf("runAsGroup without runAsUser: id says %s; want %s", got, want)
	}
	deletePod(t, ns, pod)
}

// TestSecurityContextRunAsNonRoot: with runAsNonRoot and no runAsUser, an
// image that runs as root is refused before a container is created (the
// container waits with CreateContainerConfigError and upstream's
// message); runAsUser: 0 is refused with its own message; a non-root
// runAsUser runs.
func TestSecurityContextRunAsNonRoot(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	refused := func(t *testing.T, name, spec, wantMessage string) {
		t.Helper()
		pod := applyPod(t, ns, name, spec)
		pod = waitPod(t, ns, name, "waiting with CreateContainerConfigError", func(p *corev1.Pod) bool {
			s := containerStatus(p, "c")
			return s != nil && s.State.Waiting != nil && s.State.Waiting.Reason == "CreateContainerConfigError"
		})
		want := fmt.Sprintf(wantMessage, fmt.Sprintf("%s_%s(%s)", name, ns, pod.UID))
		if got := containerStatus(pod, "c").State.Waiting.Message; got != want {
			t.Errorf("waiting message = %q; want %q", got, want)
		}
		if pod.Status.Phase != corev1.PodPending {
			t.Errorf("phase = %s; want Pending", pod.Status.Phase)
		}
		for _, c := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
			if got := condition(pod, c); got != corev1.ConditionFalse {
				t.Errorf("condition %s = %q; want False", c, got)
			}
		}
		if _, containers := runtimeObjects(t, pod.UID); len(containers) != 0 {
			t.Errorf("runtime containers %v; want none created", containers)
		}
		deletePod(t, ns, pod)
	}

	t.Run("ImageRunsAsRoot", func(t *testing.T) {
		refused(t, "root-image", `  securityContext:
    runAsNonRoot: true
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "600"]
`, `container has runAsNonRoot and image will run as root (pod: %q, container: c)`)
	})
	t.Run("RunAsUserZero", func(t *testing.T) {
		refused(t, "uid-zero", `  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sleep", "600"]
    securityContext:
      runAsNonRoot: true
      runAsUser: 0
`, `container's runAsUser breaks non-root policy (pod: %q, container: c)`)
	})
	t.Run("NonRootUserRuns", func(t *testing.T) {
		pod := runToCompletion(t, ns, "non-root", `  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["id", "-u"]
    securityContext:
      runAsUser: 1000
`)
		if got := strings.TrimSpace(containerLog(t, ns, "non-root", "c")); got != "1000" {
			t.Errorf("id -u = %q; want 1000", got)
		}
		deletePod(t, ns, pod)
	})
}

// TestSecurityContextReadOnlyRootFilesystem: writes to the root
// filesystem fail, writes to a mounted emptyDir succeed.
func TestSecurityContextReadOnlyRootFilesystem(t *testing.T) {
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	pod := runToCompletion(t, ns, "ro", `  restartPolicy: Never
  containers:
  - name: c
    image: `+BusyboxImage+`
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /probe 2>&1 || echo root=readonly; touch /scratch/probe && echo scratch=writable"]
    securityContext:
      readOnlyRootFilesystem: true
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - name: scratch
    emptyDir: {}
`)
	out := containerLog(t, ns, "ro", "c")
	for _, want := range []string{"Read-only file system", "root=readonly", "scratch=writable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	deletePod(t, ns, pod)
}

// TestSecurityContextCapabilitiesAndPrivileges: capabilities dropped and
// added show in the container's effective set; a privileged container
// has every capability the node has and the host's devices;
// allowPrivilegeEscalation: false sets no_new_privs.
func TestSecurityContextCapabilitiesAndPrivileges(t *testing.T) {
	hostCaps, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	// A device of the host that a container only gets when privileged.
	hostDevice := ""
	for _, d := range []string{"kmsg", "loop-control", "loop0", "tty0", "fuse", "mem", "cpu_dma_latency"} {
		if _, err := os.Stat("/dev/" + d); err == nil {
			hostDevice = d
			break
		}
	}
	if hostDevice == "" {
		t.Fatal("none of the probe devices exists on the host")
	}
	ns := newNamespace(t)
	t.Cleanup(func() { logEventsOnFailure(t, ns) })
	const report = `["sh", "-c", "grep CapEff /proc/1/status; grep NoNewPrivs /proc/self/status; ls /dev"]`
	container := func(name, securityContext string) string {
		s := "  - name: " + name + "\n    image: " + BusyboxImage + "\n    imagePullPolicy: Never\n    command: " + report + "\n"
		if securityContext != "" {
			s += "    securityContext: " + securityContext + "\n"
		}
		return s
	}
	pod := runToCompletion(t, ns, "caps", "  restartPolicy: Never\n  containers:\n"+
		container("plain", "")+
		container("drop-all", "{capabilities: {drop: [ALL]}}")+
		container("add-net-admin", "{capabilities: {add: [NET_ADMIN]}}")+
		container("only-bind", "{capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}")+
		container("privileged", "{privileged: true}")+
		container("no-escalation", "{allowPrivilegeEscalation: false}"))
	out := map[string]string{}
	for _, c := range pod.Spec.Containers {
		out[c.Name] = containerLog(t, ns, "caps", c.Name)
	}
	capEff := func(name string) uint64 { return capMask(t, procStatusField(t, out[name], "CapEff")) }
	const netAdmin, netBindService = 1 << 12, 1 << 10
	plain := capEff("plain")
	if plain == 0 || plain&netAdmin != 0 {
		t.Errorf("plain CapEff = %016x; want the runtime's default set, without NET_ADMIN", plain)
	}
	for _, tc := range []struct {
		container string
		want      uint64
	}{
		{"drop-all", 0},
		{"add-net-admin", plain | netAdmin},
		{"only-bind", netBindService},
		{"privileged", capMask(t, procStatusField(t, string(hostCaps), "CapBnd"))},
	} {
		if got := capEff(tc.container); got != tc.want {
			t.Errorf("%s: CapEff = %016x; want %016x", tc.container, got, tc.want)
		}
	}
	for name, want := range map[string]string{"plain": "0", "privileged": "0", "no-escalation": "1"} {
		if got := procStatusField(t, out[name], "NoNewPrivs"); got != want {
			t.Errorf("%s: NoNewPrivs = %s; want %s", name, got, want)
		}
	}
	hasDevice := func(name string) bool {
		for _, f := range strings.Fields(out[name]) {
			if f == hostDevice {
				return true
			}
		}
		return false
	}
	if !hasDevice("privileged") {
		t.Errorf("privileged container's /dev lacks the host's %s:\n%s", hostDevice, out["privileged"])
	}
	if hasDevice("plain") {
		t.Errorf("unprivileged container's /dev has the host's %s", hostDevice)
	}
	deletePod(t, ns, pod)
}
