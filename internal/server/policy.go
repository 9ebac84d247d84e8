package server

import (
	"context"
	"errors"
	"strings"
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

// policyObjects are upstream's default roles and bindings, the system
// priority classes, and bindings giving the controller manager the roles
// of the controllers it runs (upstream runs each controller as its own
// service account; Skiff's run in one client under one identity).
func policyObjects() []runtime.Object {
	var objs []runtime.Object
	for _, cr := range rbac.BootstrapClusterRoles() {
		objs = append(objs, cr.DeepCopy())
		if name, ok := strings.CutPrefix(cr.Name, "system:controller:"); ok {
			objs = append(objs, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "skiff:kube-controller-manager:" + name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: controllerManagerUser}},
			})
		}
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
