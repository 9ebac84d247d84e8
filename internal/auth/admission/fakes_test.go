package admission

import (
	"context"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/auth"
)

// fakeStore backs every lookup interface from plain slices.
type fakeStore struct {
	namespaces      []corev1.Namespace
	limitRanges     []corev1.LimitRange
	serviceAccounts []corev1.ServiceAccount
	nodes           []corev1.Node
	pods            []corev1.Pod
	priorityClasses []schedulingv1.PriorityClass
	storageClasses  []storagev1.StorageClass
}

func (f *fakeStore) GetNamespace(_ context.Context, name string) (*corev1.Namespace, error) {
	for i := range f.namespaces {
		if f.namespaces[i].Name == name {
			return &f.namespaces[i], nil
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
}

func (f *fakeStore) ListLimitRanges(_ context.Context, ns string) ([]corev1.LimitRange, error) {
	var out []corev1.LimitRange
	for _, lr := range f.limitRanges {
		if lr.Namespace == ns {
			out = append(out, lr)
		}
	}
	return out, nil
}

func (f *fakeStore) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	for i := range f.serviceAccounts {
		if f.serviceAccounts[i].Namespace == ns && f.serviceAccounts[i].Name == name {
			return &f.serviceAccounts[i], nil
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

func (f *fakeStore) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	for i := range f.nodes {
		if f.nodes[i].Name == name {
			return &f.nodes[i], nil
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
}

func (f *fakeStore) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	for i := range f.pods {
		if f.pods[i].Namespace == ns && f.pods[i].Name == name {
			return &f.pods[i], nil
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

func (f *fakeStore) GetPriorityClass(_ context.Context, name string) (*schedulingv1.PriorityClass, error) {
	for i := range f.priorityClasses {
		if f.priorityClasses[i].Name == name {
			return &f.priorityClasses[i], nil
		}
	}
	return nil, apierrors.NewNotFound(schedulingv1.Resource("priorityclasses"), name)
}

func (f *fakeStore) ListPriorityClasses(context.Context) ([]schedulingv1.PriorityClass, error) {
	return f.priorityClasses, nil
}

func (f *fakeStore) ListStorageClasses(context.Context) ([]storagev1.StorageClass, error) {
	return f.storageClasses, nil
}

// memQuotas is an in-memory quota store with compare-and-swap on
// resourceVersion, like the real storage.
type memQuotas struct {
	mu        sync.Mutex // guards quotas, rv, conflicts
	quotas    map[string]*corev1.ResourceQuota
	rv        int
	conflicts int
}

func newMemQuotas(qs ...corev1.ResourceQuota) *memQuotas {
	m := &memQuotas{quotas: map[string]*corev1.ResourceQuota{}}
	for i := range qs {
		q := qs[i].DeepCopy()
		m.rv++
		q.ResourceVersion = strconv.Itoa(m.rv)
		m.quotas[q.Namespace+"/"+q.Name] = q
	}
	return m
}

func (m *memQuotas) ListResourceQuotas(_ context.Context, ns string) ([]corev1.ResourceQuota, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []corev1.ResourceQuota
	for _, q := range m.quotas {
		if q.Namespace == ns {
			out = append(out, *q.DeepCopy())
		}
	}
	return out, nil
}

func (m *memQuotas) UpdateQuotaStatus(_ context.Context, q *corev1.ResourceQuota) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.quotas[q.Namespace+"/"+q.Name]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("resourcequotas"), q.Name)
	}
	if cur.ResourceVersion != q.ResourceVersion {
		m.conflicts++
		return apierrors.NewConflict(corev1.Resource("resourcequotas"), q.Name, nil)
	}
	next := cur.DeepCopy()
	next.Status = *q.Status.DeepCopy()
	m.rv++
	next.ResourceVersion = strconv.Itoa(m.rv)
	m.quotas[q.Namespace+"/"+q.Name] = next
	return nil
}

func (m *memQuotas) get(ns, name string) corev1.ResourceQuota {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.quotas[ns+"/"+name].DeepCopy()
}

// Helpers building objects and requests.

func rl(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func container(name string, req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

func newPod(name string, cs ...corev1.Container) *corev1.Pod {
	if len(cs) == 0 {
		cs = []corev1.Container{{Name: "c", Image: "busybox"}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.PodSpec{Containers: cs},
	}
}

func request(op, group, res, sub, ns, name string, obj, old runtime.Object) *Request {
	return &Request{
		Operation: op,
		Object:    obj,
		OldObject: old,
		Attributes: auth.Attributes{
			User:            &auth.User{Name: "alice", Groups: []string{auth.AllAuthenticated}},
			Verb:            map[string]string{Create: "create", Update: "update", Delete: "delete", Connect: "get"}[op],
			ResourceRequest: true,
			Namespace:       ns,
			APIGroup:        group,
			APIVersion:      "v1",
			Resource:        res,
			Subresource:     sub,
			Name:            name,
		},
	}
}

func podCreate(pod *corev1.Pod) *Request {
	return request(Create, "", "pods", "", pod.Namespace, pod.Name, pod, nil)
}

// errString is "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func errCode(err error) int32 {
	if se, ok := err.(apierrors.APIStatus); ok {
		return se.Status().Code
	}
	return 0
}
