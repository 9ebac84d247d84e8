package apiserver

import (
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodContainer(t *testing.T) {
	one := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}}
	two := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "a"}, {Name: "b"}},
	}}
	annotated := two.DeepCopy()
	annotated.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "b"}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		in      string
		want    string
		wantErr string
	}{
		{"the only container", one, "", "a", ""},
		{"named", two, "b", "b", ""},
		{"an init container", two, "init", "init", ""},
		{"the default-container annotation", annotated, "", "b", ""},
		{"must choose", two, "", "", "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [init]"},
		{"unknown", one, "x", "", "container x is not valid for pod p"},
	} {
		got, err := podContainer(tc.pod, tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: err %v; want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestValidateLogQuery(t *testing.T) {
	for _, tc := range []struct {
		q       string
		wantErr string
	}{
		{"follow=true&tailLines=10&timestamps=1", ""},
		{"sinceTime=2024-05-01T10:00:00Z", ""},
		{"tailLines=-1", "tailLines"},
		{"limitBytes=0", "limitBytes"},
		{"sinceSeconds=0", "sinceSeconds"},
		{"follow=sometimes", "follow"},
		{"sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z", "at most one"},
	} {
		q, _ := url.ParseQuery(tc.q)
		err := validateLogQuery(q)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.q, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err %v; want one about %s", tc.q, err, tc.wantErr)
		}
	}
}

func TestWaitingMessage(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "a", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
		{Name: "b", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}},
	}}}
	if got, want := waitingMessage(pod, "a"), `container "a" in pod "p" is waiting to start: ContainerCreating`; got != want {
		t.Errorf("waiting: got %q; want %q", got, want)
	}
	if got := waitingMessage(pod, "b"); got != "" {
		t.Errorf("running: got %q", got)
	}
	if got := waitingMessage(pod, "c"); got != "" {
		t.Errorf("crash-looping, with a previous run to show: got %q", got)
	}
}
