package admission

import (
	"context"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func quota(name string, hard, used corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) corev1.ResourceQuota {
	return corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes},
		Status:     corev1.ResourceQuotaStatus{Hard: hard, Used: used},
	}
}

func TestResourceQuota(t *testing.T) {
	deadline := int64(30)
	tests := []struct {
		name     string
		quotas   []corev1.ResourceQuota
		req      *Request
		wantErr  string
		wantUsed map[string]corev1.ResourceList
	}{
		{
			name:     "charges pod",
			quotas:   []corev1.ResourceQuota{quota("q", rl("pods", "2", "requests.cpu", "2"), rl("pods", "0", "requests.cpu", "0"))},
			req:      podCreate(newPod("p", container("c", rl("cpu", "500m"), nil))),
			wantUsed: map[string]corev1.ResourceList{"q": rl("pods", "1", "requests.cpu", "500m")},
		},
		{
			name:     "exceeded",
			quotas:   []corev1.ResourceQuota{quota("q", rl("cpu", "2", "pods", "10"), rl("cpu", "1", "pods", "1"))},
			req:      podCreate(newPod("p", container("c", rl("cpu", "2"), nil))),
			wantErr:  `pods "p" is forbidden: exceeded quota: q, requested: cpu=2, used: cpu=1, limited: cpu=2`,
			wantUsed: map[string]corev1.ResourceList{"q": rl("cpu", "1", "pods", "1")},
		},
		{
			name:    "must specify",
			quotas:  []corev1.ResourceQuota{quota("q", rl("limits.cpu", "2", "requests.memory", "1Gi"), rl("limits.cpu", "0", "requests.memory", "0"))},
			req:     podCreate(newPod("p", container("b", nil, nil), container("a", rl("memory", "1Mi"), nil))),
			wantErr: `pods "p" is forbidden: failed quota: q: must specify limits.cpu for: a,b; requests.memory for: b`,
		},
		{
			name:    "status unknown",
			quotas:  []corev1.ResourceQuota{quota("q", rl("pods", "2"), nil)},
			req:     podCreate(newPod("p")),
			wantErr: `pods "p" is forbidden: status unknown for quota: q, resource: pods`,
		},
		{
			name: "scopes select quotas",
			quotas: []corev1.ResourceQuota{
				quota("be", rl("pods", "5"), rl("pods", "0"), corev1.ResourceQuotaScopeBestEffort),
				quota("term", rl("pods", "5"), rl("pods", "0"), corev1.ResourceQuotaScopeTerminating),
			},
			req:      podCreate(func() *corev1.Pod { p := newPod("p"); p.Spec.ActiveDeadlineSeconds = &deadline; return p }()),
			wantUsed: map[string]corev1.ResourceList{"be": rl("pods", "1"), "term": rl("pods", "1")},
		},
		{
			name:     "not best effort skipped",
			quotas:   []corev1.ResourceQuota{quota("nbe", rl("pods", "5"), rl("pods", "0"), corev1.ResourceQuotaScopeNotBestEffort)},
			req:      podCreate(newPod("p")),
			wantUsed: map[string]corev1.ResourceList{"nbe": rl("pods", "0")},
		},
		{
			name:   "configmap count",
			quotas: []corev1.ResourceQuota{quota("q", rl("configmaps", "1", "count/configmaps", "5"), rl("configmaps", "1", "count/configmaps", "1"))},
			req: request(Create, "", "configmaps", "", "ns", "cm",
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}}, nil),
			wantErr: `configmaps "cm" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1`,
		},
		{
			name:   "group count",
			quotas: []corev1.ResourceQuota{quota("q", rl("count/deployments.apps", "3"), rl("count/deployments.apps", "1"))},
			req: request(Create, "apps", "deployments", "", "ns", "d",
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"}}, nil),
			wantUsed: map[string]corev1.ResourceList{"q": rl("count/deployments.apps", "2")},
		},
		{
			name:   "service type change charges load balancer",
			quotas: []corev1.ResourceQuota{quota("q", rl("services.loadbalancers", "1", "services", "5"), rl("services.loadbalancers", "0", "services", "1"))},
			req: request(Update, "", "services", "", "ns", "s",
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", ResourceVersion: "3"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}},
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", ResourceVersion: "3"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}),
			wantUsed: map[string]corev1.ResourceList{"q": rl("services.loadbalancers", "1", "services", "1")},
		},
		{
			name:   "pvc storage per class",
			quotas: []corev1.ResourceQuota{quota("q", rl("gold.storageclass.storage.k8s.io/requests.storage", "10Gi"), rl("gold.storageclass.storage.k8s.io/requests.storage", "8Gi"))},
			req: request(Create, "", "persistentvolumeclaims", "", "ns", "data", &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: func() *string { s := "gold"; return &s }(),
					Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "5Gi")}},
			}, nil),
			wantErr: `persistentvolumeclaims "data" is forbidden: exceeded quota: q, requested: gold.storageclass.storage.k8s.io/requests.storage=5Gi, used: gold.storageclass.storage.k8s.io/requests.storage=8Gi, limited: gold.storageclass.storage.k8s.io/requests.storage=10Gi`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemQuotas(tt.quotas...)
			err := (&ResourceQuota{Quotas: store}).Validate(context.Background(), tt.req)
			if got := errString(err); got != tt.wantErr {
				t.Fatalf("got %q; want %q", got, tt.wantErr)
			}
			for name, want := range tt.wantUsed {
				if got := store.get("ns", name).Status.Used; !apiequality.Semantic.DeepEqual(got, want) {
					t.Errorf("%s used = %v; want %v", name, got, want)
				}
			}
		})
	}
}

func TestResourceQuotaDryRunChargesNothing(t *testing.T) {
	store := newMemQuotas(quota("q", rl("pods", "1"), rl("pods", "0")))
	req := podCreate(newPod("p"))
	req.DryRun = true
	if err := (&ResourceQuota{Quotas: store}).Validate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := store.get("ns", "q").Status.Used["pods"]; !got.IsZero() {
		t.Errorf("used pods = %s; want 0", got.String())
	}
}

// TestResourceQuotaConcurrent races many creates against one quota: the
// compare-and-swap charge must admit exactly hard of them.
func TestResourceQuotaConcurrent(t *testing.T) {
	const hard, workers = 10, 40
	store := newMemQuotas(quota("q", rl("pods", fmt.Sprint(hard), "requests.cpu", "5"), rl("pods", "0", "requests.cpu", "0")))
	p := &ResourceQuota{Quotas: store}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards admitted, failures
		admitted int
		failures []error
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.Validate(context.Background(), podCreate(newPod(fmt.Sprintf("p%d", i), container("c", rl("cpu", "100m"), nil))))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				admitted++
			} else if errCode(err) != 403 {
				failures = append(failures, err)
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("unexpected errors: %v", failures)
	}
	used := store.get("ns", "q").Status.Used
	if admitted != hard {
		t.Errorf("admitted %d; want %d", admitted, hard)
	}
	if got := used["pods"]; got.Value() != hard {
		t.Errorf("used pods = %s; want %d", got.String(), hard)
	}
	if got := used["requests.cpu"]; got.MilliValue() != hard*100 {
		t.Errorf("used cpu = %s; want %dm", got.String(), hard*100)
	}
	t.Logf("%d conflicts retried", store.conflicts)
}
