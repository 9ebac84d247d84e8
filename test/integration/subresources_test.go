package integration

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func int32p(i int32) *int32 { return &i }

func TestStatusSubresource(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := protoClient(t, s.Config)
	ctx := context.Background()
	createNamespace(t, c, "status")
	deps := c.AppsV1().Deployments("status")
	d, err := deps.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: int32p(1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: podTemplate("web"),
		},
		Status: appsv1.DeploymentStatus{Replicas: 9},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 1 || d.Status.Replicas != 0 {
		t.Errorf("created: generation %d status.replicas %d; want 1 and 0 (status is not set on create)", d.Generation, d.Status.Replicas)
	}

	// UpdateStatus changes status only.
	in := d.DeepCopy()
	in.Status.Replicas, in.Status.ObservedGeneration = 5, 1
	in.Spec.Replicas = int32p(7)
	d, err = deps.UpdateStatus(ctx, in, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if d.Status.Replicas != 5 || d.Status.ObservedGeneration != 1 || *d.Spec.Replicas != 1 || d.Generation != 1 {
		t.Errorf("after UpdateStatus: status.replicas %d observedGeneration %d spec.replicas %d generation %d; want 5 1 1 1",
			d.Status.Replicas, d.Status.ObservedGeneration, *d.Spec.Replicas, d.Generation)
	}

	// Update of the main resource ignores status; metadata changes do not
	// bump generation.
	in = d.DeepCopy()
	in.Status.Replicas = 42
	in.Labels = map[string]string{"touched": "yes"}
	d, err = deps.Update(ctx, in, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if d.Status.Replicas != 5 || d.Labels["touched"] != "yes" || d.Generation != 1 {
		t.Errorf("after metadata+status Update: status.replicas %d label %q generation %d; want 5 yes 1", d.Status.Replicas, d.Labels["touched"], d.Generation)
	}

	// A spec change bumps generation.
	in = d.DeepCopy()
	in.Spec.Replicas = int32p(2)
	d, err = deps.Update(ctx, in, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update spec: %v", err)
	}
	if d.Generation != 2 || *d.Spec.Replicas != 2 || d.Status.Replicas != 5 {
		t.Errorf("after spec Update: generation %d spec.replicas %d status.replicas %d; want 2 2 5", d.Generation, *d.Spec.Replicas, d.Status.Replicas)
	}

	// A status merge patch keeps its annotations (upstream's status
	// strategies reset only the spec), but a Deployment's labels stay.
	d, err = deps.Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"},"labels":{"via":"status"}},"status":{"replicas":6}}`),
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("status merge patch: %v", err)
	}
	if d.Annotations["patchedstatus"] != "true" || d.Labels["via"] != "" || d.Status.Replicas != 6 {
		t.Errorf("after status patch: annotations %v labels %v status.replicas %d; want the annotation, no new label, 6",
			d.Annotations, d.Labels, d.Status.Replicas)
	}
	svc, err := c.CoreV1().Services("status").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "svc"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err = c.CoreV1().Services("status").Patch(ctx, svc.Name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"via":"status"}},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.1"}]}}}`),
		metav1.PatchOptions{}, "status")
	if err != nil || svc.Labels["via"] != "status" || len(svc.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("service status patch: %v labels %v; want the label kept", err, svc.Labels)
	}

	// Stale status writes conflict like any other.
	stale := in.DeepCopy()
	stale.Status.Replicas = 1
	if _, err := deps.UpdateStatus(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("UpdateStatus with stale resourceVersion: err = %v; want Conflict", err)
	}
}

// scaleTarget is one workload kind with a scale subresource.
type scaleTarget struct {
	kind     string
	create   func(ctx context.Context, c kubernetes.Interface, ns string) (generation int64, err error)
	get      func(ctx context.Context, c kubernetes.Interface, ns string) (replicas int32, generation int64, err error)
	getScale func(ctx context.Context, c kubernetes.Interface, ns string) (*autoscalingv1.Scale, error)
	update   func(ctx context.Context, c kubernetes.Interface, ns string, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error)
}

var scaleTargets = []scaleTarget{
	{
		kind: "Deployment",
		create: func(ctx context.Context, c kubernetes.Interface, ns string) (int64, error) {
			d, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w"}, Spec: appsv1.DeploymentSpec{
				Replicas: int32p(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "w"}}, Template: podTemplate("w")}}, metav1.CreateOptions{})
			return gen(d, err)
		},
		get: func(ctx context.Context, c kubernetes.Interface, ns string) (int32, int64, error) {
			d, err := c.AppsV1().Deployments(ns).Get(ctx, "w", metav1.GetOptions{})
			if err != nil {
				return 0, 0, err
			}
			return *d.Spec.Replicas, d.Generation, nil
		},
		getScale: func(ctx context.Context, c kubernetes.Interface, ns string) (*autoscalingv1.Scale, error) {
			return c.AppsV1().Deployments(ns).GetScale(ctx, "w", metav1.GetOptions{})
		},
		update: func(ctx context.Context, c kubernetes.Interface, ns string, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return c.AppsV1().Deployments(ns).UpdateScale(ctx, "w", s, metav1.UpdateOptions{})
		},
	},
	{
		kind: "ReplicaSet",
		create: func(ctx context.Context, c kubernetes.Interface, ns string) (int64, error) {
			r, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "w"}, Spec: appsv1.ReplicaSetSpec{
				Replicas: int32p(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "w"}}, Template: podTemplate("w")}}, metav1.CreateOptions{})
			return gen(r, err)
		},
		get: func(ctx context.Context, c kubernetes.Interface, ns string) (int32, int64, error) {
			r, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "w", metav1.GetOptions{})
			if err != nil {
				return 0, 0, err
			}
			return *r.Spec.Replicas, r.Generation, nil
		},
		getScale: func(ctx context.Context, c kubernetes.Interface, ns string) (*autoscalingv1.Scale, error) {
			return c.AppsV1().ReplicaSets(ns).GetScale(ctx, "w", metav1.GetOptions{})
		},
		update: func(ctx context.Context, c kubernetes.Interface, ns string, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return c.AppsV1().ReplicaSets(ns).UpdateScale(ctx, "w", s, metav1.UpdateOptions{})
		},
	},
	{
		kind: "StatefulSet",
		create: func(ctx context.Context, c kubernetes.Interface, ns string) (int64, error) {
			s, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "w"}, Spec: appsv1.StatefulSetSpec{
				Replicas: int32p(1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "w"}}, Template: podTemplate("w")}}, metav1.CreateOptions{})
			return gen(s, err)
		},
		get: func(ctx context.Context, c kubernetes.Interface, ns string) (int32, int64, error) {
			s, err := c.AppsV1().StatefulSets(ns).Get(ctx, "w", metav1.GetOptions{})
			if err != nil {
				return 0, 0, err
			}
			return *s.Spec.Replicas, s.Generation, nil
		},
		getScale: func(ctx context.Context, c kubernetes.Interface, ns string) (*autoscalingv1.Scale, error) {
			return c.AppsV1().StatefulSets(ns).GetScale(ctx, "w", metav1.GetOptions{})
		},
		update: func(ctx context.Context, c kubernetes.Interface, ns string, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return c.AppsV1().StatefulSets(ns).UpdateScale(ctx, "w", s, metav1.UpdateOptions{})
		},
	},
}

func gen(obj runtime.Object, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	m, _ := obj.(metav1.Object)
	return m.GetGeneration(), nil
}

func TestScaleSubresource(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := protoClient(t, s.Config)
	ctx := context.Background()
	for _, tc := range scaleTargets {
		t.Run(tc.kind, func(t *testing.T) {
			ns := "scale-" + map[string]string{"Deployment": "d", "ReplicaSet": "rs", "StatefulSet": "sts"}[tc.kind]
			createNamespace(t, c, ns)
			g0, err := tc.create(ctx, c, ns)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			sc, err := tc.getScale(ctx, c, ns)
			if err != nil {
				t.Fatalf("get scale: %v", err)
			}
			// (client-go's typed decoder clears TypeMeta, so kind is not checked here.)
			if sc.Name != "w" || sc.Namespace != ns {
				t.Errorf("scale is %s/%s; want %s/w", sc.Namespace, sc.Name, ns)
			}
			if sc.Spec.Replicas != 1 || sc.Status.Selector != "app=w" || sc.ResourceVersion == "" {
				t.Errorf("scale spec.replicas %d status.selector %q rv %q; want 1, app=w, set", sc.Spec.Replicas, sc.Status.Selector, sc.ResourceVersion)
			}
			stale := sc.DeepCopy()
			sc.Spec.Replicas = 4
			updated, err := tc.update(ctx, c, ns, sc)
			if err != nil {
				t.Fatalf("update scale: %v", err)
			}
			if updated.Spec.Replicas != 4 {
				t.Errorf("update scale returned spec.replicas %d; want 4", updated.Spec.Replicas)
			}
			replicas, g1, err := tc.get(ctx, c, ns)
			if err != nil {
				t.Fatal(err)
			}
			if replicas != 4 || g1 != g0+1 {
				t.Errorf("after scale to 4: spec.replicas %d generation %d; want 4 and %d", replicas, g1, g0+1)
			}
			stale.Spec.Replicas = 9
			if _, err := tc.update(ctx, c, ns, stale); !apierrors.IsConflict(err) {
				t.Errorf("update scale with stale resourceVersion: err = %v; want Conflict", err)
			}
			stale.ResourceVersion = ""
			stale.Spec.Replicas = 3
			if _, err := tc.update(ctx, c, ns, stale); err != nil {
				t.Errorf("unconditional scale update: %v", err)
			}
			if replicas, _, _ := tc.get(ctx, c, ns); replicas != 3 {
				t.Errorf("after unconditional scale to 3: spec.replicas %d", replicas)
			}
			stale.Spec.Replicas = -1
			if _, err := tc.update(ctx, c, ns, stale); !apierrors.IsInvalid(err) {
				t.Errorf("scale to -1: err = %v; want Invalid", err)
			}
		})
	}
}
