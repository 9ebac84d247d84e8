package apiserver

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/resources"
)

// A Job created without a selector gets the generated one, as upstream's
// job strategy does, so that validation (selector required) passes.
func TestPrepareKindCreateJobSelector(t *testing.T) {
	res := &resource{info: resources.Info{
		GVK:          schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"},
		Subresources: []string{"status"},
	}}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", UID: "u-1"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}},
	}
	prepareKindCreate(res, job)
	if job.Spec.Selector == nil {
		t.Fatal("spec.selector = nil; want the generated selector")
	}
	if got := job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]; got != "u-1" {
		t.Errorf("selector controller-uid = %q; want %q", got, "u-1")
	}
	if got := job.Spec.Template.Labels["batch.kubernetes.io/job-name"]; got != "j" {
		t.Errorf("template job-name label = %q; want %q", got, "j")
	}
}
