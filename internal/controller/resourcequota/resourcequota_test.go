package resourcequota

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	testclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/internal/fakemeta"
)

const ns = "team"

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

type podOpt func(*corev1.Pod)

func pod(name string, req, lim corev1.ResourceList, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func deadline(s int64) podOpt         { return func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = &s } }
func priority(c string) podOpt        { return func(p *corev1.Pod) { p.Spec.PriorityClassName = c } }
func inNamespace(n string) podOpt     { return func(p *corev1.Pod) { p.Namespace = n } }

// deleting marks the pod deleted at `at` with a grace period of grace seconds.
func deleting(at time.Time, grace int64) podOpt {
	return func(p *corev1.Pod) {
		t := metav1.NewTime(at)
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &t, &grace
	}
}

func quota(hard corev1.ResourceList, mod ...func(*corev1.ResourceQuota)) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "q", ResourceVersion: "3"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	for _, m := range mod {
		m(q)
	}
	return q
}

func scopes(s ...corev1.ResourceQuotaScope) func(*corev1.ResourceQuota) {
	return func(q *corev1.ResourceQuota) { q.Spec.Scopes = s }
}

func status(hard, used corev1.ResourceList) func(*corev1.ResourceQuota) {
	return func(q *corev1.ResourceQuota) { q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used} }
}

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// fixture is a controller on a fake clientset whose caches hold objs and a
// metadata client holding two deployments in ns.
type fixture struct {
	c       *Controller
	client  *fake.Clientset
	cached  []runtime.Object
	updates []*corev1.ResourceQuota
}

func newFixture(t *testing.T, q *corev1.ResourceQuota, objs ...runtime.Object) *fixture {
	t.Helper()
	fx := &fixture{client: fake.NewClientset(q)}
	fx.client.PrependReactor("update", "resourcequotas", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			fx.updates = append(fx.updates, a.(clienttesting.UpdateAction).GetObject().(*corev1.ResourceQuota).DeepCopy())
		}
		return false, nil, nil
	})
	f := informers.NewSharedInformerFactory(fx.client, 0)
	core := f.Core().V1()
	sources := map[schema.GroupResource]cache.SharedIndexInformer{
		{Resource: "pods"}:                   core.Pods().Informer(),
		{Resource: "services"}:               core.Services().Informer(),
		{Resource: "persistentvolumeclaims"}: core.PersistentVolumeClaims().Informer(),
		{Resource: "configmaps"}:             core.ConfigMaps().Informer(),
		{Resource: "secrets"}:                core.Secrets().Informer(),
		{Resource: "resourcequotas"}:         core.ResourceQuotas().Informer(),
	}
	cachedQ := q.DeepCopy()
	fx.cached = append(fx.cached, cachedQ)
	_ = core.ResourceQuotas().Informer().GetIndexer().Add(cachedQ)
	for _, o := range objs {
		o = o.DeepCopyObject()
		fx.cached = append(fx.cached, o)
		var inf cache.SharedIndexInformer
		switch o.(type) {
		case *corev1.Pod:
			inf = core.Pods().Informer()
		case *corev1.Service:
			inf = core.Services().Informer()
		case *corev1.PersistentVolumeClaim:
			inf = core.PersistentVolumeClaims().Informer()
		case *corev1.ConfigMap:
			inf = core.ConfigMaps().Informer()
		case *corev1.Secret:
			inf = core.Secrets().Informer()
		default:
			t.Fatalf("no informer for %T", o)
		}
		_ = inf.GetIndexer().Add(o)
	}
	md := fakemeta.New()
	for _, name := range []string{"web", "api"} {
		md.Add(deployments, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	}
	md.Add(deployments, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "x"}})
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Node"}, meta.RESTScopeRoot)
	fx.c = New(Config{
		Client: fx.client, Quotas: core.ResourceQuotas(), Sources: sources,
		Metadata: md, Mapper: mapper,
		Clock:  testclock.NewFakeClock(now),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return fx
}

func TestSyncUsage(t *testing.T) {
	small := list("cpu", "100m", "memory", "64Mi")
	big := list("cpu", "1", "memory", "1Gi")
	tests := []struct {
		name  string
		quota *corev1.ResourceQuota
		objs  []runtime.Object
		want  corev1.ResourceList
	}{
		{name: "empty namespace counts zero",
			quota: quota(list("pods", "10", "requests.cpu", "2", "configmaps", "5", "count/secrets", "5")),
			want:  list("pods", "0", "requests.cpu", "0", "configmaps", "0", "count/secrets", "0")},
		{name: "pod compute and counts",
			quota: quota(list("pods", "10", "count/pods", "10", "cpu", "4", "requests.cpu", "4", "requests.memory", "4Gi",
				"limits.cpu", "8", "limits.memory", "8Gi")),
			objs: []runtime.Object{pod("a", small, big), pod("b", small, small)},
			want: list("pods", "2", "count/pods", "2", "cpu", "200m", "requests.cpu", "200m", "requests.memory", "128Mi",
				"limits.cpu", "1100m", "limits.memory", "1088Mi")},
		{name: "terminal pods and pods of other namespaces do not count",
			quota: quota(list("pods", "10", "requests.cpu", "4")),
			objs: []runtime.Object{pod("run", small, nil), pod("ok", small, nil, phase(corev1.PodSucceeded)),
				pod("bad", small, nil, phase(corev1.PodFailed)), pod("else", small, nil, inNamespace("other"))},
			want: list("pods", "1", "requests.cpu", "100m")},
		{name: "pod past its deletion grace period does not count",
			quota: quota(list("pods", "10")),
			objs: []runtime.Object{pod("gone", nil, nil, deleting(now.Add(-time.Minute), 30)),
				pod("going", nil, nil, deleting(now, 30))},
			want: list("pods", "1")},
		{name: "BestEffort scope",
			quota: quota(list("pods", "10"), scopes(corev1.ResourceQuotaScopeBestEffort)),
			objs:  []runtime.Object{pod("be", nil, nil), pod("burst", small, nil)},
			want:  list("pods", "1")},
		{name: "NotBestEffort scope",
			quota: quota(list("pods", "10", "requests.cpu", "1"), scopes(corev1.ResourceQuotaScopeNotBestEffort)),
			objs:  []runtime.Object{pod("be", nil, nil), pod("burst", small, nil)},
			want:  list("pods", "1", "requests.cpu", "100m")},
		{name: "Terminating and NotTerminating scopes",
			quota: quota(list("pods", "10"), scopes(corev1.ResourceQuotaScopeTerminating)),
			objs:  []runtime.Object{pod("job", nil, nil, deadline(60)), pod("svc", nil, nil)},
			want:  list("pods", "1")},
		{name: "NotTerminating",
			quota: quota(list("pods", "10"), scopes(corev1.ResourceQuotaScopeNotTerminating)),
			objs:  []runtime.Object{pod("job", nil, nil, deadline(60)), pod("svc1", nil, nil), pod("svc2", nil, nil)},
			want:  list("pods", "2")},
		{name: "PriorityClass scope selector",
			quota: quota(list("pods", "10"), func(q *corev1.ResourceQuota) {
				q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{
					ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}}}
			}),
			objs: []runtime.Object{pod("h", nil, nil, priority("high")), pod("l", nil, nil, priority("low")), pod("n", nil, nil)},
			want: list("pods", "1")},
		{name: "services, node ports and load balancers",
			quota: quota(list("services", "10", "services.nodeports", "10", "services.loadbalancers", "2", "count/services", "10")),
			objs: []runtime.Object{
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ip"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP,
					Ports: []corev1.ServicePort{{Port: 80}}}},
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
					Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}},
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lb"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
					Ports: []corev1.ServicePort{{Port: 80}}}},
			},
			want: list("services", "3", "services.nodeports", "3", "services.loadbalancers", "1", "count/services", "3")},
		{name: "claims and storage, in total and per class",
			quota: quota(list("persistentvolumeclaims", "10", "requests.storage", "100Gi", "fast.storageclass.storage.k8s.io/requests.storage", "10Gi")),
			objs: []runtime.Object{
				&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}, Spec: corev1.PersistentVolumeClaimSpec{
					StorageClassName: ptr("fast"), Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "1Gi")}}},
				&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}, Spec: corev1.PersistentVolumeClaimSpec{
					Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "2Gi")}}},
			},
			want: list("persistentvolumeclaims", "2", "requests.storage", "3Gi", "fast.storageclass.storage.k8s.io/requests.storage", "1Gi")},
		{name: "configmaps, secrets and the quota itself",
			quota: quota(list("configmaps", "10", "count/configmaps", "10", "secrets", "10", "resourcequotas", "1")),
			objs: []runtime.Object{
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}},
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "c"}},
				&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"}},
			},
			want: list("configmaps", "2", "count/configmaps", "2", "secrets", "1", "resourcequotas", "1")},
		{name: "count of a kind without a source comes from a metadata list",
			quota: quota(list("count/deployments.apps", "10")),
			want:  list("count/deployments.apps", "2")},
		{name: "names nothing measures keep their value",
			quota: quota(list("count/widgets.example.com", "5", "count/nodes", "3", "pods", "5"),
				status(nil, list("count/widgets.example.com", "4", "stale", "9"))),
			want: list("count/widgets.example.com", "4", "pods", "0")},
		{name: "drift is corrected",
			quota: quota(list("pods", "5", "requests.cpu", "1"), status(list("pods", "5", "requests.cpu", "1"), list("pods", "4", "requests.cpu", "800m"))),
			objs:  []runtime.Object{pod("a", small, nil)},
			want:  list("pods", "1", "requests.cpu", "100m")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.quota, tc.objs...)
			before := make([]runtime.Object, len(fx.cached))
			for i, o := range fx.cached {
				before[i] = o.DeepCopyObject()
			}
			if _, err := fx.c.Sync(context.Background(), ns+"/q"); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if len(fx.updates) != 1 {
				t.Fatalf("%d status updates; want 1", len(fx.updates))
			}
			got := fx.updates[0].Status
			if !equality.Semantic.DeepEqual(got.Hard, tc.quota.Spec.Hard) {
				t.Errorf("status.hard = %v; want %v", got.Hard, tc.quota.Spec.Hard)
			}
			if !equality.Semantic.DeepEqual(got.Used, tc.want) {
				t.Errorf("status.used = %v; want %v", got.Used, tc.want)
			}
			for i := range before {
				if !equality.Semantic.DeepEqual(before[i], fx.cached[i]) {
					t.Errorf("cached object %d mutated", i)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestSyncWritesOnlyOnChange(t *testing.T) {
	hard := list("pods", "5")
	fx := newFixture(t, quota(hard, status(hard, list("pods", "1"))), pod("a", nil, nil))
	res, err := fx.c.Sync(context.Background(), ns+"/q")
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.updates) != 0 {
		t.Errorf("%d status updates of an up-to-date quota; want 0", len(fx.updates))
	}
	if res.RequeueAfter != DefaultResyncPeriod {
		t.Errorf("RequeueAfter = %v; want the resync period %v", res.RequeueAfter, DefaultResyncPeriod)
	}
}

func TestSyncRequeuesWhenDeletingPodExpires(t *testing.T) {
	fx := newFixture(t, quota(list("pods", "5")), pod("a", nil, nil, deleting(now, 30)))
	res, err := fx.c.Sync(context.Background(), ns+"/q")
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter <= 30*time.Second || res.RequeueAfter > 31*time.Second {
		t.Errorf("RequeueAfter = %v; want just after the 30s grace period", res.RequeueAfter)
	}
}

func TestSyncErrors(t *testing.T) {
	t.Run("conflict is retried", func(t *testing.T) {
		fx := newFixture(t, quota(list("pods", "5")))
		fx.client.PrependReactor("update", "resourcequotas", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewConflict(corev1.Resource("resourcequotas"), "q", errors.New("charged meanwhile"))
		})
		if _, err := fx.c.Sync(context.Background(), ns+"/q"); !apierrors.IsConflict(err) {
			t.Errorf("Sync error = %v; want the Conflict", err)
		}
	})
	t.Run("deleted quota is done", func(t *testing.T) {
		fx := newFixture(t, quota(list("pods", "5")))
		if _, err := fx.c.Sync(context.Background(), ns+"/missing"); err != nil || len(fx.updates) != 0 {
			t.Errorf("Sync = %v with %d updates; want nil and none", err, len(fx.updates))
		}
	})
}

func TestUsageChanged(t *testing.T) {
	fx := newFixture(t, quota(list("pods", "5")))
	ev := fx.c.sources[schema.GroupResource{Resource: "pods"}].eval
	running := pod("a", list("cpu", "1"), nil)
	tests := []struct {
		name string
		new  *corev1.Pod
		want bool
	}{
		{"status only", pod("a", list("cpu", "1"), nil, func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.1" }), false},
		{"finished", pod("a", list("cpu", "1"), nil, phase(corev1.PodSucceeded)), true},
		{"deletion started", pod("a", list("cpu", "1"), nil, deleting(now, 30)), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := usageChanged(ev, running, tc.new); got != tc.want {
				t.Errorf("usageChanged = %v; want %v", got, tc.want)
			}
		})
	}
}
