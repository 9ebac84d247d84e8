package node

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestEphemeralStorageLimitsEvict fills pods past their own local storage
// limits on a node with plenty of disk: the agent (checking every 10 s)
// evicts each with upstream's message and stops its containers.
func TestEphemeralStorageLimitsEvict(t *testing.T) {
	ns := newNamespace(t)
	container := func(name, write, limit string) string {
		c := `  - name: ` + name + `
    image: ` + BusyboxImage + `
    imagePullPolicy: Never
    command: ["sh", "-c", "` + write + `exec sleep 3600"]
`
		if limit != "" {
			c += "    resources:\n      limits: {ephemeral-storage: " + limit + "}\n"
		}
		return c
	}
	// fill writes 4 MiB to path before the container sleeps.
	fill := func(path string) string { return "dd if=/dev/zero of=" + path + " bs=1M count=4 && " }
	tests := []struct {
		name, spec, want string
	}{
		{"emptydir", `  restartPolicy: Never
  volumes:
  - name: data
    emptyDir: {sizeLimit: 1Mi}
  containers:
` + container("c", fill("/data/f"), "") + `    volumeMounts:
    - {name: data, mountPath: /data}
`, `Usage of EmptyDir volume "data" exceeds the limit "1Mi". `},
		// One container: its writable layer is also all the pod has, and
		// upstream checks the pod's total before the container's own.
		{"container", `  restartPolicy: Never
  containers:
` + container("c", fill("/tmp/f"), "2Mi"),
			"Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		// Two containers: the pod stays within 12Mi, the writer not within
		// its 2Mi.
		{"one-of-two", `  restartPolicy: Never
  containers:
` + container("writer", fill("/tmp/f"), "2Mi") + container("idle", "", "10Mi"),
			`Container writer exceeded its local ephemeral storage limit "2Mi". `},
	}
	// All at once, so the waits overlap.
	for _, tt := range tests {
		applyPod(t, ns, tt.name, tt.spec)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := waitPod(t, ns, tt.name, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
			if pod.Status.Reason != "Evicted" || pod.Status.Message != tt.want {
				t.Errorf("reason %q message %q; want Evicted %q", pod.Status.Reason, pod.Status.Message, tt.want)
			}
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.State.Terminated == nil {
					t.Errorf("container %s of the evicted pod: %+v; want terminated", cs.Name, cs.State)
				}
			}
			deletePod(t, ns, pod)
		})
	}
}
