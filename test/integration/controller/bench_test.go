package controller

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// The benchmarks here measure the controllers end to end against an
// in-process server running the controller manager and the scheduler
// (testserver Options ControllerManager and Scheduler), with fake Node
// objects and no node agent. Every figure includes the API server, etcd and
// the bench's own clients on the same cores. Reported, never asserted.
//
//	go test ./test/integration/controller -run XXX -bench . -benchtime 1x -timeout 30m
//
// SKIFF_BENCH_CPUPROFILE=DIR writes a CPU profile of the whole test process
// per benchmark phase to DIR.

// benchClient returns a clientset for s without a client-side rate limit
// worth the name.
func benchClient(s *testserver.Server) kubernetes.Interface {
	cfg := rest.CopyConfig(s.Config)
	cfg.QPS, cfg.Burst = 10000, 20000
	return kubernetes.NewForConfigOrDie(cfg)
}

// profilePhase starts a CPU profile of the phase if SKIFF_BENCH_CPUPROFILE
// is set; the returned func stops it.
func profilePhase(b *testing.B, name string) func() {
	dir := os.Getenv("SKIFF_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s/%s.pprof", dir, name))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// BenchmarkDeployment5000 creates a 5,000-replica Deployment on 100 fake
// nodes and reports the seconds until all its pods exist (created-s), are
// bound (bound-s) and the Deployment is available (available-s); then it
// changes the pod template and reports the seconds until the rolling update
// is complete as kubectl rollout status sees it (rollout-s). A fake kubelet
// (fakeKubelet) marks bound pods Running and Ready and finishes graceful
// deletions, and renews the nodes' Leases.
func BenchmarkDeployment5000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchDeployment(b, 100, 5000)
	}
}

func benchDeployment(b *testing.B, nodes, replicas int) {
	b.StopTimer()
	s := testserver.Start(b, testserver.Options{ControllerManager: true, Scheduler: true})
	c := benchClient(s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns = "bench"
	createNamespace(b, c, ns)
	createReadyNodes(b, c, nodes)

	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	pods := f.Core().V1().Pods()
	kl := newFakeKubelet(c, pods.Informer())
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { kl.run(ctx, 8) })
	wg.Go(func() { renewLeases(ctx, c, nodes) })

	podCounts := func() (live, bound int) {
		objs, _ := pods.Lister().Pods(ns).List(labels.Everything())
		for _, p := range objs {
			if p.DeletionTimestamp != nil {
				continue
			}
			live++
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		return live, bound
	}

	d := rollingDeployment("web", int32(replicas), "registry.example/app:1")
	d.Spec.Strategy.RollingUpdate = nil // upstream's default: 25% surge, 25% unavailable
	d.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}

	stop := profilePhase(b, "deployment-create")
	b.StartTimer()
	began := time.Now()
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var created, bound time.Duration
	poll(b, 5*time.Minute, func() (bool, string) {
		live, nb := podCounts()
		if created == 0 && live >= replicas {
			created = time.Since(began)
		}
		return nb >= replicas, fmt.Sprintf("%d live, %d bound", live, nb)
	})
	bound = time.Since(began)
	waitDeploymentDone(b, c, ns, "web", 5*time.Minute)
	available := time.Since(began)
	b.StopTimer()
	stop()

	stop = profilePhase(b, "deployment-rollout")
	b.StartTimer()
	began = time.Now()
	if _, err := c.AppsV1().Deployments(ns).Patch(ctx, "web", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example/app:2"}]}}}}`), metav1.PatchOptions{}); err != nil {
		b.Fatal(err)
	}
	waitDeploymentDone(b, c, ns, "web", 10*time.Minute)
	rollout := time.Since(began)
	b.StopTimer()
	stop()

	b.ReportMetric(created.Seconds(), "created-s")
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(available.Seconds(), "available-s")
	b.ReportMetric(rollout.Seconds(), "rollout-s")
	b.ReportMetric(float64(kl.statusWrites.Load()), "status-writes")
}

// waitDeploymentDone waits for what kubectl rollout status waits for.
func waitDeploymentDone(b *testing.B, c kubernetes.Interface, ns, name string, timeout time.Duration) {
	poll(b, timeout, func() (bool, string) {
		d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st, n := d.Status, *d.Spec.Replicas
		done := st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n
		return done, fmt.Sprintf("status %+v", st)
	})
}

// poll checks cond every 100ms until it holds or timeout passes.
func poll(b *testing.B, timeout time.Duration, cond func() (bool, string)) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("not done after %v: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createReadyNodes creates n Ready nodes (32 cpu, 64Gi, 250 pods) with 16
// clients.
func createReadyNodes(b *testing.B, c kubernetes.Interface, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				name := fmt.Sprintf("n%04d", i)
				alloc := corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("32"),
					corev1.ResourceMemory: resource.MustParse("64Gi"),
					corev1.ResourcePods:   resource.MustParse("250"),
				}
				node := &corev1.Node{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
						corev1.LabelHostname: name, corev1.LabelTopologyZone: "z" + strconv.Itoa(i%5),
					}},
					Status: corev1.NodeStatus{
						Capacity: alloc, Allocatable: alloc,
						Conditions: []corev1.NodeCondition{{
							Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
							LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
						}},
					},
				}
				if _, err := c.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
					b.Errorf("create node %s: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// renewLeases keeps the nodes' heartbeats in kube-node-lease fresh, as
// kubelets do every 10s, so node-lifecycle never marks them Unknown.
func renewLeases(ctx context.Context, c kubernetes.Interface, n int) {
	leases := c.CoordinationV1().Leases("kube-node-lease")
	for ctx.Err() == nil {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			name := fmt.Sprintf("n%04d", i)
			now := metav1.NewMicroTime(time.Now())
			l, err := leases.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				dur := int32(40)
				_, _ = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &dur, RenewTime: &now}}, metav1.CreateOptions{})
				continue
			}
			if err != nil {
				continue
			}
			l.Spec.RenewTime = &now
			_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
}

// fakeKubelet plays every node agent at once: a bound pod that is not yet
// Running is marked Running and Ready through UpdateStatus, and a pod
// being deleted gracefully is deleted for good, by a small pool of
// workers fed from a pod informer.
type fakeKubelet struct {
	c            kubernetes.Interface
	store        cache.Store
	queue        workqueue.TypedRateLimitingInterface[string]
	statusWrites atomic.Int64
}

func newFakeKubelet(c kubernetes.Interface, inf cache.SharedIndexInformer) *fakeKubelet {
	k := &fakeKubelet{c: c, store: inf.GetStore(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	enqueue := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			k.queue.Add(p.Namespace + "/" + p.Name)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, n any) { enqueue(n) },
	})
	return k
}

// run runs workers until ctx ends.
func (k *fakeKubelet) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				key, quit := k.queue.Get()
				if quit {
					return
				}
				if err := k.sync(ctx, key); err != nil && ctx.Err() == nil {
					k.queue.AddRateLimited(key)
				} else {
					k.queue.Forget(key)
				}
				k.queue.Done(key)
			}
		})
	}
	<-ctx.Done()
	k.queue.ShutDown()
	wg.Wait()
}

func (k *fakeKubelet) sync(ctx context.Context, key string) error {
	obj, ok, err := k.store.GetByKey(key)
	if err != nil || !ok {
		return err
	}
	p := obj.(*corev1.Pod)
	if p.DeletionTimestamp != nil {
		zero := int64(0)
		err := k.c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodRunning {
		return nil
	}
	p = p.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.PodIP = "10.42.0.1"
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	_, err = k.c.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer version is on its way through the informer
	}
	if err == nil {
		k.statusWrites.Add(1)
	}
	return err
}

// BenchmarkNamespaceDeletion10000 fills a namespace with 10,000 objects of
// ten kinds (1,000 each; see kinds) and reports the seconds from the
// namespace's DELETE until it is gone (delete-s), and the creation rate
// (creates/s, 16 clients).
func BenchmarkNamespaceDeletion10000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchNamespaceDeletion(b, 1000)
	}
}

func benchNamespaceDeletion(b *testing.B, perKind int) {
	b.StopTimer()
	s := testserver.Start(b, testserver.Options{ControllerManager: true, Scheduler: true})
	c := benchClient(s)
	ctx := context.Background()
	const ns = "doomed"
	createNamespace(b, c, ns)
	total := perKind * len(kinds)
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				k := kinds[i%len(kinds)]
				if err := k.create(ctx, c, ns, fmt.Sprintf("o%05d", i)); err != nil {
					b.Errorf("create %s: %v", k.name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	createRate := float64(total) / time.Since(began).Seconds()
	if b.Failed() {
		return
	}

	stop := profilePhase(b, "namespace-delete")
	b.StartTimer()
	began = time.Now()
	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		b.Fatal(err)
	}
	poll(b, 10*time.Minute, func() (bool, string) {
		n, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("namespace %s: %+v", n.Status.Phase, n.Status.Conditions)
	})
	elapsed := time.Since(began)
	b.StopTimer()
	stop()
	b.ReportMetric(elapsed.Seconds(), "delete-s")
	b.ReportMetric(createRate, "creates/s")
}
