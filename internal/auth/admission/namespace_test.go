package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamespaceLifecycle(t *testing.T) {
	store := &fakeStore{namespaces: []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "ns"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		{ObjectMeta: metav1.ObjectMeta{Name: "dying"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
	}}
	cm := func(ns string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns}}
	}
	tests := []struct {
		name     string
		req      *Request
		wantCode int32
		wantMsg  string
	}{
		{"create in active", request(Create, "", "configmaps", "", "ns", "cm", cm("ns"), nil), 0, ""},
		{"create in missing", request(Create, "", "configmaps", "", "nope", "cm", cm("nope"), nil), 404, `namespaces "nope" not found`},
		{"update in missing", request(Update, "", "configmaps", "", "nope", "cm", cm("nope"), cm("nope")), 404, `namespaces "nope" not found`},
		{"create in terminating", request(Create, "", "configmaps", "", "dying", "cm", cm("dying"), nil), 403,
			`configmaps "cm" is forbidden: unable to create new content in namespace dying because it is being terminated`},
		{"update in terminating", request(Update, "", "configmaps", "", "dying", "cm", cm("dying"), cm("dying")), 0, ""},
		{"delete in missing", request(Delete, "", "configmaps", "", "nope", "cm", nil, cm("nope")), 0, ""},
		{"cluster scoped", request(Create, "", "nodes", "", "", "n1", &corev1.Node{}, nil), 0, ""},
		{"delete default", request(Delete, "", "namespaces", "", "", "default", nil, nil), 403, `namespaces "default" is forbidden: this namespace may not be deleted`},
		{"delete kube-system", request(Delete, "", "namespaces", "", "", "kube-system", nil, nil), 403, `namespaces "kube-system" is forbidden: this namespace may not be deleted`},
		{"delete other namespace", request(Delete, "", "namespaces", "", "", "ns", nil, nil), 0, ""},
		{"access review", request(Create, "authorization.k8s.io", "localsubjectaccessreviews", "", "nope", "", cm("nope"), nil), 0, ""},
	}
	p := &NamespaceLifecycle{Namespaces: store}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Admit(context.Background(), tt.req)
			if got := errCode(err); got != tt.wantCode {
				t.Fatalf("code = %d (%v); want %d", got, err, tt.wantCode)
			}
			if got := errString(err); got != tt.wantMsg {
				t.Errorf("got %q; want %q", got, tt.wantMsg)
			}
		})
	}
	t.Run("terminating cause", func(t *testing.T) {
		err := p.Admit(context.Background(), request(Create, "", "configmaps", "", "dying", "cm", cm("dying"), nil))
		st := err.(*apierrors.StatusError).ErrStatus
		if len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != corev1.NamespaceTerminatingCause {
			t.Errorf("causes = %+v; want one NamespaceTerminating", st.Details.Causes)
		}
	})
}
