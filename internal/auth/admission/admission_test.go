package admission

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestChainOrder(t *testing.T) {
	want := []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "TaintNodesByCondition",
		"PodSecurity", "Priority", "DefaultTolerationSeconds", "DefaultStorageClass", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "ResourceQuota"}
	if got := NewChain(Deps{}).Plugins(); !slices.Equal(got, want) {
		t.Errorf("plugins = %v; want %v", got, want)
	}
}

func TestChainPodCreate(t *testing.T) {
	store := &fakeStore{
		namespaces:      []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}},
		serviceAccounts: []corev1.ServiceAccount{{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"}}},
		limitRanges: []corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypeContainer, Default: rl("cpu", "200m"), Max: rl("cpu", "1")})},
	}
	quotas := newMemQuotas(quota("q", rl("limits.cpu", "300m", "pods", "5"), rl("limits.cpu", "0", "pods", "0")))
	chain := NewChain(Deps{
		Namespaces: store, LimitRanges: store, ServiceAccounts: store,
		PriorityClasses: store, StorageClasses: store, Quotas: quotas,
	})
	tests := []struct {
		name    string
		pod     string
		wantErr string
	}{
		{"first fits", "a", ""},
		{"second exceeds", "b", `pods "b" is forbidden: exceeded quota: q, requested: limits.cpu=200m, used: limits.cpu=200m, limited: limits.cpu=300m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := newPod(tt.pod)
			req := podCreate(pod)
			err := chain.Admit(context.Background(), req)
			if err == nil {
				err = chain.Validate(context.Background(), req)
			}
			if got := errString(err); got != tt.wantErr {
				t.Fatalf("got %q; want %q", got, tt.wantErr)
			}
			if pod.Spec.ServiceAccountName != "default" || pod.Spec.Priority == nil || len(pod.Spec.Tolerations) != 2 {
				t.Errorf("pod not fully defaulted: %+v", pod.Spec)
			}
		})
	}
}
