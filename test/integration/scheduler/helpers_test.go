package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// env is a test server with a scheduler running on it.
type env struct {
	t      testing.TB
	client kubernetes.Interface
	sched  *scheduler.Scheduler
}

// start runs a server and a scheduler; both stop at cleanup.
func start(t testing.TB, cfg *scheduler.Config) *env {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{})
	e := &env{t: t, client: srv.Client}
	e.runScheduler(cfg)
	return e
}

func (e *env) runScheduler(cfg *scheduler.Config) {
	e.t.Helper()
	factory := informers.NewSharedInformerFactory(e.client, 0)
	s, err := scheduler.New(e.client, factory, scheduler.Options{
		Config: cfg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		e.t.Fatalf("scheduler.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			e.t.Errorf("scheduler.Run: %v", err)
		}
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	e.sched = s
}

type nodeOpt func(*corev1.Node)

func labels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func taint(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

// node creates a node with cpu (millicores), 16Gi memory and room for 110
// pods.
func (e *env) node(name string, milliCPU int64, opts ...nodeOpt) {
	e.t.Helper()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
				corev1.ResourceMemory: resource.MustParse("16Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
		},
	}
	n.Status.Capacity = n.Status.Allocatable
	for _, o := range opts {
		o(n)
	}
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("create node %s: %v", name, err)
	}
}

type podOpt func(*corev1.Pod)

func podLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

// priority gives pods the priority v through a PriorityClass (the Priority
// admission plugin resolves it; pods may not set spec.priority themselves).
func (e *env) priority(v int32) podOpt {
	e.t.Helper()
	name := fmt.Sprintf("prio-%d", v)
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}
	if _, err := e.client.SchedulingV1().PriorityClasses().Create(context.Background(), pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatalf("create priority class %s: %v", name, err)
	}
	return func(p *corev1.Pod) { p.Spec.PriorityClassName = name }
}

func tolerate(key string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

func affinity(a *corev1.Affinity) podOpt { return func(p *corev1.Pod) { p.Spec.Affinity = a } }

func newPod(ns, name string, milliCPU int64, opts ...podOpt) *corev1.Pod {
	zero := int64(0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "c", Image: "registry.example/app:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
				}},
			}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func (e *env) pod(name string, milliCPU int64, opts ...podOpt) *corev1.Pod {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods("default").Create(context.Background(), newPod("default", name, milliCPU, opts...), metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod %s: %v", name, err)
	}
	return p
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not met after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBound waits for the pod to be assigned and returns its node.
func (e *env) waitBound(name string) string {
	e.t.Helper()
	var node string
	eventually(e.t, 15*time.Second, func() (bool, string) {
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		node = p.Spec.NodeName
		return node != "", fmt.Sprintf("pod %s unassigned; conditions %+v", name, p.Status.Conditions)
	})
	return node
}

// waitUnschedulable waits for PodScheduled=False/Unschedulable and returns
// its message.
func (e *env) waitUnschedulable(name string) string {
	e.t.Helper()
	var msg string
	eventually(e.t, 15*time.Second, func() (bool, string) {
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				msg = c.Message
				return true, ""
			}
		}
		return false, fmt.Sprintf("pod %s has no Unschedulable condition (node %q)", name, p.Spec.NodeName)
	})
	return msg
}

// createPods creates pods with workers creators in parallel.
func createPods(t testing.TB, client kubernetes.Interface, pods []*corev1.Pod, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan *corev1.Pod)
	errc := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				if _, err := client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	for _, p := range pods {
		ch <- p
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatalf("create pod: %v", err)
	default:
	}
}
