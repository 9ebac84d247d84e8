package job

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// indexFailureCountAnnotation records on a pod how many earlier pods of the
// same index failed (backoffLimitPerIndex).
const indexFailureCountAnnotation = "batch.kubernetes.io/job-index-failure-count"

// removeFinalizerPatch drops only the tracking finalizer, whatever other
// finalizers the pod carries.
var removeFinalizerPatch = []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + TrackingFinalizer + `"]}}`)

func hasFinalizer(pod *corev1.Pod) bool {
	for _, f := range pod.Finalizers {
		if f == TrackingFinalizer {
			return true
		}
	}
	return false
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// podIndex is the completion index of pod, or -1 when it has none.
func podIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[CompletionIndexAnnotation]
	if !ok {
		v, ok = pod.Labels[CompletionIndexAnnotation]
	}
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// indexFailures is the failure count a pod of an index carries.
func indexFailures(pod *corev1.Pod) int {
	n, err := strconv.Atoi(pod.Annotations[indexFailureCountAnnotation])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// isFailed reports whether pod counts as failed. Without a podFailurePolicy
// a deleted pod that did not succeed counts as failed at once; with one,
// only the Failed phase does, so its conditions can be matched.
func isFailed(pod *corev1.Pod, job *batchv1.Job) bool {
	if pod.Status.Phase == corev1.PodFailed {
		return true
	}
	return job.Spec.PodFailurePolicy == nil && pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded
}

func isReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// finishTime is when pod finished: its containers' last exit, else its
// deletion, else now.
func finishTime(pod *corev1.Pod, now time.Time) time.Time {
	var t time.Time
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if t.IsZero() && pod.DeletionTimestamp != nil {
		t = pod.DeletionTimestamp.Time
	}
	if t.IsZero() {
		t = now
	}
	return t
}

// newPod builds a pod of job from its template; index is the completion
// index (-1 for NonIndexed) and failures the index's earlier failures.
func newPod(job *batchv1.Job, index, failures int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      []string{TrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: t.Spec,
	}
	if index < 0 {
		return pod
	}
	idx := strconv.Itoa(index)
	pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, index)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[CompletionIndexAnnotation] = idx
	pod.Labels[CompletionIndexAnnotation] = idx
	if job.Spec.BackoffLimitPerIndex != nil {
		pod.Annotations[indexFailureCountAnnotation] = strconv.Itoa(failures)
	}
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
	}
	env := corev1.EnvVar{Name: CompletionIndexEnv, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.annotations['%s']", CompletionIndexAnnotation)},
	}}
	addEnv(pod.Spec.InitContainers, env)
	addEnv(pod.Spec.Containers, env)
	return pod
}

func addEnv(cs []corev1.Container, env corev1.EnvVar) {
	for i := range cs {
		defined := false
		for _, e := range cs[i].Env {
			defined = defined || e.Name == env.Name
		}
		if !defined {
			cs[i].Env = append(cs[i].Env, env)
		}
	}
}

// removeFinalizer drops the tracking finalizer from pod; a pod already
// gone is fine.
func (c *Controller) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deletePod removes an unfinished pod the job no longer wants: its
// finalizer first, so it is never counted, then the pod itself. A pod
// already gone is fine, and no event.
func (c *Controller) deletePod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	var err error
	if hasFinalizer(pod) {
		err = c.removeFinalizer(ctx, pod)
	}
	if err == nil {
		err = c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	}
	switch {
	case err == nil:
		c.recorder.Eventf(job, pod, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Delete", "Deleted pod: %s", pod.Name)
	case apierrors.IsNotFound(err):
		return nil
	default:
		c.recorder.Eventf(job, pod, corev1.EventTypeWarning, ReasonFailedDelete, "Delete", "Error deleting: %v", err)
	}
	return err
}
