package apiserver

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var bindingGK = corev1.SchemeGroupVersion.WithKind("Binding").GroupKind()

// bind serves POST pods/NAME/binding and POST bindings: it assigns a pending pod to a node,
// as the scheduler does, and refuses to move an assigned or deleting pod.
func (s *APIServer) bind(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, opts, body, ok := readWrite(w, r, "create")
	if !ok {
		return
	}
	binding := &corev1.Binding{}
	if err := decodeTyped(r, body, corev1.SchemeGroupVersion.WithKind("Binding"), binding); err != nil {
		writeError(w, r, err)
		return
	}
	if info.Subresource == "" {
		// POST bindings: the Binding itself names the pod.
		if binding.Name == "" {
			writeError(w, r, apierrors.NewInvalid(bindingGK, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")}))
			return
		}
		info.Name = binding.Name
	}
	if binding.Name == "" {
		binding.Name = info.Name
	}
	if binding.Name != info.Name {
		writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in Binding object"))
		return
	}
	if binding.Namespace != "" && binding.Namespace != info.Namespace {
		writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	var errs field.ErrorList
	if binding.Target.Kind != "" && binding.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), binding.Target.Kind, []string{"Node", "<empty>"}))
	}
	if binding.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	if len(errs) > 0 {
		writeError(w, r, apierrors.NewInvalid(bindingGK, binding.Name, errs))
		return
	}
	_, err := res.store.Update(r.Context(), info.Namespace, info.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), info.Name)
		}
		pod := cur.(*corev1.Pod)
		if uid := binding.UID; uid != "" && uid != pod.UID {
			return nil, apierrors.NewConflict(res.gr(), info.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(res.gr(), info.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(res.gr(), info.Name, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = binding.Target.Name
		for k, v := range binding.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(s.cfg.Clock.Now())})
		if opts.dryRun {
			return nil, errDryRun
		}
		return pod, nil
	})
	if err != nil && err != errDryRun {
		writeError(w, r, err)
		return
	}
	status := &metav1.Status{Status: metav1.StatusSuccess}
	status.Kind, status.APIVersion = "Status", "v1"
	writeObject(w, out, http.StatusCreated, status)
}

// setPodCondition adds or replaces a condition of the same type, keeping
// the transition time when the status does not change.
func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status == c.Status {
				c.LastTransitionTime = pod.Status.Conditions[i].LastTransitionTime
			}
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
