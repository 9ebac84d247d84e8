package apiserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/resources/tables"
)

func uintString(v uint64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatUint(v, 10)
}

// invalidOption is upstream's 422 for a bad query parameter
// (ListOptions.meta.k8s.io "" is invalid: ...).
func invalidOption(name, value, msg string) error {
	return invalidOptions(field.ErrorList{field.Invalid(field.NewPath(name), value, msg)})
}

func invalidOptions(errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", errs)
}

func methodNotSupported(res *resource, verb string) error {
	return apierrors.NewMethodNotSupported(res.gr(), verb)
}

// writeNotFound is upstream's 404 for paths that name nothing.
func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, apierrors.NewGenericServerResponse(http.StatusNotFound, "", schemaGR(), "", "the server could not find the requested resource", 0, false))
}

// writeJSON writes a plain JSON document (discovery, version).
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// statusObject returns err as a Status object for watch ERROR events.
func statusObject(err error) runtime.Object {
	var se apierrors.APIStatus
	var status metav1.Status
	if errors.As(err, &se) {
		status = se.Status()
	} else {
		status = apierrors.NewInternalError(err).Status()
	}
	status.Kind, status.APIVersion = "Status", "v1"
	return &status
}

// table renders objs as a metav1.Table, with each row carrying the object
// as the includeObject parameter asks (Metadata by default).
func (s *APIServer) table(r *http.Request, res *resource, objs []runtime.Object, version string) (*metav1.Table, error) {
	include := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	switch include {
	case "":
		include = metav1.IncludeMetadata
	case metav1.IncludeMetadata, metav1.IncludeObject, metav1.IncludeNone:
	default:
		return nil, invalidOption("includeObject", string(include), "must be one of None, Metadata, Object")
	}
	t := &metav1.Table{ColumnDefinitions: tables.Columns(res.gk())}
	t.APIVersion = "meta.k8s.io/" + version
	t.Kind = "Table"
	now := s.cfg.Clock.Now()
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		row, err := tables.Row(obj, now)
		if err != nil {
			return nil, err
		}
		switch include {
		case metav1.IncludeObject:
			row.Object.Object = obj
		case metav1.IncludeMetadata:
			row.Object.Object = partial(obj, "v1")
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
