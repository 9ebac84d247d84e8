package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// actAsKubelet plays the node agent for ns until the test ends: pods are
// marked Running and Ready, and pods being deleted from a node are removed.
func actAsKubelet(t *testing.T, ns string) {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					switch {
					case p.DeletionTimestamp != nil:
						zero := int64(0)
						_ = c.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
					case p.Status.Phase != corev1.PodRunning:
						p.Status.Phase = corev1.PodRunning
						p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
						_, _ = c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// rolledOut runs kubectl rollout status and fails unless it reports success.
func rolledOut(t *testing.T, ns, ref string) {
	t.Helper()
	out := mustKubectl(t, "", "rollout", "status", ref, "-n", ns, "--timeout=50s")
	if !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status: %q", out)
	}
}

func deploymentImage(t *testing.T, ns, name string) string {
	t.Helper()
	return mustKubectl(t, "", "get", "deployment", name, "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
}

// podImages is the sorted image of every pod of app=name not being deleted.
func podImages(t *testing.T, ns, name string) string {
	t.Helper()
	return mustKubectl(t, "", "get", "pods", "-n", ns, "-l", "app="+name,
		"-o", `jsonpath={range .items[?(@.metadata.deletionTimestamp)]}x{end}{range .items[*]}{.spec.containers[0].image}{" "}{end}`)
}

func waitPodImages(t *testing.T, ns, name, image string, n int) {
	t.Helper()
	want := strings.Repeat(image+" ", n)
	eventually(t, 30*time.Second, func() error {
		if got := podImages(t, ns, name); got != want {
			return fmt.Errorf("pod images %q; want %q", got, want)
		}
		return nil
	})
}

func TestRollout(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	actAsKubelet(t, ns)

	mustKubectl(t, "", "create", "deployment", "web", "-n", ns, "--image=nginx:1.25", "--replicas=2")
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.25", 2)

	mustKubectl(t, "", "scale", "deployment/web", "-n", ns, "--replicas=3")
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.25", 3)

	// As upstream, the change-cause goes to the current ReplicaSet, so it
	// is annotated after the template change.
	mustKubectl(t, "", "set", "image", "deployment/web", "-n", ns, "nginx=nginx:1.26")
	mustKubectl(t, "", "annotate", "deployment/web", "-n", ns, "kubernetes.io/change-cause=upgrade to 1.26")
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.26", 3)

	eventually(t, 10*time.Second, func() error {
		hist := mustKubectl(t, "", "rollout", "history", "deployment/web", "-n", ns)
		if !regexpLine(hist, `^1\s+<none>`) || !regexpLine(hist, `^2\s+upgrade to 1.26`) {
			return fmt.Errorf("rollout history:\n%s", hist)
		}
		return nil
	})
	if rev := mustKubectl(t, "", "rollout", "history", "deployment/web", "-n", ns, "--revision=1"); !strings.Contains(rev, "nginx:1.25") {
		t.Errorf("rollout history --revision=1:\n%s", rev)
	}

	// Undo goes back to revision 1, which becomes revision 3.
	mustKubectl(t, "", "rollout", "undo", "deployment/web", "-n", ns)
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.25", 3)
	if hist := mustKubectl(t, "", "rollout", "history", "deployment/web", "-n", ns); !regexpLine(hist, `^3\s`) || regexpLine(hist, `^1\s`) {
		t.Errorf("history after undo:\n%s", hist)
	}
	mustKubectl(t, "", "rollout", "undo", "deployment/web", "-n", ns, "--to-revision=2")
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.26", 3)

	// Paused: template changes wait for resume.
	mustKubectl(t, "", "rollout", "pause", "deployment/web", "-n", ns)
	mustKubectl(t, "", "set", "image", "deployment/web", "-n", ns, "nginx=nginx:1.27")
	eventually(t, 10*time.Second, func() error {
		reason := mustKubectl(t, "", "get", "deployment/web", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Progressing")].reason}`)
		if reason != "DeploymentPaused" {
			return fmt.Errorf("Progressing reason %q; want DeploymentPaused", reason)
		}
		return nil
	})
	time.Sleep(time.Second)
	if got := podImages(t, ns, "web"); got != strings.Repeat("nginx:1.26 ", 3) {
		t.Errorf("paused deployment rolled out: pods %q", got)
	}
	mustKubectl(t, "", "rollout", "resume", "deployment/web", "-n", ns)
	rolledOut(t, ns, "deployment/web")
	waitPodImages(t, ns, "web", "nginx:1.27", 3)
	if got := deploymentImage(t, ns, "web"); got != "nginx:1.27" {
		t.Errorf("image %q", got)
	}

	// --cascade=orphan leaves the ReplicaSets and pods, unowned.
	mustKubectl(t, "", "delete", "deployment/web", "-n", ns, "--cascade=orphan")
	eventually(t, 20*time.Second, func() error {
		owners := mustKubectl(t, "", "get", "rs", "-n", ns, "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.ownerReferences}{" "}{end}`)
		if strings.Contains(owners, "Deployment") || strings.Count(owners, "=") < 3 {
			return fmt.Errorf("replica sets after orphaning: %s", owners)
		}
		return nil
	})
	waitPodImages(t, ns, "web", "nginx:1.27", 3)

	// --cascade=foreground removes everything before the Deployment.
	mustKubectl(t, "", "create", "deployment", "fg", "-n", ns, "--image=nginx:1.25", "--replicas=2")
	rolledOut(t, ns, "deployment/fg")
	mustKubectl(t, "", "delete", "deployment/fg", "-n", ns, "--cascade=foreground", "--timeout=50s")
	eventually(t, 30*time.Second, func() error {
		left := mustKubectl(t, "", "get", "deployment,rs,pods", "-n", ns, "-l", "app=fg", "-o", "name")
		if left != "" {
			return fmt.Errorf("left after foreground delete: %s", left)
		}
		return nil
	})
}

// regexpLine reports whether some line of s matches pattern.
func regexpLine(s, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, line := range strings.Split(s, "\n") {
		if re.MatchString(strings.TrimSpace(line)) {
			return true
		}
	}
	return false
}
