package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/storage"
)

// errDeleteNow ends the deletion update when nothing (grace period,
// finalizers) holds the object back.
var errDeleteNow = errors.New("delete now")

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		if _, _, err := codecs.UniversalDeserializer().Decode(body, nil, opts); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding DeleteOptions: %v", err))
		}
	}
	if err := decodeParams(r, opts); err != nil {
		return nil, err
	}
	var errs field.ErrorList
	for _, d := range opts.DryRun {
		if d != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun"), d, []string{metav1.DryRunAll}))
		}
	}
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if p := opts.PropagationPolicy; p != nil && *p != metav1.DeletePropagationOrphan && *p != metav1.DeletePropagationBackground && *p != metav1.DeletePropagationForeground {
		errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *p, []string{string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationOrphan)}))
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(field.NewPath("gracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(metaKind("DeleteOptions"), "", errs)
	}
	return opts, nil
}

// readDelete negotiates the response format and reads the DeleteOptions;
// on failure it writes the error and returns ok=false.
func readDelete(w http.ResponseWriter, r *http.Request) (output, *metav1.DeleteOptions, bool) {
	out, err := negotiate(r)
	var opts *metav1.DeleteOptions
	if err == nil {
		opts, err = deleteOptions(r)
	}
	if err != nil {
		writeError(w, r, err)
		return out, nil, false
	}
	return out, opts, true
}

func (s *APIServer) delete(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, opts, ok := readDelete(w, r)
	if !ok {
		return
	}
	obj, deleted, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if deleted && !returnsDeletedObject(res) {
		status := &metav1.Status{Status: metav1.StatusSuccess, Details: &metav1.StatusDetails{
			Name: info.Name, Group: res.info.GVK.Group, Kind: res.info.Resource, UID: objectMeta(obj).UID,
		}}
		status.Kind, status.APIVersion = "Status", "v1"
		writeObject(w, out, http.StatusOK, status)
		return
	}
	code := http.StatusOK
	if !deleted && opts.PropagationPolicy != nil && *opts.PropagationPolicy != metav1.DeletePropagationOrphan {
		code = http.StatusAccepted
	}
	writeObject(w, out, code, obj)
}

// returnsDeletedObject lists the kinds whose DELETE returns the deleted
// object rather than a Status, as upstream.
func returnsDeletedObject(res *resource) bool {
	g := res.info.GVK
	return g.Group == "" && (g.Kind == "Pod" || g.Kind == "Service")
}

// deleteObject deletes an object, or marks it for deletion when a grace
// period or finalizers hold it. deleted reports whether it is gone.
func (s *APIServer) deleteObject(ctx context.Context, res *resource, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	dryRun := len(opts.DryRun) > 0
	check := func(cur runtime.Object) error {
		m := objectMeta(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.UID {
				return apierrors.NewConflict(res.gr(), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.UID))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.ResourceVersion {
				return apierrors.NewConflict(res.gr(), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.ResourceVersion))
			}
		}
		return nil
	}
	var result runtime.Object
	updated, err := res.store.Update(ctx, namespace, name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), name)
		}
		if err := check(cur); err != nil {
			return nil, err
		}
		req := admissionFor(ctx, res, "", namespace, name, admission.Delete, nil, cur, dryRun)
		if err := s.mutate(ctx, req); err != nil {
			return nil, err
		}
		if err := s.validateAdmission(ctx, req, writeOptions{}); err != nil {
			return nil, err
		}
		m := objectMeta(cur)
		setPropagationFinalizers(m, opts)
		grace := gracePeriod(res, cur, opts)
		pending := len(m.Finalizers) > 0 || (res.info.GVK.Group == "" && res.info.GVK.Kind == "Namespace" && namespaceHasFinalizers(cur))
		if !pending && grace == 0 {
			result = cur
			return nil, errDeleteNow
		}
		now := s.cfg.Clock.Now()
		if m.DeletionTimestamp == nil || (grace < remainingGrace(m, now)) {
			ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			m.DeletionTimestamp = &ts
			m.DeletionGracePeriodSeconds = &grace
		}
		if ns, ok := cur.(*corev1.Namespace); ok {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		result = cur
		if dryRun {
			return nil, errDryRun
		}
		return cur, nil
	})
	switch {
	case errors.Is(err, errDryRun):
		out, err := res.served(result)
		return out, false, err
	case errors.Is(err, errDeleteNow):
		if dryRun {
			out, err := res.served(result)
			return out, true, err
		}
		deleted, err := res.store.Delete(ctx, namespace, name, func(cur runtime.Object) error {
			if err := check(cur); err != nil {
				return err
			}
			if len(objectMeta(cur).Finalizers) > 0 {
				return apierrors.NewConflict(res.gr(), name, errors.New(modifiedMessage))
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		s.release(ctx, deleted)
		out, err := res.served(deleted)
		return out, true, err
	case err != nil:
		return nil, false, err
	}
	out, err := res.served(updated)
	return out, false, err
}

// setPropagationFinalizers records the propagation policy as upstream does:
// the orphan and foregroundDeletion finalizers for the garbage collector.
func setPropagationFinalizers(m *metav1.ObjectMeta, opts *metav1.DeleteOptions) {
	policy := opts.PropagationPolicy
	if opts.OrphanDependents != nil {
		p := metav1.DeletePropagationBackground
		if *opts.OrphanDependents {
			p = metav1.DeletePropagationOrphan
		}
		policy = &p
	}
	if policy == nil {
		return
	}
	without := func(name string) {
		out := m.Finalizers[:0:0]
		for _, f := range m.Finalizers {
			if f != name {
				out = append(out, f)
			}
		}
		m.Finalizers = out
	}
	with := func(name string) {
		for _, f := range m.Finalizers {
			if f == name {
				return
			}
		}
		m.Finalizers = append(m.Finalizers, name)
	}
	switch *policy {
	case metav1.DeletePropagationOrphan:
		without(metav1.FinalizerDeleteDependents)
		with(metav1.FinalizerOrphanDependents)
	case metav1.DeletePropagationForeground:
		without(metav1.FinalizerOrphanDependents)
		with(metav1.FinalizerDeleteDependents)
	case metav1.DeletePropagationBackground:
		without(metav1.FinalizerOrphanDependents)
		without(metav1.FinalizerDeleteDependents)
	}
	if len(m.Finalizers) == 0 {
		m.Finalizers = nil
	}
}

// gracePeriod is how long an object lingers before it is deleted: only
// pods bound to a node and not finished are deleted gracefully.
func gracePeriod(res *resource, obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || res.info.GVK.Group != "" {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0 {
		return 0
	}
	return grace
}

// remainingGrace is the grace period an already deleting object has left.
func remainingGrace(m *metav1.ObjectMeta, now time.Time) int64 {
	if m.DeletionTimestamp == nil {
		return 0
	}
	return int64(m.DeletionTimestamp.Sub(now) / time.Second)
}

func (s *APIServer) deleteCollection(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, opts, ok := readDelete(w, r)
	if !ok {
		return
	}
	_, ls, fs, err := listOptions(r, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := res.store.List(r.Context(), info.Namespace, storage.ListOptions{Label: ls, Field: fs})
	if err != nil {
		writeError(w, r, err)
		return
	}
	var items []runtime.Object
	for _, obj := range list.Items {
		m := objectMeta(obj)
		deleted, _, err := s.deleteObject(r.Context(), res, m.Namespace, m.Name, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		items = append(items, deleted)
	}
	lst, err := buildList(res.listGVK, items, metav1.ListMeta{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeObject(w, out, http.StatusOK, lst)
}
