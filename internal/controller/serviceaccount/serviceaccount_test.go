package serviceaccount

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func namespace(name string, phase corev1.NamespacePhase, deleting bool) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
	if deleting {
		now := metav1.Now()
		ns.DeletionTimestamp = &now
	}
	return ns
}

func account(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestSync(t *testing.T) {
	terminatingErr := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}},
	}}
	tests := []struct {
		name       string
		namespaces []*corev1.Namespace
		accounts   []*corev1.ServiceAccount
		names      []string
		createErr  error
		wantCreate []string // namespace/name
		wantErr    bool
	}{
		{name: "active namespace without account",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			wantCreate: []string{"a/default"}},
		{name: "account exists",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			accounts:   []*corev1.ServiceAccount{account("a", "default")}},
		{name: "other accounts do not count",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			accounts:   []*corev1.ServiceAccount{account("a", "builder"), account("b", "default")},
			wantCreate: []string{"a/default"}},
		{name: "several names",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			accounts:   []*corev1.ServiceAccount{account("a", "default")},
			names:      []string{"default", "builder"},
			wantCreate: []string{"a/builder"}},
		{name: "terminating phase skipped",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceTerminating, false)}},
		{name: "deleting namespace skipped",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, true)}},
		{name: "missing namespace"},
		{name: "stale cache: already exists is done",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			createErr:  apierrors.NewAlreadyExists(schema.GroupResource{Resource: "serviceaccounts"}, "default"),
			wantCreate: []string{"a/default"}},
		{name: "namespace began terminating: done",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			createErr:  terminatingErr,
			wantCreate: []string{"a/default"}},
		{name: "server error is retried",
			namespaces: []*corev1.Namespace{namespace("a", corev1.NamespaceActive, false)},
			createErr:  apierrors.NewServiceUnavailable("etcd down"),
			wantCreate: []string{"a/default"},
			wantErr:    true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			var created []string
			client.PrependReactor("create", "serviceaccounts", func(a clienttesting.Action) (bool, runtime.Object, error) {
				sa := a.(clienttesting.CreateAction).GetObject().(*corev1.ServiceAccount)
				created = append(created, fmt.Sprintf("%s/%s", a.GetNamespace(), sa.Name))
				if tc.createErr != nil {
					return true, nil, tc.createErr
				}
				return false, nil, nil
			})
			f := informers.NewSharedInformerFactory(client, 0)
			for _, ns := range tc.namespaces {
				_ = f.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
			}
			for _, sa := range tc.accounts {
				_ = f.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(sa)
			}
			c := New(Config{
				Client: client, Names: tc.names,
				Namespaces: f.Core().V1().Namespaces(), ServiceAccounts: f.Core().V1().ServiceAccounts(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			_, err := c.Sync(context.Background(), "a")
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sync error = %v; want error %v", err, tc.wantErr)
			}
			if !slices.Equal(created, tc.wantCreate) {
				t.Errorf("created %v; want %v", created, tc.wantCreate)
			}
		})
	}
}
