package controller

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func statefulSet(name string, replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			ServiceName:         name,
			PodManagementPolicy: policy,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
			},
		},
	}
}

// podNames lists the names of the pods in ns with label app=app.
func podNames(c kubernetes.Interface, ns, app string) []string {
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func waitPods(t *testing.T, c kubernetes.Interface, ns, app string, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, func() (bool, string) {
		got := podNames(c, ns, app)
		return slices.Equal(got, want), fmt.Sprintf("pods %v; want %v", got, want)
	})
}

// markReady plays the node agent: the pod is Running and Ready.
func markReady(t *testing.T, c kubernetes.Interface, ns string, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, n := range names {
		eventually(t, 10*time.Second, func() (bool, string) {
			p, err := c.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
			if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				return false, err.Error()
			}
			return true, ""
		})
	}
}

func TestStatefulSet(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	const ns = "sts"
	createNamespace(t, c, ns)
	sts := c.AppsV1().StatefulSets(ns)

	if _, err := sts.Create(ctx, statefulSet("web", 3, appsv1.OrderedReadyPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sts.Create(ctx, statefulSet("par", 3, appsv1.ParallelPodManagement), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Parallel: all at once, no readiness needed.
	waitPods(t, c, ns, "par", "par-0", "par-1", "par-2")
	waitEvent(t, c, ns, wantEvent{kind: "StatefulSet", name: "par", controller: "statefulset-controller",
		eventtype: corev1.EventTypeNormal, reason: "SuccessfulCreate", messagePrefix: "create Pod par-2 in StatefulSet par successful"})

	// OrderedReady: each pod waits for the one before it.
	waitPods(t, c, ns, "web", "web-0")
	time.Sleep(300 * time.Millisecond)
	waitPods(t, c, ns, "web", "web-0")
	markReady(t, c, ns, "web-0")
	waitPods(t, c, ns, "web", "web-0", "web-1")
	markReady(t, c, ns, "web-1")
	waitPods(t, c, ns, "web", "web-0", "web-1", "web-2")
	markReady(t, c, ns, "web-2")
	var rev1 string
	eventually(t, 20*time.Second, func() (bool, string) {
		cur, err := sts.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := cur.Status
		rev1 = st.CurrentRevision
		return st.ReadyReplicas == 3 && st.AvailableReplicas == 3 && st.CurrentRevision != "" && st.CurrentRevision == st.UpdateRevision,
			fmt.Sprintf("status %+v", st)
	})

	// Partitioned rolling update: only web-2 moves to the new revision.
	patch := `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}},"template":{"spec":{"containers":[{"name":"c","image":"img:2"}]}}}}`
	if _, err := sts.Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var rev2 string
	eventually(t, 20*time.Second, func() (bool, string) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, "web-2", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cur, _ := sts.Get(ctx, "web", metav1.GetOptions{})
		rev2 = cur.Status.UpdateRevision
		return rev2 != rev1 && p.Labels[appsv1.ControllerRevisionHashLabelKey] == rev2 && p.Spec.Containers[0].Image == "img:2",
			fmt.Sprintf("web-2 revision %q image %q; update revision %q", p.Labels[appsv1.ControllerRevisionHashLabelKey], p.Spec.Containers[0].Image, rev2)
	})
	markReady(t, c, ns, "web-2")
	eventually(t, 20*time.Second, func() (bool, string) {
		cur, _ := sts.Get(ctx, "web", metav1.GetOptions{})
		st := cur.Status
		return st.UpdatedReplicas == 1 && st.CurrentReplicas == 2 && st.ReadyReplicas == 3, fmt.Sprintf("status %+v", st)
	})
	for _, n := range []string{"web-0", "web-1"} {
		p, err := c.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Labels[appsv1.ControllerRevisionHashLabelKey]; got != rev1 {
			t.Errorf("%s at revision %q; want %q (below the partition)", n, got, rev1)
		}
	}

	// Scale down: highest ordinal first, one at a time.
	if _, err := sts.Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, ns, "web", "web-0")
	waitEvent(t, c, ns, wantEvent{kind: "StatefulSet", name: "web", controller: "statefulset-controller",
		eventtype: corev1.EventTypeNormal, reason: "SuccessfulDelete", messagePrefix: "delete Pod web-1 in StatefulSet web successful"})
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	const ns = "ds"
	createNamespace(t, c, ns)
	mkNode := func(name string, lbls map[string]string) {
		t.Helper()
		if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	lbl := map[string]string{"ds-test": "yes"}
	mkNode("ds-n1", lbl)
	mkNode("ds-n2", lbl)
	mkNode("ds-other", nil)

	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{
					// The nodes never report Ready, so they carry the
					// not-ready:NoSchedule taint; a node agent's daemon
					// tolerates everything.
					Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					NodeSelector: lbl,
					Containers:   []corev1.Container{{Name: "c", Image: "img:1"}},
				},
			},
		},
	}
	if _, err := c.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNodes := func(want ...string) {
		t.Helper()
		eventually(t, 20*time.Second, func() (bool, string) {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
			if err != nil {
				return false, err.Error()
			}
			var got []string
			for _, p := range pods.Items {
				terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
				got = append(got, terms[0].MatchFields[0].Values[0])
			}
			sort.Strings(got)
			return slices.Equal(got, want), fmt.Sprintf("pods for nodes %v; want %v", got, want)
		})
	}
	waitNodes("ds-n1", "ds-n2")
	waitEvent(t, c, ns, wantEvent{kind: "DaemonSet", name: "agent", controller: "daemonset-controller",
		eventtype: corev1.EventTypeNormal, reason: "SuccessfulCreate", messagePrefix: "Created pod: agent-"})

	mkNode("ds-n3", lbl)
	waitNodes("ds-n1", "ds-n2", "ds-n3")

	if _, err := c.CoreV1().Nodes().Patch(ctx, "ds-n2", types.MergePatchType, []byte(`{"metadata":{"labels":{"ds-test":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Nodes().Patch(ctx, "ds-other", types.MergePatchType, []byte(`{"metadata":{"labels":{"ds-test":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNodes("ds-n1", "ds-n3", "ds-other")
	waitEvent(t, c, ns, wantEvent{kind: "DaemonSet", name: "agent", controller: "daemonset-controller",
		eventtype: corev1.EventTypeNormal, reason: "SuccessfulDelete", messagePrefix: "Deleted pod: agent-"})

	if err := c.CoreV1().Nodes().Delete(ctx, "ds-n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNodes("ds-n3", "ds-other")
	eventually(t, 20*time.Second, func() (bool, string) {
		cur, err := c.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := cur.Status
		return st.DesiredNumberScheduled == 2 && st.CurrentNumberScheduled == 2 && st.UpdatedNumberScheduled == 2 && st.ObservedGeneration == cur.Generation,
			fmt.Sprintf("status %+v", st)
	})
}
