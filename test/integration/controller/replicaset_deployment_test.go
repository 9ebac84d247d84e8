package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// markAllPodsReady plays the node agent for the namespace until the test
// ends: every live pod not yet Running is marked Running and Ready.
func markAllPodsReady(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range pods.Items {
					p := &pods.Items[i]
					if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
						continue
					}
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
					_, _ = c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// livePods lists the pods of ns matching sel that are not being deleted.
func livePods(c kubernetes.Interface, ns, sel string) ([]corev1.Pod, error) {
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func appTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}, Annotations: map[string]string{"note": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
}

func waitLivePods(t *testing.T, c kubernetes.Interface, ns, sel string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, 20*time.Second, func() (bool, string) {
		var err error
		pods, err = livePods(c, ns, sel)
		if err != nil {
			return false, err.Error()
		}
		return len(pods) == n, fmt.Sprintf("%d pods; want %d", len(pods), n)
	})
	return pods
}

func TestReplicaSetScaleAndReplace(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "rs")
	markAllPodsReady(t, c, "rs")
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: pointerTo(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: appTemplate("web", "nginx:1"),
		},
	}
	rs, err := c.AppsV1().ReplicaSets("rs").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitLivePods(t, c, "rs", "app=web", 3)
	for _, p := range pods {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rs.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion || p.GenerateName != "web-" || p.Annotations["note"] != "web" {
			t.Errorf("pod %s: owner %+v, generateName %q, annotations %v", p.Name, ref, p.GenerateName, p.Annotations)
		}
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		cur, err := c.AppsV1().ReplicaSets("rs").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := cur.Status
		return st.Replicas == 3 && st.ReadyReplicas == 3 && st.AvailableReplicas == 3 && st.FullyLabeledReplicas == 3 && st.ObservedGeneration == cur.Generation,
			fmt.Sprintf("status %+v generation %d", st, cur.Generation)
	})

	for _, n := range []int32{5, 2} {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			scale, err := c.AppsV1().ReplicaSets("rs").GetScale(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			scale.Spec.Replicas = n
			_, err = c.AppsV1().ReplicaSets("rs").UpdateScale(ctx, "web", scale, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pods = waitLivePods(t, c, "rs", "app=web", int(n))
	}

	// A killed pod is replaced.
	victim := pods[0].Name
	if err := c.CoreV1().Pods("rs").Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: pointerTo(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		pods, err := livePods(c, "rs", "app=web")
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods {
			if p.Name == victim {
				return false, "victim still there"
			}
		}
		return len(pods) == 2, fmt.Sprintf("%d pods", len(pods))
	})

	// An orphan matching the selector is adopted and the surplus deleted.
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "web"}}, Spec: appTemplate("web", "nginx:1").Spec}
	if _, err := c.CoreV1().Pods("rs").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods = waitLivePods(t, c, "rs", "app=web", 2)

	// A pod relabelled out of the selector is released and replaced.
	if _, err := c.CoreV1().Pods("rs").Patch(ctx, pods[0].Name, types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		p, err := c.CoreV1().Pods("rs").Get(ctx, pods[0].Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.GetControllerOf(p) == nil, "still owned"
	})
	waitLivePods(t, c, "rs", "app=web", 2)
}

func TestReplicationController(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "rc")
	markAllPodsReady(t, c, "rc")
	tmpl := appTemplate("old", "nginx:1")
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "old"},
		Spec:       corev1.ReplicationControllerSpec{Replicas: pointerTo(int32(2)), Selector: map[string]string{"app": "old"}, Template: &tmpl},
	}
	rc, err := c.CoreV1().ReplicationControllers("rc").Create(ctx, rc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range waitLivePods(t, c, "rc", "app=old", 2) {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "ReplicationController" || ref.UID != rc.UID {
			t.Errorf("pod %s owner %+v", p.Name, ref)
		}
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		cur, err := c.CoreV1().ReplicationControllers("rc").Get(ctx, "old", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cur.Status.Replicas == 2 && cur.Status.AvailableReplicas == 2 && cur.Status.ObservedGeneration == cur.Generation, fmt.Sprintf("status %+v", cur.Status)
	})
	if _, err := c.CoreV1().ReplicationControllers("rc").Patch(ctx, "old", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLivePods(t, c, "rc", "app=old", 0)
}

func rollingDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	surge, unavail := intstr.FromInt32(1), intstr.FromInt32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: pointerTo(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: appTemplate(name, image),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail}},
		},
	}
}

// waitRolledOut waits until the Deployment reports what kubectl rollout
// status waits for, with every live pod running image.
func waitRolledOut(t *testing.T, c kubernetes.Interface, ns, name, image string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	eventually(t, 30*time.Second, func() (bool, string) {
		var err error
		d, err = c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st, n := d.Status, *d.Spec.Replicas
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != n || st.Replicas != n || st.AvailableReplicas != n {
			return false, fmt.Sprintf("status %+v", st)
		}
		pods, err := livePods(c, ns, "app="+name)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods {
			if p.Spec.Containers[0].Image != image {
				return false, "pod " + p.Name + " runs " + p.Spec.Containers[0].Image
			}
		}
		return len(pods) == int(n), fmt.Sprintf("%d pods", len(pods))
	})
	return d
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

// watchPods samples the live pods matching sel every 10ms until stop is
// closed, calling check on each sample; it returns the first complaint and
// how many samples were taken.
func watchPods(c kubernetes.Interface, ns, sel string, check func([]corev1.Pod) string) (stop func() (string, int)) {
	done := make(chan struct{})
	var (
		wg      sync.WaitGroup
		first   string
		samples int
	)
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if pods, err := livePods(c, ns, sel); err == nil {
				samples++
				if msg := check(pods); msg != "" && first == "" {
					first = msg
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return func() (string, int) { close(done); wg.Wait(); return first, samples }
}

func TestDeploymentRollingUpdateBounds(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "roll")
	markAllPodsReady(t, c, "roll")
	const replicas, surge, unavail = 4, 1, 1
	if _, err := c.AppsV1().Deployments("roll").Create(ctx, rollingDeployment("web", replicas, "nginx:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := waitRolledOut(t, c, "roll", "web", "nginx:1")
	if got := deploymentCondition(d, appsv1.DeploymentProgressing); got.Reason != "NewReplicaSetAvailable" {
		t.Errorf("Progressing = %+v; want reason NewReplicaSetAvailable", got)
	}
	if got := deploymentCondition(d, appsv1.DeploymentAvailable); got.Status != corev1.ConditionTrue || got.Reason != "MinimumReplicasAvailable" {
		t.Errorf("Available = %+v", got)
	}

	stop := watchPods(c, "roll", "app=web", func(pods []corev1.Pod) string {
		ready := 0
		for i := range pods {
			if isPodReady(&pods[i]) {
				ready++
			}
		}
		if len(pods) > replicas+surge {
			return fmt.Sprintf("%d pods > %d", len(pods), replicas+surge)
		}
		if ready < replicas-unavail {
			return fmt.Sprintf("%d ready < %d", ready, replicas-unavail)
		}
		return ""
	})
	if _, err := c.AppsV1().Deployments("roll").Patch(ctx, "web", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, c, "roll", "web", "nginx:2")
	if msg, samples := stop(); msg != "" {
		t.Errorf("rolling update bounds broken (%d samples): %s", samples, msg)
	}

	rss, err := c.AppsV1().ReplicaSets("roll").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revs := map[string]*appsv1.ReplicaSet{}
	for i := range rss.Items {
		rs := &rss.Items[i]
		revs[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
		if h := rs.Labels["pod-template-hash"]; h == "" || rs.Name != "web-"+h || rs.Spec.Selector.MatchLabels["pod-template-hash"] != h {
			t.Errorf("replica set %s: labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
		}
	}
	if len(revs) != 2 || revs["1"] == nil || revs["2"] == nil || *revs["1"].Spec.Replicas != 0 {
		t.Fatalf("replica sets by revision: %v", revs)
	}

	// Scale through the scale subresource.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := c.AppsV1().Deployments("roll").GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 6
		_, err = c.AppsV1().Deployments("roll").UpdateScale(ctx, "web", scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, c, "roll", "web", "nginx:2")
}

// rollbackPatch is what kubectl rollout undo sends: the old ReplicaSet's
// template without the pod-template-hash label.
func rollbackPatch(t *testing.T, rs *appsv1.ReplicaSet) []byte {
	t.Helper()
	tmpl := rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, "pod-template-hash")
	b, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeploymentRollbackAndRecreate(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "undo")
	markAllPodsReady(t, c, "undo")
	d := rollingDeployment("app", 2, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first"}
	if _, err := c.AppsV1().Deployments("undo").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, c, "undo", "app", "nginx:1")
	if _, err := c.AppsV1().Deployments("undo").Patch(ctx, "app", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"kubernetes.io/change-cause":"second"}},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, c, "undo", "app", "nginx:2")
	eventually(t, 10*time.Second, func() (bool, string) {
		d, err := c.AppsV1().Deployments("undo").Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		rev := d.Annotations["deployment.kubernetes.io/revision"]
		return rev == "2", fmt.Sprintf("deployment revision annotation %q; want 2", rev)
	})
	byRev := func() map[string]appsv1.ReplicaSet {
		rss, err := c.AppsV1().ReplicaSets("undo").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]appsv1.ReplicaSet{}
		for _, rs := range rss.Items {
			out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
		}
		return out
	}
	revs := byRev()
	first, second := revs["1"], revs["2"]
	if first.Annotations["kubernetes.io/change-cause"] != "first" || second.Annotations["kubernetes.io/change-cause"] != "second" {
		t.Errorf("change-cause: rev1 %q rev2 %q", first.Annotations["kubernetes.io/change-cause"], second.Annotations["kubernetes.io/change-cause"])
	}

	// Roll back to revision 1: its ReplicaSet becomes revision 3.
	if _, err := c.AppsV1().Deployments("undo").Patch(ctx, "app", types.JSONPatchType, rollbackPatch(t, &first), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, c, "undo", "app", "nginx:1")
	eventually(t, 10*time.Second, func() (bool, string) {
		revs = byRev()
		rs, ok := revs["3"]
		return ok && rs.Name == first.Name && rs.Annotations["deployment.kubernetes.io/revision-history"] == "1",
			fmt.Sprintf("revision 3: %s %v", rs.Name, rs.Annotations)
	})

	// Recreate: all old pods go before any new one exists.
	if _, err := c.AppsV1().Deployments("undo").Patch(ctx, "app", types.MergePatchType,
		[]byte(`{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null},"template":{"spec":{"containers":[{"name":"c","image":"nginx:3"}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := watchPods(c, "undo", "app=app", func(pods []corev1.Pod) string {
		images := map[string]bool{}
		for _, p := range pods {
			images[p.Spec.Containers[0].Image] = true
		}
		if images["nginx:3"] && len(images) > 1 {
			return fmt.Sprint("old and new pods together: ", images)
		}
		return ""
	})
	waitRolledOut(t, c, "undo", "app", "nginx:3")
	if msg, _ := stop(); msg != "" {
		t.Errorf("Recreate: %s", msg)
	}
}

func pointerTo[T any](v T) *T { return &v }
