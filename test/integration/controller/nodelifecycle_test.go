package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// startWithControllers starts a test server and the named controllers on
// clk; both stop when the test ends.
func startWithControllers(t *testing.T, clk *testingclock.FakeClock, names ...string) *testserver.Server {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts := manager.Options{Logger: log, MaxRetryDelay: time.Second, Controllers: names, UseServiceAccountCredentials: true}
	if clk != nil {
		opts.Clock = clk
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, managerConfig(s), opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager.Run: %v", err)
		}
	})
	return s
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func nodeReady(t *testing.T, c kubernetes.Interface, name string, status corev1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A node whose heartbeats stop is marked Unknown, tainted unreachable, and
// its pods are evicted once their tolerationSeconds pass.
func TestNodeLifecycleUnreachable(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	s := startWithControllers(t, clk, "node-lifecycle", "node-ipam")
	c := s.Client
	ctx := context.Background()
	const node = "nlc-node"
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: ptr.To(metav1.NewMicroTime(time.Now()))},
	}, metav1.CreateOptions{}); err != nil && !isAlreadyExists(err) {
		t.Fatal(err)
	}
	nodeReady(t, c, node, corev1.ConditionTrue)
	getNode := func() *corev1.Node {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		n := getNode()
		return !hasTaint(n, "node.kubernetes.io/not-ready", corev1.TaintEffectNoSchedule) && n.Spec.PodCIDR != "",
			fmt.Sprintf("taints %v podCIDR %q", n.Spec.Taints, n.Spec.PodCIDR)
	})
	createNamespace(t, c, "nlc")
	pod, err := c.CoreV1().Pods("nlc").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := c.CoreV1().Pods("nlc").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	clk.Step(41 * time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		n := getNode()
		var ready corev1.NodeCondition
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				ready = cond
			}
		}
		ok := ready.Status == corev1.ConditionUnknown && ready.Reason == "NodeStatusUnknown" &&
			hasTaint(n, "node.kubernetes.io/unreachable", corev1.TaintEffectNoExecute) &&
			hasTaint(n, "node.kubernetes.io/unreachable", corev1.TaintEffectNoSchedule)
		return ok, fmt.Sprintf("ready %+v taints %v", ready, n.Spec.Taints)
	})
	eventually(t, 10*time.Second, func() (bool, string) {
		p, err := c.CoreV1().Pods("nlc").Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionFalse {
				return true, ""
			}
		}
		return false, fmt.Sprintf("pod conditions %v", p.Status.Conditions)
	})
	// Not yet: the toleration holds for 300s.
	time.Sleep(300 * time.Millisecond)
	if p, err := c.CoreV1().Pods("nlc").Get(ctx, "p", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("pod evicted before its tolerationSeconds: %v", err)
	}
	clk.Step(301 * time.Second)
	eventually(t, 10*time.Second, func() (bool, string) {
		p, err := c.CoreV1().Pods("nlc").Get(ctx, "p", metav1.GetOptions{})
		if isNotFound(err) || err == nil && p.DeletionTimestamp != nil {
			return true, ""
		}
		return false, fmt.Sprintf("pod still there (err %v)", err)
	})
}

func readyPod(t *testing.T, c kubernetes.Interface, ns, name string, lbls map[string]string, ip string, ready bool, owner *metav1.OwnerReference) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	pod, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEndpointsForService(t *testing.T) {
	s := startWithControllers(t, nil, "endpoints", "endpointslice")
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "eps")
	lbls := map[string]string{"app": "web"}
	readyPod(t, c, "eps", "a", lbls, "10.1.0.1", true, nil)
	readyPod(t, c, "eps", "b", lbls, "10.1.0.2", false, nil)
	svc, err := c.CoreV1().Services("eps").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: lbls, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		ep, err := c.CoreV1().Endpoints("eps").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || len(ep.Subsets[0].NotReadyAddresses) != 1 {
			return false, fmt.Sprintf("subsets %+v", ep.Subsets)
		}
		ss := ep.Subsets[0]
		ok := ss.Addresses[0].IP == "10.1.0.1" && ss.NotReadyAddresses[0].IP == "10.1.0.2" && ss.Ports[0].Port == 8080
		return ok && ep.Annotations["endpoints.kubernetes.io/last-change-trigger-time"] != "", fmt.Sprintf("subsets %+v annotations %v", ep.Subsets, ep.Annotations)
	})
	eventually(t, 10*time.Second, func() (bool, string) {
		list, err := c.DiscoveryV1().EndpointSlices("eps").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		if err != nil {
			return false, err.Error()
		}
		if len(list.Items) != 1 {
			return false, fmt.Sprintf("%d slices", len(list.Items))
		}
		sl := list.Items[0]
		if sl.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" || len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].UID != svc.UID {
			return false, fmt.Sprintf("labels %v owners %v", sl.Labels, sl.OwnerReferences)
		}
		ready := 0
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
		return len(sl.Endpoints) == 2 && ready == 1 && sl.AddressType == discoveryv1.AddressTypeIPv4, fmt.Sprintf("endpoints %+v", sl.Endpoints)
	})
}

func TestPodDisruptionBudgetStatus(t *testing.T) {
	s := startWithControllers(t, nil, "disruption")
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "pdb")
	lbls := map[string]string{"app": "db"}
	readyPod(t, c, "pdb", "a", lbls, "10.2.0.1", true, nil)
	readyPod(t, c, "pdb", "b", lbls, "10.2.0.2", true, nil)
	readyPod(t, c, "pdb", "c", lbls, "10.2.0.3", false, nil)
	min2 := intstr.FromInt32(2)
	if _, err := c.PolicyV1().PodDisruptionBudgets("pdb").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &min2, Selector: &metav1.LabelSelector{MatchLabels: lbls}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(healthy, allowed int32) {
		eventually(t, 10*time.Second, func() (bool, string) {
			p, err := c.PolicyV1().PodDisruptionBudgets("pdb").Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			st := p.Status
			ok := st.CurrentHealthy == healthy && st.DesiredHealthy == 2 && st.ExpectedPods == 3 &&
				st.DisruptionsAllowed == allowed && st.ObservedGeneration == p.Generation && len(st.Conditions) == 1
			return ok, fmt.Sprintf("status %+v", st)
		})
	}
	check(2, 0)
	p, err := c.CoreV1().Pods("pdb").Get(ctx, "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := c.CoreV1().Pods("pdb").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	check(3, 1)
	// The eviction subresource takes the one disruption, then refuses.
	ev := func(name string) error {
		return c.PolicyV1().Evictions("pdb").Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pdb"}})
	}
	if err := ev("a"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	err = ev("b")
	if !isTooManyRequests(err) {
		t.Fatalf("second eviction: %v; want 429", err)
	}
}

func isAlreadyExists(err error) bool   { return apierrors.IsAlreadyExists(err) }
func isTooManyRequests(err error) bool { return apierrors.IsTooManyRequests(err) }
