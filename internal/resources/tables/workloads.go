package tables

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func int32Ptr(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

func replicaSetCells(o *appsv1.ReplicaSet, now time.Time) []interface{} {
	names, images := containerCells(o.Spec.Template.Spec.Containers)
	return []interface{}{
		o.Name, int32Ptr(o.Spec.Replicas), int64(o.Status.Replicas), int64(o.Status.ReadyReplicas), since(o.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(o.Spec.Selector),
	}
}

func daemonSetCells(o *appsv1.DaemonSet, now time.Time) []interface{} {
	s := o.Status
	names, images := containerCells(o.Spec.Template.Spec.Containers)
	return []interface{}{
		o.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
		int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable),
		labels.FormatLabels(o.Spec.Template.Spec.NodeSelector), since(o.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(o.Spec.Selector),
	}
}

func deploymentCells(o *appsv1.Deployment, now time.Time) []interface{} {
	selector := "<invalid>"
	if sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector); err == nil {
		selector = sel.String()
	}
	names, images := containerCells(o.Spec.Template.Spec.Containers)
	return []interface{}{
		o.Name, fmt.Sprintf("%d/%d", o.Status.ReadyReplicas, int32Ptr(o.Spec.Replicas)),
		int64(o.Status.UpdatedReplicas), int64(o.Status.AvailableReplicas), since(o.CreationTimestamp, now),
		names, images, selector,
	}
}

func statefulSetCells(o *appsv1.StatefulSet, now time.Time) []interface{} {
	names, images := containerCells(o.Spec.Template.Spec.Containers)
	return []interface{}{
		o.Name, fmt.Sprintf("%d/%d", o.Status.ReadyReplicas, int32Ptr(o.Spec.Replicas)), since(o.CreationTimestamp, now),
		names, images,
	}
}

// controllerRevisionCells names the owning controller as kind.group/name.
func controllerRevisionCells(o *appsv1.ControllerRevision, now time.Time) ([]interface{}, error) {
	controller := "<none>"
	if ref := metav1.GetControllerOf(o); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return nil, err
		}
		controller = ref.Name
		if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
			controller = strings.ToLower(gk.String()) + "/" + ref.Name
		}
	}
	return []interface{}{o.Name, controller, o.Revision, since(o.CreationTimestamp, now)}, nil
}

// jobCondition reports whether the job's first condition of type t is True.
func jobCondition(o *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range o.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func jobCells(o *batchv1.Job, now time.Time) []interface{} {
	var completions string
	switch {
	case o.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", o.Status.Succeeded, *o.Spec.Completions)
	case int32Ptr(o.Spec.Parallelism) > 1:
		completions = fmt.Sprintf("%d/1 of %d", o.Status.Succeeded, *o.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", o.Status.Succeeded)
	}

	var took string
	switch {
	case o.Status.StartTime == nil:
	case o.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(o.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(o.Status.CompletionTime.Sub(o.Status.StartTime.Time))
	}

	var status string
	switch {
	case jobCondition(o, batchv1.JobComplete):
		status = "Complete"
	case jobCondition(o, batchv1.JobFailed):
		status = "Failed"
	case o.DeletionTimestamp != nil:
		status = "Terminating"
	case jobCondition(o, batchv1.JobSuspended):
		status = "Suspended"
	case jobCondition(o, batchv1.JobFailureTarget):
		status = "FailureTarget"
	default:
		status = "Running"
	}

	names, images := containerCells(o.Spec.Template.Spec.Containers)
	return []interface{}{
		o.Name, status, completions, took, since(o.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(o.Spec.Selector),
	}
}

func cronJobCells(o *batchv1.CronJob, now time.Time) []interface{} {
	last := "<none>"
	if o.Status.LastScheduleTime != nil {
		last = since(*o.Status.LastScheduleTime, now)
	}
	tz := "<none>"
	if o.Spec.TimeZone != nil {
		tz = *o.Spec.TimeZone
	}
	job := o.Spec.JobTemplate.Spec
	names, images := containerCells(job.Template.Spec.Containers)
	return []interface{}{
		o.Name, o.Spec.Schedule, tz, boolPtr(o.Spec.Suspend), int64(len(o.Status.Active)), last, since(o.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(job.Selector),
	}
}

func pdbCells(o *policyv1.PodDisruptionBudget, now time.Time) []interface{} {
	minAvailable, maxUnavailable := "N/A", "N/A"
	if o.Spec.MinAvailable != nil {
		minAvailable = o.Spec.MinAvailable.String()
	}
	if o.Spec.MaxUnavailable != nil {
		maxUnavailable = o.Spec.MaxUnavailable.String()
	}
	return []interface{}{o.Name, minAvailable, maxUnavailable, int64(o.Status.DisruptionsAllowed), since(o.CreationTimestamp, now)}
}

func hpaCells(o *autoscalingv2.HorizontalPodAutoscaler, now time.Time) []interface{} {
	ref := o.Spec.ScaleTargetRef.Kind + "/" + o.Spec.ScaleTargetRef.Name
	minPods := "<unset>"
	if o.Spec.MinReplicas != nil {
		minPods = fmt.Sprintf("%d", *o.Spec.MinReplicas)
	}
	return []interface{}{
		o.Name, ref, hpaTargets(o.Spec.Metrics, o.Status.CurrentMetrics), minPods,
		int64(o.Spec.MaxReplicas), int64(o.Status.CurrentReplicas), since(o.CreationTimestamp, now),
	}
}

// hpaTargets renders "current/target" per metric, at most two of them.
// Status entries are matched to spec entries by position, as upstream does.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	status := func(i int) *autoscalingv2.MetricStatus {
		if i < len(statuses) {
			return &statuses[i]
		}
		return nil
	}
	var list []string
	for i, spec := range specs {
		st := status(i)
		current := "<unknown>"
		if !sourceSet(spec) {
			// Validation keeps this from being stored; render rather than
			// panic should it happen anyway.
			list = append(list, "<unknown type>")
			continue
		}
		switch spec.Type {
		case autoscalingv2.ExternalMetricSourceType:
			if spec.External.Target.AverageValue != nil {
				if st != nil && st.External != nil && st.External.Current.AverageValue != nil {
					current = st.External.Current.AverageValue.String()
				}
				list = append(list, fmt.Sprintf("%s/%s (avg)", current, spec.External.Target.AverageValue.String()))
			} else {
				if st != nil && st.External != nil {
					current = st.External.Current.Value.String()
				}
				list = append(list, fmt.Sprintf("%s/%s", current, spec.External.Target.Value.String()))
			}
		case autoscalingv2.PodsMetricSourceType:
			if st != nil && st.Pods != nil {
				current = st.Pods.Current.AverageValue.String()
			}
			list = append(list, fmt.Sprintf("%s/%s", current, spec.Pods.Target.AverageValue.String()))
		case autoscalingv2.ObjectMetricSourceType:
			if spec.Object.Target.AverageValue != nil {
				if st != nil && st.Object != nil && st.Object.Current.AverageValue != nil {
					current = st.Object.Current.AverageValue.String()
				}
				list = append(list, fmt.Sprintf("%s/%s (avg)", current, spec.Object.Target.AverageValue.String()))
			} else {
				if st != nil && st.Object != nil {
					current = st.Object.Current.Value.String()
				}
				list = append(list, fmt.Sprintf("%s/%s", current, spec.Object.Target.Value.String()))
			}
		case autoscalingv2.ResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.Resource != nil {
				cur = &st.Resource.Current
			}
			list = append(list, resourceTarget(spec.Resource.Name.String(), spec.Resource.Target, cur))
		case autoscalingv2.ContainerResourceMetricSourceType:
			var cur *autoscalingv2.MetricValueStatus
			if st != nil && st.ContainerResource != nil {
				cur = &st.ContainerResource.Current
			}
			list = append(list, resourceTarget(spec.ContainerResource.Name.String(), spec.ContainerResource.Target, cur))
		default:
			list = append(list, "<unknown type>")
		}
	}
	const max = 2
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ", "), len(list)-max)
	}
	return strings.Join(list, ", ")
}

// sourceSet reports whether the metric source its type names is present.
func sourceSet(spec autoscalingv2.MetricSpec) bool {
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		return spec.External != nil
	case autoscalingv2.PodsMetricSourceType:
		return spec.Pods != nil
	case autoscalingv2.ObjectMetricSourceType:
		return spec.Object != nil
	case autoscalingv2.ResourceMetricSourceType:
		return spec.Resource != nil
	case autoscalingv2.ContainerResourceMetricSourceType:
		return spec.ContainerResource != nil
	}
	return true
}

// resourceTarget renders "name: current/target" for a (container) resource
// metric, by average value or by utilization.
func resourceTarget(name string, target autoscalingv2.MetricTarget, cur *autoscalingv2.MetricValueStatus) string {
	current := "<unknown>"
	if target.AverageValue != nil {
		if cur != nil {
			current = cur.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, current, target.AverageValue.String())
	}
	if cur != nil && cur.AverageUtilization != nil {
		current = fmt.Sprintf("%d%%", *cur.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, current, want)
}

// hpaV2 lifts an autoscaling/v1 HPA to v2, the way its CPU target and
// current utilization convert.
func hpaV2(o *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	out := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: o.ObjectMeta,
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				Kind: o.Spec.ScaleTargetRef.Kind, Name: o.Spec.ScaleTargetRef.Name, APIVersion: o.Spec.ScaleTargetRef.APIVersion,
			},
			MinReplicas: o.Spec.MinReplicas,
			MaxReplicas: o.Spec.MaxReplicas,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas: o.Status.CurrentReplicas,
			DesiredReplicas: o.Status.DesiredReplicas,
		},
	}
	if t := o.Spec.TargetCPUUtilizationPercentage; t != nil {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: t},
			},
		}}
	}
	if c := o.Status.CurrentCPUUtilizationPercentage; c != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: c},
			},
		}}
	}
	return out
}
