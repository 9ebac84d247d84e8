package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func debugContainer(name, target string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox"},
		TargetContainerName:      target,
	}
}

func TestValidateEphemeralContainersUpdate(t *testing.T) {
	withDebugger := func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("debugger", "c")}
	}
	tests := []struct {
		name     string
		old, obj *corev1.Pod
		want     []want
	}{
		{"add", pod(nil), pod(withDebugger), nil},
		{"add a second", pod(withDebugger), pod(func(p *corev1.Pod) {
			withDebugger(p)
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugContainer("second", ""))
		}), nil},
		{"remove", pod(withDebugger), pod(nil), []want{{"spec.ephemeralContainers", field.ErrorTypeForbidden}}},
		{"change", pod(withDebugger), pod(func(p *corev1.Pod) {
			withDebugger(p)
			p.Spec.EphemeralContainers[0].Image = "other"
		}), []want{{"spec.ephemeralContainers", field.ErrorTypeForbidden}}},
		{"name taken by an app container", pod(nil), pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("c", "")}
		}), []want{{"spec.ephemeralContainers[0].name", field.ErrorTypeDuplicate}}},
		{"unknown target", pod(nil), pod(func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugContainer("d", "nope")}
		}), []want{{"spec.ephemeralContainers[0].targetContainerName", field.ErrorTypeNotFound}}},
		{"ports, probes and resources", pod(nil), pod(func(p *corev1.Pod) {
			ec := debugContainer("d", "")
			ec.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
			ec.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			ec.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}), []want{
			{"spec.ephemeralContainers[0].ports", field.ErrorTypeForbidden},
			{"spec.ephemeralContainers[0].readinessProbe", field.ErrorTypeForbidden},
			{"spec.ephemeralContainers[0].resources", field.ErrorTypeForbidden},
		}},
		{"static pod", pod(func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "h"} }),
			pod(func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotation: "h"}; withDebugger(p) }),
			[]want{{field.NewPath("").String(), field.ErrorTypeForbidden}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, ValidatePodSubresourceUpdate("ephemeralcontainers", tt.obj, tt.old), tt.want)
		})
	}
}

func TestValidatePodResize(t *testing.T) {
	q := resource.MustParse
	burstable := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: q("200m"), corev1.ResourceMemory: q("64Mi")},
		}
	}
	resized := func(mut func(r *corev1.ResourceRequirements)) *corev1.Pod {
		return pod(func(p *corev1.Pod) { burstable(p); mut(&p.Spec.Containers[0].Resources) })
	}
	tests := []struct {
		name string
		obj  *corev1.Pod
		want []want
	}{
		{"raise memory limit", resized(func(r *corev1.ResourceRequirements) { r.Limits[corev1.ResourceMemory] = q("128Mi") }), nil},
		{"lower cpu request", resized(func(r *corev1.ResourceRequirements) { r.Requests[corev1.ResourceCPU] = q("50m") }), nil},
		{"becomes guaranteed", resized(func(r *corev1.ResourceRequirements) {
			r.Requests[corev1.ResourceCPU], r.Requests[corev1.ResourceMemory] = q("200m"), q("64Mi")
		}), []want{{"spec", field.ErrorTypeInvalid}}},
		{"limit removed", resized(func(r *corev1.ResourceRequirements) { delete(r.Limits, corev1.ResourceMemory) }),
			[]want{{"spec.containers[0].resources.limits", field.ErrorTypeForbidden}}},
		{"request above limit", resized(func(r *corev1.ResourceRequirements) { r.Requests[corev1.ResourceCPU] = q("300m") }),
			[]want{{"spec.containers[0].resources.requests[cpu]", field.ErrorTypeInvalid}}},
		{"other resource", resized(func(r *corev1.ResourceRequirements) { r.Limits[corev1.ResourceEphemeralStorage] = q("1Gi") }),
			[]want{{"spec", field.ErrorTypeForbidden}}},
		{"other field", pod(func(p *corev1.Pod) { burstable(p); p.Spec.Containers[0].Args = []string{"x"} }),
			[]want{{"spec", field.ErrorTypeForbidden}}},
		{"resize policy", pod(func(p *corev1.Pod) {
			burstable(p)
			p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}}
		}), nil},
	}
	old := pod(burstable)
	old.Status.QOSClass = corev1.PodQOSBurstable
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.obj.Status = old.Status
			check(t, ValidatePodSubresourceUpdate("resize", tt.obj, old), tt.want)
		})
	}
	t.Run("request removed", func(t *testing.T) {
		requests := func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("32Mi")}
		}
		old, obj := pod(requests), pod(requests)
		delete(obj.Spec.Containers[0].Resources.Requests, corev1.ResourceMemory)
		check(t, ValidatePodSubresourceUpdate("resize", obj, old), []want{{"spec.containers[0].resources.requests", field.ErrorTypeForbidden}})
	})
	t.Run("node without resize", func(t *testing.T) {
		running := old.DeepCopy()
		running.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		obj := resized(func(r *corev1.ResourceRequirements) { r.Limits[corev1.ResourceMemory] = q("128Mi") })
		obj.Status = running.Status
		check(t, ValidatePodSubresourceUpdate("resize", obj, running), []want{{"spec", field.ErrorTypeForbidden}})
	})
}
