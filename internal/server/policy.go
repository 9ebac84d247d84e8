package server

import (
	"context"
	"errors"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/auth/rbac"
)

// Component identities: the client-certificate users the in-process
// components act as, bound to upstream's roles for them.
const (
	controllerManagerUser = "system:kube-controller-manager"
	schedulerUser         = "system:kube-scheduler"
	// controllerManagerLease is the Lease the active controller manager
	// holds; upstream's role lets that user update only this name.
	controllerManagerLease = "kube-controller-manager"
)

// systemUser is who the server acts as when it creates the objects every
// cluster starts with.
var systemUser = &auth.User{Name: "system:apiserver", Groups: []string{auth.SystemPrivileged, auth.AllAuthenticated}}

// policyObjects are upstream's default roles and bindings, Skiff's few
// additions (each explained where it is made and listed in the parity
// test), and the system priority classes. The controller manager runs each
// controller as its own service account, so the controller roles are bound
// only as upstream binds them.
func policyObjects() []runtime.Object {
	var objs []runtime.Object
	for _, cr := range rbac.BootstrapClusterRoles() {
		objs = append(objs, cr.DeepCopy())
	}
	for _, b := range rbac.BootstrapClusterRoleBindings() {
		objs = append(objs, b.DeepCopy())
	}
	// Every node agent runs the service proxy and the cluster DNS, which
	// read what kube-proxy reads (k3s gives its proxy an identity of its
	// own; Skiff's agent has one identity).
	objs = append(objs, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "skiff:node-proxier"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-proxier"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: auth.NodesGroup}},
	})
	// Nodes renew their client certificates and ask for their serving
	// certificates through CSRs the approver approves after these checks.
	// Upstream leaves both to the installer (kubeadm binds selfnodeclient
	// to system:nodes); the selfnodeserving permission is Skiff's own, as
	// is the approving of kubelet-serving requests.
	nodes := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: auth.NodesGroup}}
	objs = append(objs,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "skiff:node-client-cert-rotation"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"},
			Subjects:   nodes,
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "skiff:certificatesigningrequests:selfnodeserving"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{"certificates.k8s.io"},
				Resources: []string{"certificatesigningrequests/selfnodeserving"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "skiff:node-serving-cert"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "skiff:certificatesigningrequests:selfnodeserving"},
			Subjects:   nodes,
		},
		// The approver (certificate-controller) may approve for the
		// kubelet-serving signer, which upstream's policy does not bind.
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "skiff:kubelet-serving-approver"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:kubelet-serving-approver"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: metav1.NamespaceSystem, Name: "certificate-controller"}},
		},
	)
	for _, roles := range rbac.BootstrapRoles() {
		for _, r := range roles {
			objs = append(objs, r.DeepCopy())
		}
	}
	for _, bindings := range rbac.BootstrapRoleBindings() {
		for _, b := range bindings {
			objs = append(objs, b.DeepCopy())
		}
	}
	for _, pc := range admission.SystemPriorityClasses() {
		objs = append(objs, pc.DeepCopy())
	}
	return objs
}

// ensureAll creates the missing objects, several at a time (each create
// waits for an fsync; in parallel they share them).
func ensureAll(ctx context.Context, api *apiserver.APIServer, objs []runtime.Object) error {
	ctx = auth.WithUser(ctx, systemUser)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs
		errs []error
	)
	sem := make(chan struct{}, 16)
	for _, obj := range objs {
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil {
			return err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := api.EnsureObject(ctx, obj, false); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
