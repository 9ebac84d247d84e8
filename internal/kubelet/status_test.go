package kubelet

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func running() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func exited(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}
}

func backingOff(code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
	}
}

func creating() corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
}

func TestPodPhase(t *testing.T) {
	pod := func(policy corev1.RestartPolicy, inits int) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy}}
		for range inits {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{})
		}
		return p
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		inits []corev1.ContainerStatus
		apps  []corev1.ContainerStatus
		want  corev1.PodPhase
	}{
		{"creating", pod(corev1.RestartPolicyAlways, 0), nil, []corev1.ContainerStatus{creating()}, corev1.PodPending},
		{"running", pod(corev1.RestartPolicyAlways, 0), nil, []corev1.ContainerStatus{running(), exited(0)}, corev1.PodRunning},
		{"one waiting", pod(corev1.RestartPolicyAlways, 0), nil, []corev1.ContainerStatus{running(), creating()}, corev1.PodPending},
		{"crash loop is running", pod(corev1.RestartPolicyAlways, 0), nil, []corev1.ContainerStatus{backingOff(1)}, corev1.PodRunning},
		{"always, all exited", pod(corev1.RestartPolicyAlways, 0), nil, []corev1.ContainerStatus{exited(0)}, corev1.PodRunning},
		{"never, succeeded", pod(corev1.RestartPolicyNever, 0), nil, []corev1.ContainerStatus{exited(0), exited(0)}, corev1.PodSucceeded},
		{"never, failed", pod(corev1.RestartPolicyNever, 0), nil, []corev1.ContainerStatus{exited(0), exited(2)}, corev1.PodFailed},
		{"on failure, failed restarts", pod(corev1.RestartPolicyOnFailure, 0), nil, []corev1.ContainerStatus{exited(2)}, corev1.PodRunning},
		{"on failure, succeeded", pod(corev1.RestartPolicyOnFailure, 0), nil, []corev1.ContainerStatus{exited(0)}, corev1.PodSucceeded},
		{"init running", pod(corev1.RestartPolicyAlways, 2), []corev1.ContainerStatus{exited(0), running()}, []corev1.ContainerStatus{creating()}, corev1.PodPending},
		{"init failed, never", pod(corev1.RestartPolicyNever, 1), []corev1.ContainerStatus{exited(1)}, []corev1.ContainerStatus{creating()}, corev1.PodFailed},
		{"init failed, always retries", pod(corev1.RestartPolicyAlways, 1), []corev1.ContainerStatus{backingOff(1)}, []corev1.ContainerStatus{creating()}, corev1.PodPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podPhase(tt.pod, tt.inits, tt.apps, false); got != tt.want {
				t.Errorf("podPhase = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestPodPhaseSidecars(t *testing.T) {
	// One sidecar (restartPolicy Always), then one app container.
	pod := func(policy corev1.RestartPolicy) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{
			RestartPolicy:  policy,
			InitContainers: []corev1.Container{{Name: "sidecar", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{{Name: "app"}},
		}}
	}
	started := func(s corev1.ContainerStatus, v bool) corev1.ContainerStatus { s.Started = &v; return s }
	initializing := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
	tests := []struct {
		name        string
		policy      corev1.RestartPolicy
		sidecar     corev1.ContainerStatus
		app         corev1.ContainerStatus
		initialized bool
		want        corev1.PodPhase
	}{
		{"sidecar creating", corev1.RestartPolicyAlways, creating(), initializing, false, corev1.PodPending},
		{"sidecar not started yet", corev1.RestartPolicyAlways, started(running(), false), initializing, false, corev1.PodPending},
		{"both running", corev1.RestartPolicyAlways, started(running(), true), running(), true, corev1.PodRunning},
		{"sidecar restarting after init", corev1.RestartPolicyAlways, started(running(), false), running(), true, corev1.PodRunning},
		{"sidecar exited after init", corev1.RestartPolicyAlways, exited(3), running(), true, corev1.PodRunning},
		{"sidecar backing off after init", corev1.RestartPolicyAlways, backingOff(3), running(), true, corev1.PodRunning},
		{"job done, sidecar still running", corev1.RestartPolicyNever, started(running(), true), exited(0), true, corev1.PodRunning},
		{"job done, sidecar stopped", corev1.RestartPolicyNever, exited(143), exited(0), true, corev1.PodSucceeded},
		{"job failed, sidecar stopped", corev1.RestartPolicyNever, exited(0), exited(1), true, corev1.PodFailed},
		{"on failure done, sidecar stopped", corev1.RestartPolicyOnFailure, exited(137), exited(0), true, corev1.PodSucceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := podPhase(pod(tt.policy), []corev1.ContainerStatus{tt.sidecar}, []corev1.ContainerStatus{tt.app}, tt.initialized)
			if got != tt.want {
				t.Errorf("podPhase = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	pod := func(reqs, lims corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: reqs, Limits: lims}}}}}
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want corev1.PodQOSClass
	}{
		{"none", pod(nil, nil), corev1.PodQOSBestEffort},
		{"equal", pod(rl("1", "1Gi"), rl("1", "1Gi")), corev1.PodQOSGuaranteed},
		{"limits only", pod(nil, rl("1", "1Gi")), corev1.PodQOSGuaranteed},
		{"memory limit only", pod(nil, rl("", "32Mi")), corev1.PodQOSBurstable},
		{"request below limit", pod(rl("500m", "1Gi"), rl("1", "1Gi")), corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := qosClass(tt.pod); got != tt.want {
				t.Errorf("qosClass = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	tests := map[string]string{
		"$(A)-$(B)":  "x-y",
		"$$(A)":      "$(A)",
		"$(MISSING)": "$(MISSING)",
		"a$b":        "a$b",
		"$(A":        "$(A",
		"cost $":     "cost $",
	}
	for in, want := range tests {
		if got := expandVars(in, vars); got != want {
			t.Errorf("expandVars(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestWriteAtomicSwapsContent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if err := writeAtomic(dir, map[string]fileContent{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}); err != nil {
		t.Fatal(err)
	}
	if read("a") != "1" || read("sub/b") != "2" {
		t.Fatalf("a=%s sub/b=%s", read("a"), read("sub/b"))
	}
	if err := writeAtomic(dir, map[string]fileContent{"a": {[]byte("3"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if read("a") != "3" {
		t.Errorf("a = %s; want 3", read("a"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("sub still there: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	stamps := 0
	for _, e := range entries {
		if len(e.Name()) > 8 && e.Name()[:8] == "..skiff_" {
			stamps++
		}
	}
	if stamps != 1 {
		t.Errorf("%d data directories left; want 1", stamps)
	}
}

func TestPodFieldValue(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "p", "ns", "u"
	pod.Labels = map[string]string{"b": "2", "a": "1"}
	tests := map[string]string{
		"metadata.name":             "p",
		"metadata.labels['a']":      "1",
		"metadata.labels":           "a=\"1\"\nb=\"2\"",
		"status.hostIP":             "10.0.0.1",
		"metadata.namespace":        "ns",
		"metadata.annotations['x']": "",
	}
	for path, want := range tests {
		got, err := podFieldValue(pod, path, "10.0.0.1")
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := podFieldValue(pod, "spec.bogus", ""); err == nil {
		t.Error("spec.bogus: no error")
	}
}
