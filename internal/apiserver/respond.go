package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// maxBodyBytes is upstream's limit on request bodies (3 MiB).
const maxBodyBytes = 3 * 1024 * 1024

func schemaGR() schema.GroupResource { return schema.GroupResource{} }

// readBody reads a request body, refusing bodies over maxBodyBytes with 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if len(data) > maxBodyBytes {
		return nil, tooLarge()
	}
	return data, nil
}

func tooLarge() error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
}

// writeObject encodes obj in the negotiated format with the given status.
func writeObject(w http.ResponseWriter, out output, code int, obj runtime.Object) {
	w.Header().Set("Content-Type", out.contentType())
	w.WriteHeader(code)
	if err := out.info.Serializer.Encode(obj, w); err != nil {
		// Headers are gone; all that is left is to cut the response short.
		panic(http.ErrAbortHandler)
	}
}

// writeError writes err as a metav1.Status. Errors that are not API status
// errors become 500 InternalError.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var status metav1.Status
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		status = se.Status()
	} else {
		status = apierrors.NewInternalError(err).Status()
	}
	status.Kind = "Status"
	status.APIVersion = "v1"
	code := int(status.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(status.Details.RetryAfterSeconds)))
	}
	out, nerr := negotiate(r)
	if nerr != nil || out.as != asNone {
		info, _ := serializerFor(mediaJSON)
		out = output{info: info}
	}
	writeObject(w, out, code, &status)
}

// addWarnings adds each warning as an RFC 7234 Warning header, as upstream
// does for field validation and deprecation notices.
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %s", strconv.Quote(strings.ReplaceAll(msg, "\n", " "))))
	}
}

// unsupportedMediaType is upstream's 415 for a body it cannot decode.
func unsupportedMediaType(contentType string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schemaGR(), "", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s", strings.Join(acceptedTypes(), ", ")), 0, false)
}
