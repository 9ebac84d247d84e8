package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestJobs creates Jobs and CronJobs with kubectl; with no node agent the
// test plays the node and marks pods Succeeded through the status
// subresource.
func TestJobs(t *testing.T) {
	ns := newNamespace(t)
	client := kubernetes.NewForConfigOrDie(restConfig)
	ctx := context.Background()

	if out := mustKubectl(t, "", "create", "job", "hello", "-n", ns, "--image=busybox", "--", "echo", "hi"); out != "job.batch/hello created\n" {
		t.Fatalf("create job: %q", out)
	}
	eventually(t, 30*time.Second, func() error {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=hello"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d pods; want 1", len(pods.Items))
		}
		p := pods.Items[0]
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) && p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("pod %s has no tracking finalizer", p.Name)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			p.Status.Phase = corev1.PodSucceeded
			if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		job, err := client.BatchV1().Jobs(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if job.Status.Succeeded != 1 || job.Status.CompletionTime == nil {
			return fmt.Errorf("job status %+v", job.Status)
		}
		return nil
	})
	lines := strings.Split(strings.TrimSpace(mustKubectl(t, "", "get", "jobs", "-n", ns)), "\n")
	cols := columnStarts(lines[0])
	if got, want := strings.Join(columnNames(cols), ","), "NAME,STATUS,COMPLETIONS,DURATION,AGE"; got != want {
		t.Errorf("get jobs columns %s; want %s", got, want)
	}
	if len(lines) != 2 {
		t.Fatalf("get jobs: %q", lines)
	}
	row := cellsOf(lines[1], cols)
	if row["NAME"] != "hello" || row["STATUS"] != "Complete" || row["COMPLETIONS"] != "1/1" {
		t.Errorf("get jobs row %v; want hello Complete 1/1", row)
	}

	if out := mustKubectl(t, "", "create", "cronjob", "nightly", "-n", ns, "--image=busybox", "--schedule=0 3 * * *", "--", "date"); out != "cronjob.batch/nightly created\n" {
		t.Fatalf("create cronjob: %q", out)
	}
	if out := mustKubectl(t, "", "create", "job", "manual", "-n", ns, "--from=cronjob/nightly"); out != "job.batch/manual created\n" {
		t.Fatalf("create job --from: %q", out)
	}
	job, err := client.BatchV1().Jobs(ns).Get(ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "CronJob" || ref.Name != "nightly" {
		t.Errorf("manual job owner %+v; want CronJob nightly", job.OwnerReferences)
	}
	if job.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" {
		t.Errorf("manual job annotations %v", job.Annotations)
	}
	// The job controller runs it; the CronJob controller lists it active.
	eventually(t, 30*time.Second, func() error {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=manual"})
		if err != nil || len(pods.Items) != 1 {
			return fmt.Errorf("manual job pods: %d, %v", len(pods.Items), err)
		}
		cj, err := client.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil || len(cj.Status.Active) != 1 {
			return fmt.Errorf("cronjob active %v, %v", cj.Status.Active, err)
		}
		return nil
	})
	out := mustKubectl(t, "", "get", "cronjobs", "-n", ns)
	if !strings.Contains(out, "nightly") || !strings.Contains(out, "0 3 * * *") {
		t.Errorf("get cronjobs: %q", out)
	}
}
