package kubelet

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func resources(cpuReq, memReq, cpuLim, memLim string) corev1.ResourceRequirements {
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	return corev1.ResourceRequirements{Requests: list(cpuReq, memReq), Limits: list(cpuLim, memLim)}
}

func resizePod(r corev1.ResourceRequirements) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: r}}},
	}
}

func TestResizeFits(t *testing.T) {
	allocatable := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("1Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	other := resizePod(resources("1", "512Mi", "", ""))
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantReason  string
		wantMessage string
	}{
		{"fits", resizePod(resources("500m", "256Mi", "", "")), "", ""},
		{"memory beyond the node", resizePod(resources("500m", "2Gi", "", "")), "Infeasible",
			"Node didn't have enough capacity: memory, requested: 2147483648, capacity: 1073741824"},
		{"cpu beyond the node", resizePod(resources("3", "256Mi", "", "")), "Infeasible",
			"Node didn't have enough capacity: cpu, requested: 3000, capacity: 2000"},
		{"not beside the others", resizePod(resources("1500m", "256Mi", "", "")), "Deferred",
			"Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, msg := resizeFits(tt.pod, []*corev1.Pod{other}, allocatable)
			if reason != tt.wantReason || msg != tt.wantMessage {
				t.Errorf("got %q %q; want %q %q", reason, msg, tt.wantReason, tt.wantMessage)
			}
		})
	}
}

func TestNeedsRestart(t *testing.T) {
	c := &corev1.Container{ResizePolicy: []corev1.ContainerResizePolicy{
		{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired},
		{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer},
	}}
	base := resources("100m", "32Mi", "", "64Mi")
	if needsRestart(c, base, resources("200m", "32Mi", "", "64Mi")) {
		t.Error("cpu change restarts; want in place")
	}
	if !needsRestart(c, base, resources("100m", "32Mi", "", "128Mi")) {
		t.Error("memory change in place; want a restart")
	}
}

// TestResizeStatus: a running container reports what it was given and
// its allocated requests; a pending resize and an unapplied allocation
// show as upstream's conditions.
func TestResizeStatus(t *testing.T) {
	applied := resources("100m", "32Mi", "", "64Mi")
	allocated := resources("100m", "32Mi", "", "128Mi")
	w := &podWorker{resize: resizeState{
		Allocated: map[string]corev1.ResourceRequirements{"c": allocated},
		Actuated:  map[string]corev1.ResourceRequirements{"c0": applied},
	}}
	state := rtState("c=running")
	cs := corev1.ContainerStatus{Name: "c"}
	w.statusResources(&cs, state)
	if cs.Resources == nil || !cs.Resources.Limits.Memory().Equal(resource.MustParse("64Mi")) {
		t.Errorf("resources = %v; want the applied 64Mi limit", cs.Resources)
	}
	if !cs.AllocatedResources.Memory().Equal(resource.MustParse("32Mi")) {
		t.Errorf("allocatedResources = %v; want the allocated requests", cs.AllocatedResources)
	}

	pod := resizePod(allocated)
	pod.Generation = 3
	now := metav1.Now()
	conds := w.resizeConditions(pod, state, nil, now)
	if len(conds) != 1 || conds[0].Type != corev1.PodResizeInProgress || conds[0].Reason != "" || conds[0].ObservedGeneration != 3 {
		t.Errorf("conditions = %+v; want PodResizeInProgress", conds)
	}

	w.resize.Actuated["c0"] = allocated
	w.resize.pendingReason, w.resize.pendingMessage = "Infeasible", "Node didn't have enough capacity: memory"
	conds = w.resizeConditions(pod, state, nil, now)
	if len(conds) != 1 || conds[0].Type != corev1.PodResizePending || conds[0].Reason != "Infeasible" {
		t.Errorf("conditions = %+v; want PodResizePending Infeasible", conds)
	}

	w.resize.pendingReason = ""
	w.resize.actuateErr = errors.New("boom")
	conds = w.resizeConditions(pod, state, nil, now)
	if len(conds) != 1 || conds[0].Type != corev1.PodResizeInProgress || conds[0].Reason != "Error" || conds[0].Message != "boom" {
		t.Errorf("conditions = %+v; want PodResizeInProgress Error boom", conds)
	}

	cs = corev1.ContainerStatus{Name: "c"}
	w.statusResources(&cs, rtState("c=exited:0"))
	if cs.Resources != nil {
		t.Errorf("exited container has resources %v; want none", cs.Resources)
	}
}
