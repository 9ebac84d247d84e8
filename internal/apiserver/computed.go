package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// ComponentCheck probes one control-plane component for
// componentstatuses: nil is healthy. It is called on every read, at most
// componentCheckTimeout long.
type ComponentCheck func(ctx context.Context) error

const componentCheckTimeout = 20 * time.Second

// serveComputed serves the core resources that are not stored:
// componentstatuses (computed on every read) and bindings (a create that
// binds the pod the Binding names). It reports false for any other.
func (s *APIServer) serveComputed(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) bool {
	if res.info.GVK.Group != "" || !res.info.Virtual {
		return false
	}
	switch res.info.Resource {
	case "componentstatuses":
		s.componentStatuses(w, r, info, res)
		return true
	case "bindings":
		// POST namespaces/NS/bindings is pods/NAME/binding with the pod
		// named by the Binding itself, as upstream.
		pods := s.byPath[pathKey("", "v1", "pods")]
		if pods == nil {
			writeNotFound(w, r)
			return true
		}
		s.bind(w, r, info, pods)
		return true
	}
	return false
}

// componentStatuses answers get and list of componentstatuses from the
// configured checks, run in parallel.
func (s *APIServer) componentStatuses(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, err := negotiate(r, asTable, asPartial, asPartialList)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// As upstream, every read carries the deprecation warning.
	addWarnings(w, []string{"v1 ComponentStatus is deprecated in v1.19+"})
	names := make([]string, 0, len(s.cfg.Components))
	for name := range s.cfg.Components {
		if info.Name == "" || name == info.Name {
			names = append(names, name)
		}
	}
	if info.Name != "" && len(names) == 0 {
		writeError(w, r, apierrors.NewNotFound(res.gr(), info.Name))
		return
	}
	sort.Strings(names)
	statuses := make([]*corev1.ComponentStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = componentStatus(r.Context(), name, s.cfg.Components[name])
		}()
	}
	wg.Wait()
	if info.Name != "" {
		s.writeAs(w, r, out, res, http.StatusOK, []runtime.Object{statuses[0]}, false, metav1.ListMeta{})
		return
	}
	q := r.URL.Query()
	lsel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	fsel, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	objs := make([]runtime.Object, 0, len(statuses))
	for _, cs := range statuses {
		if lsel.Matches(labels.Set(cs.Labels)) && fsel.Matches(fields.Set{"metadata.name": cs.Name, "metadata.namespace": ""}) {
			objs = append(objs, cs)
		}
	}
	s.writeAs(w, r, out, res, http.StatusOK, objs, true, metav1.ListMeta{})
}

// componentStatus runs one check. Success reads "ok" as upstream's probes
// do; a failure carries its error.
func componentStatus(ctx context.Context, name string, check ComponentCheck) *corev1.ComponentStatus {
	ctx, cancel := context.WithTimeout(ctx, componentCheckTimeout)
	defer cancel()
	cond := corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionTrue, Message: "ok"}
	if err := check(ctx); err != nil {
		cond = corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionFalse, Error: err.Error()}
	}
	cs := &corev1.ComponentStatus{ObjectMeta: metav1.ObjectMeta{Name: name}, Conditions: []corev1.ComponentCondition{cond}}
	cs.APIVersion, cs.Kind = "v1", "ComponentStatus"
	return cs
}

// EnsureStatus writes obj's status through the status subresource when
// needed reports that the stored object's status wants it. needed sees a
// copy of the stored object; NotFound is returned when there is none.
// The server's own start-up uses it (the default ServiceCIDR's Ready
// condition), as upstream's controllers would write the status.
func (s *APIServer) EnsureStatus(ctx context.Context, obj runtime.Object, needed func(cur runtime.Object) bool) error {
	res := s.resourceFor(obj.GetObjectKind().GroupVersionKind())
	if res == nil || !res.info.Has("status") {
		return fmt.Errorf("no status subresource serves %s", obj.GetObjectKind().GroupVersionKind())
	}
	m := objectMeta(obj)
	info := requestInfo{Namespace: m.Namespace, Name: m.Name, Subresource: "status"}
	opts := writeOptions{fieldManager: "skiff-apiserver", fieldValidation: metav1.FieldValidationStrict}
	_, _, err := s.updateObject(ctx, res, info, opts, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), m.Name)
		}
		if !needed(cur.DeepCopyObject()) {
			return cur, nil
		}
		next := cur.DeepCopyObject()
		copyField(next, obj, "Status")
		return next, nil
	})
	return err
}
