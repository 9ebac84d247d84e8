package apiserver

import (
	"encoding/json"
	"errors"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

type autoscalingScale = autoscalingv1.Scale

var scaleGK = autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind()

// scaleOf returns the autoscaling/v1 Scale view of a scalable object.
func scaleOf(res *resource, obj runtime.Object) (*autoscalingScale, error) {
	var spec, status int32
	var selector string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *appsv1.ReplicaSet:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *appsv1.StatefulSet:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector = selectorString(o.Spec.Selector)
	case *corev1.ReplicationController:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector = labels.SelectorFromSet(o.Spec.Selector).String()
	default:
		return nil, apierrors.NewNotFound(res.gr(), objectMeta(obj).Name)
	}
	m := objectMeta(obj)
	s := &autoscalingScale{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp,
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
	s.APIVersion, s.Kind = "autoscaling/v1", "Scale"
	return s, nil
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}

// setReplicas sets spec.replicas of a scalable object.
func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	}
}

func decodeScale(r *http.Request, body []byte) (*autoscalingScale, error) {
	scale := &autoscalingScale{}
	return scale, decodeTyped(r, body, autoscalingv1.SchemeGroupVersion.WithKind("Scale"), scale)
}

func patchScale(cur *autoscalingScale, pt types.PatchType, patch []byte) (*autoscalingScale, error) {
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err = p.Apply(curJSON)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	case types.MergePatchType, types.ApplyYAMLPatchType:
		j, err := yaml.YAMLToJSON(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if out, err = jsonpatch.MergePatch(curJSON, j); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		if out, err = strategicpatch.StrategicMergePatch(curJSON, patch, &autoscalingScale{}); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	scale := &autoscalingScale{}
	if err := json.Unmarshal(out, scale); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return scale, nil
}

// updateScale changes spec.replicas through the scale subresource.
func (s *APIServer) updateScale(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource, out output, opts writeOptions, next func(*autoscalingScale) (*autoscalingScale, error)) {
	var result runtime.Object
	fn := func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), info.Name)
		}
		scale, err := scaleOf(res, cur)
		if err != nil {
			return nil, err
		}
		want, err := next(scale)
		if err != nil {
			return nil, err
		}
		if want.ResourceVersion != "" && want.ResourceVersion != scale.ResourceVersion {
			return nil, apierrors.NewConflict(res.gr(), info.Name, errors.New(modifiedMessage))
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGK, info.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
		}
		obj := cur.DeepCopyObject()
		setReplicas(obj, want.Spec.Replicas)
		m := objectMeta(obj)
		if !fieldEqual(obj, cur, "Spec") {
			m.Generation++
		}
		if obj, err = s.manageFields(res, "", cur, obj, opts.fieldManager); err != nil {
			return nil, err
		}
		result = obj
		if opts.dryRun {
			return nil, errDryRun
		}
		return obj, nil
	}
	updated, err := res.store.Update(r.Context(), info.Namespace, info.Name, fn)
	if errors.Is(err, errDryRun) {
		updated, err = result, nil
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	scale, err := scaleOf(res, updated)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeObject(w, out, http.StatusOK, scale)
}
