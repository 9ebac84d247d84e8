package kubelet

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// rtState builds a podRuntime from "name=state" entries, one container
// each: state is running, created, exited:0 or exited:1; a container is
// in sandbox "sb" unless the entry ends in "@old".
func rtState(entries ...string) *podRuntime {
	st := &podRuntime{containers: map[string][]*runtimeapi.ContainerStatus{}, sandboxOf: map[string]string{}}
	for i, e := range entries {
		name, rest, _ := strings.Cut(e, "=")
		state, sandbox, old := strings.Cut(rest, "@")
		if !old {
			sandbox = "sb"
		}
		c := &runtimeapi.ContainerStatus{Id: name + string(rune('0'+i))}
		switch {
		case state == "running":
			c.State = runtimeapi.ContainerState_CONTAINER_RUNNING
		case state == "created":
			c.State = runtimeapi.ContainerState_CONTAINER_CREATED
		case state == "exited:0":
			c.State = runtimeapi.ContainerState_CONTAINER_EXITED
		default:
			c.State, c.ExitCode = runtimeapi.ContainerState_CONTAINER_EXITED, 1
		}
		st.containers[name] = append(st.containers[name], c)
		st.sandboxOf[c.Id] = sandbox
	}
	return st
}

// sidecarPod has init containers "setup" (regular), "proxy" (sidecar)
// and "migrate" (regular), then the app container "app".
func sidecarPod(policy corev1.RestartPolicy) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{Spec: corev1.PodSpec{
		RestartPolicy: policy,
		InitContainers: []corev1.Container{
			{Name: "setup"}, {Name: "proxy", RestartPolicy: &always}, {Name: "migrate"},
		},
		Containers: []corev1.Container{{Name: "app"}},
	}}
}

func TestInitSteps(t *testing.T) {
	tests := []struct {
		name      string
		state     *podRuntime
		unstarted bool // the startup probe of every container has not passed
		wantSteps []string
		wantDone  bool
	}{
		{"nothing ran: the first init container", rtState(), false, []string{"setup"}, false},
		{"first running: wait", rtState("setup=running"), false, nil, false},
		{"first failed: run it again", rtState("setup=exited:1"), false, []string{"setup"}, false},
		{"first done: start the sidecar", rtState("setup=exited:0"), false, []string{"proxy"}, false},
		{"sidecar running, not started: wait", rtState("setup=exited:0", "proxy=running"), true, []string{"proxy"}, false},
		{"sidecar started: the next init container", rtState("setup=exited:0", "proxy=running"), false, []string{"proxy", "migrate"}, false},
		{"sidecar exited before init: restart it first", rtState("setup=exited:0", "proxy=exited:1"), false, []string{"proxy"}, false},
		{"all done: apps may run", rtState("setup=exited:0", "proxy=running", "migrate=exited:0"), false, []string{"proxy"}, true},
		{"initialized, sidecar exited: restart it, apps go on", rtState("setup=exited:0", "proxy=exited:1", "migrate=exited:0", "app=running"), false, []string{"proxy"}, true},
		{"initialized, sidecar restarting unstarted: apps go on", rtState("setup=exited:0", "proxy=running", "migrate=exited:0", "app=running"), true, []string{"proxy"}, true},
		{"initialized, init records gone: not run again", rtState("proxy=running", "app=running"), false, []string{"proxy"}, true},
		{"app only in an old sandbox: initialize again", rtState("app=exited:0@old"), false, []string{"setup"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := sidecarPod(corev1.RestartPolicyAlways)
			steps, done := initSteps(pod, tt.state, "sb", func(string) bool { return !tt.unstarted })
			var names []string
			for _, i := range steps {
				names = append(names, pod.Spec.InitContainers[i].Name)
			}
			if !slices.Equal(names, tt.wantSteps) || done != tt.wantDone {
				t.Errorf("initSteps = %v, %v; want %v, %v", names, done, tt.wantSteps, tt.wantDone)
			}
		})
	}
}

func TestAppsDone(t *testing.T) {
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		state  *podRuntime
		want   bool
	}{
		{"never, app exited 0", corev1.RestartPolicyNever, rtState("proxy=running", "app=exited:0"), true},
		{"never, app failed", corev1.RestartPolicyNever, rtState("proxy=running", "app=exited:1"), true},
		{"never, app running", corev1.RestartPolicyNever, rtState("proxy=running", "app=running"), false},
		{"never, app not started", corev1.RestartPolicyNever, rtState("proxy=running"), false},
		{"never, app only in an old sandbox", corev1.RestartPolicyNever, rtState("proxy=running", "app=exited:0@old"), false},
		{"on failure, app exited 0", corev1.RestartPolicyOnFailure, rtState("proxy=running", "app=exited:0"), true},
		{"on failure, app failed: restarts", corev1.RestartPolicyOnFailure, rtState("proxy=running", "app=exited:1"), false},
		{"always, app exited 0: restarts", corev1.RestartPolicyAlways, rtState("proxy=running", "app=exited:0"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appsDone(sidecarPod(tt.policy), tt.state, "sb"); got != tt.want {
				t.Errorf("appsDone = %v; want %v", got, tt.want)
			}
		})
	}
}
