package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

func (s *APIServer) patch(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(ct)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		writeError(w, r, unsupportedMediaType(r.Header.Get("Content-Type")))
		return
	}
	out, opts, patch, ok := readWrite(w, r, "patch")
	if !ok {
		return
	}
	if pt == types.ApplyYAMLPatchType && r.URL.Query().Get("fieldManager") == "" {
		writeError(w, r, apierrors.NewInvalid(metaKind("PatchOptions"), "", field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")}))
		return
	}
	if pt != types.ApplyYAMLPatchType && r.URL.Query().Has("force") {
		writeError(w, r, apierrors.NewInvalid(metaKind("PatchOptions"), "", field.ErrorList{field.Forbidden(field.NewPath("force"), "may not be specified for non-apply patch")}))
		return
	}
	if info.Subresource == "scale" {
		s.updateScale(w, r, info, res, out, opts, func(cur *autoscalingScale) (*autoscalingScale, error) {
			return patchScale(cur, pt, patch)
		})
		return
	}
	opts.apply = pt == types.ApplyYAMLPatchType
	var warnings []string
	opts.warnings = &warnings
	updated, code, err := s.updateObject(r.Context(), res, info, opts, func(cur runtime.Object) (runtime.Object, error) {
		if pt == types.ApplyYAMLPatchType {
			return s.apply(res, info, opts, cur, patch)
		}
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), info.Name)
		}
		obj, w, err := applyPatch(res, pt, cur, patch, opts.fieldValidation)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, err
		}
		m := objectMeta(obj)
		if m.Name != info.Name || m.Namespace != objectMeta(cur).Namespace {
			return nil, apierrors.NewBadRequest("metadata.name and metadata.namespace may not be changed by a patch")
		}
		return obj, nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	writeObject(w, out, code, updated)
}

func metaKind(kind string) schema.GroupKind {
	return schema.GroupKind{Group: "meta.k8s.io", Kind: kind}
}

// applyPatch applies a JSON, merge or strategic merge patch to cur.
func applyPatch(res *resource, pt types.PatchType, cur runtime.Object, patch []byte, fieldValidation string) (runtime.Object, []string, error) {
	jsonInfo, _ := serializerFor(mediaJSON)
	curJSON, err := runtime.Encode(jsonInfo.Serializer, cur)
	if err != nil {
		return nil, nil, err
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		if patched, err = p.Apply(curJSON); err != nil {
			return nil, nil, apierrors.NewInvalid(res.gk(), objectMeta(cur).Name, field.ErrorList{field.Invalid(field.NewPath(""), string(patch), err.Error())})
		}
	case types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(curJSON, patch); err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		schema, err := strategicpatch.NewPatchMetaFromStruct(res.newObject())
		if err != nil {
			return nil, nil, err
		}
		var curMap, patchMap map[string]any
		if err := yaml.Unmarshal(curJSON, &curMap); err != nil {
			return nil, nil, err
		}
		if err := yaml.Unmarshal(patch, &patchMap); err != nil {
			return nil, nil, apierrors.NewBadRequest(err.Error())
		}
		merged, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(curMap, patchMap, schema)
		if err != nil {
			return nil, nil, patchError(res, cur, err)
		}
		if patched, err = json.Marshal(merged); err != nil {
			return nil, nil, err
		}
	}
	obj, warnings, err := decodeWith(jsonInfo, patched, res, fieldValidation)
	if err != nil {
		if derr := patchedDecodeError(jsonInfo, patched, res); derr != nil {
			// As upstream: a patch whose result is not this resource
			// (kind or apiVersion changed, a field of the wrong type)
			// is an invalid patch, 422 quoting the patched document.
			return nil, nil, apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{field.Invalid(field.NewPath("patch"), string(patched), derr.Error())})
		}
		return nil, nil, err
	}
	return obj, warnings, nil
}

// patchedDecodeError is the error upstream's patch handler meets decoding
// the patched document into the resource's type: the decoder's own error,
// or, when the document decodes as another kind, the failed conversion to
// this one. Strict-decoding errors (unknown or duplicate fields) are not
// reported here: fieldValidation decides about those.
func patchedDecodeError(info runtime.SerializerInfo, patched []byte, res *resource) error {
	want := res.info.GVK
	obj, gvk, err := info.Serializer.Decode(patched, &want, res.newObject())
	if err != nil {
		if _, strict := runtime.AsStrictDecodingError(err); !strict || obj == nil {
			return err
		}
	}
	if gvk == nil || *gvk == want {
		return nil
	}
	into := res.newObject()
	if err := scheme.Scheme.Convert(obj, into, nil); err != nil {
		return err
	}
	return fmt.Errorf("unable to decode %s into %T", gvk, into)
}

func patchError(res *resource, cur runtime.Object, err error) error {
	return apierrors.NewInvalid(res.gk(), objectMeta(cur).Name, field.ErrorList{field.Invalid(field.NewPath(""), "", err.Error())})
}

// apply runs a server-side apply of the YAML configuration onto cur (nil
// when the object does not exist yet).
func (s *APIServer) apply(res *resource, info requestInfo, opts writeOptions, cur runtime.Object, patch []byte) (runtime.Object, error) {
	applied := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(patch, &applied.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if applied.Object == nil {
		return nil, apierrors.NewBadRequest("empty apply configuration")
	}
	gvk := applied.GroupVersionKind()
	if gvk != res.info.GVK {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the apply configuration's apiVersion and kind (%s, Kind=%s) do not match the resource (%s)", gvk.GroupVersion(), gvk.Kind, res.info.GVK))
	}
	if applied.GetName() != info.Name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), info.Name))
	}
	if ns := applied.GetNamespace(); ns != "" && res.info.Namespaced && ns != info.Namespace {
		return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	fm, err := res.fieldManager(info.Subresource)
	if err != nil {
		return nil, err
	}
	live := cur
	if live == nil {
		live = res.newObject()
		lm := objectMeta(live)
		lm.Name = info.Name
		lm.Namespace = info.Namespace
	}
	obj, err := fm.Apply(live, applied, opts.fieldManager, opts.force)
	if err != nil {
		return nil, err
	}
	if _, ok := obj.(metav1.ObjectMetaAccessor); !ok {
		return nil, fmt.Errorf("apply returned %T", obj)
	}
	obj.GetObjectKind().SetGroupVersionKind(res.info.GVK)
	return obj, nil
}
