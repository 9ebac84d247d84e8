package apiserver

import (
	"net/http"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/resources/fieldsel"
	"github.com/skiff-sh/skiff/internal/storage"
)

// optionsGV is the group version query parameters are decoded in.
var optionsGV = schema.GroupVersion{Version: "v1"}

func (s *APIServer) get(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, err := negotiate(r, asTable, asPartial)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var opts metav1.GetOptions
	if err := scheme.ParameterCodec.DecodeParameters(r.URL.Query(), optionsGV, &opts); err != nil {
		writeError(w, r, apierrors.NewBadRequest(err.Error()))
		return
	}
	obj, err := res.store.Get(r.Context(), info.Namespace, info.Name, storage.GetOptions{ResourceVersion: opts.ResourceVersion})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if info.Subresource == "scale" {
		scale, err := scaleOf(res, obj)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeObject(w, out, http.StatusOK, scale)
		return
	}
	if obj, err = res.served(obj); err != nil {
		writeError(w, r, err)
		return
	}
	s.writeAs(w, r, out, res, http.StatusOK, []runtime.Object{obj}, false, metav1.ListMeta{})
}

// writeAs writes objects in the negotiated representation: a single object
// (or a Table or PartialObjectMetadata of it), or a list of them.
func (s *APIServer) writeAs(w http.ResponseWriter, r *http.Request, out output, res *resource, code int, objs []runtime.Object, isList bool, lm metav1.ListMeta) {
	switch out.as {
	case asTable:
		table, err := s.table(r, res, objs, out.version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		table.ListMeta = lm
		writeObject(w, out, code, table)
	case asPartial, asPartialList:
		if !isList {
			if out.as != asPartial {
				writeError(w, r, notAcceptable())
				return
			}
			writeObject(w, out, code, partial(objs[0], out.version))
			return
		}
		if out.as != asPartialList {
			writeError(w, r, notAcceptable())
			return
		}
		list := &metav1.PartialObjectMetadataList{ListMeta: lm}
		list.APIVersion = "meta.k8s.io/" + out.version
		list.Kind = "PartialObjectMetadataList"
		for _, obj := range objs {
			list.Items = append(list.Items, *partial(obj, ""))
		}
		writeObject(w, out, code, list)
	default:
		if !isList {
			writeObject(w, out, code, objs[0])
			return
		}
		list, err := buildList(res.listGVK, objs, lm)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeObject(w, out, code, list)
	}
}

func notAcceptable() error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schemaGR(), "", "the requested representation is not available for this request", 0, false)
}

// partial returns the metadata of obj as a PartialObjectMetadata. version
// "" leaves TypeMeta empty, as list items have it.
func partial(obj runtime.Object, version string) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{ObjectMeta: *objectMeta(obj)}
	if version != "" {
		p.APIVersion = "meta.k8s.io/" + version
		p.Kind = "PartialObjectMetadata"
	}
	return p
}

// buildList puts shallow copies of objs into a typed list, with the items'
// TypeMeta cleared as upstream's lists have them. objs are not modified.
func buildList(gvk schema.GroupVersionKind, objs []runtime.Object, lm metav1.ListMeta) (runtime.Object, error) {
	list, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	lv := reflect.ValueOf(list).Elem()
	items := lv.FieldByName("Items")
	slice := reflect.MakeSlice(items.Type(), len(objs), len(objs))
	for i, obj := range objs {
		item := slice.Index(i)
		item.Set(reflect.ValueOf(obj).Elem())
		item.FieldByName("TypeMeta").Set(reflect.Zero(item.FieldByName("TypeMeta").Type()))
	}
	items.Set(slice)
	lv.FieldByName("ListMeta").Set(reflect.ValueOf(lm))
	list.GetObjectKind().SetGroupVersionKind(gvk)
	return list, nil
}

// listOptions decodes and checks the list and watch query parameters.
func listOptions(r *http.Request, res *resource) (metav1.ListOptions, labels.Selector, fields.Selector, error) {
	var opts metav1.ListOptions
	if err := scheme.ParameterCodec.DecodeParameters(r.URL.Query(), optionsGV, &opts); err != nil {
		return opts, nil, nil, apierrors.NewBadRequest(err.Error())
	}
	ls, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return opts, nil, nil, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return opts, nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if fs, err = fieldsel.ConvertSelector(res.gk(), fs); err != nil {
		return opts, nil, nil, err
	}
	switch opts.ResourceVersionMatch {
	case "", metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact:
	default:
		return opts, nil, nil, invalidOption("resourceVersionMatch", string(opts.ResourceVersionMatch), "must be one of NotOlderThan, Exact")
	}
	// A watch-list (sendInitialEvents, checked by watch) may leave
	// resourceVersion unset for a consistent start, as client-go's
	// reflector does; upstream forbids the pair only for lists.
	if opts.ResourceVersionMatch != "" && opts.ResourceVersion == "" && opts.SendInitialEvents == nil {
		return opts, nil, nil, invalidOption("resourceVersionMatch", string(opts.ResourceVersionMatch), "resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact && opts.ResourceVersion == "0" {
		return opts, nil, nil, invalidOption("resourceVersionMatch", string(opts.ResourceVersionMatch), "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
	}
	if opts.Continue != "" && opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		return opts, nil, nil, invalidOption("resourceVersion", opts.ResourceVersion, "specifying resource version is not allowed when using continue")
	}
	return opts, ls, fs, nil
}

func (s *APIServer) list(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, err := negotiate(r, asTable, asPartialList)
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts, ls, fs, err := listOptions(r, res)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if opts.SendInitialEvents != nil {
		writeError(w, r, invalidOption("sendInitialEvents", "", "sendInitialEvents is forbidden for list"))
		return
	}
	result, err := res.store.List(r.Context(), info.Namespace, storage.ListOptions{
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: string(opts.ResourceVersionMatch),
		Limit:                opts.Limit,
		Continue:             opts.Continue,
		Label:                ls,
		Field:                fs,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	items := result.Items
	if res.conv != nil {
		items = make([]runtime.Object, len(result.Items))
		for i, obj := range result.Items {
			if items[i], err = res.served(obj); err != nil {
				writeError(w, r, err)
				return
			}
		}
	}
	lm := metav1.ListMeta{
		ResourceVersion:    uintString(result.ResourceVersion),
		Continue:           result.Continue,
		RemainingItemCount: result.RemainingItemCount,
	}
	s.writeAs(w, r, out, res, http.StatusOK, items, true, lm)
}
