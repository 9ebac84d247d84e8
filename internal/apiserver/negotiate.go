package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/munnerz/goautoneg"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// Alternative representations a client may ask for with Accept parameters
// (application/json;as=Table;g=meta.k8s.io;v=v1).
const (
	asNone        = ""
	asTable       = "Table"
	asPartial     = "PartialObjectMetadata"
	asPartialList = "PartialObjectMetadataList"
	asDiscovery   = "APIGroupDiscoveryList"
)

// codecs decode request bodies strictly (so unknown fields can be reported)
// and encode responses in every supported media type.
var codecs = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)

// output is the negotiated response format.
type output struct {
	info runtime.SerializerInfo
	// as is the requested alternative representation, asNone for the object
	// itself.
	as string
	// version is the v= parameter of an alternative representation.
	version string
}

// contentType is the Content-Type header of a response in this format.
func (o output) contentType() string {
	if o.as == asNone {
		return o.info.MediaType
	}
	g := "meta.k8s.io"
	if o.as == asDiscovery {
		g = "apidiscovery.k8s.io"
	}
	return fmt.Sprintf("%s;g=%s;v=%s;as=%s", o.info.MediaType, g, o.version, o.as)
}

func serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	return runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
}

// negotiate picks the response format from the Accept header. allowed lists
// the alternative representations the endpoint can produce; asNone is
// always allowed unless plainForbidden is set (never, today).
func negotiate(r *http.Request, allowed ...string) (output, error) {
	header := r.Header.Get("Accept")
	if header == "" {
		header = "*/*"
	}
	for _, a := range goautoneg.ParseAccept(header) {
		if a.Q <= 0 {
			continue
		}
		var mediaType string
		switch {
		case a.Type == "*" || (a.Type == "application" && a.SubType == "*"):
			mediaType = mediaJSON
		case a.Type == "application" && (a.SubType == "json" || a.SubType == "yaml" || a.SubType == "vnd.kubernetes.protobuf"):
			mediaType = a.Type + "/" + a.SubType
		default:
			continue
		}
		as := a.Params["as"]
		if as == asNone {
			info, ok := serializerFor(mediaType)
			if !ok {
				continue
			}
			return output{info: info}, nil
		}
		if !acceptableAs(as, a.Params["g"], a.Params["v"], allowed) {
			continue
		}
		// Tables and discovery documents have no protobuf form here.
		if mediaType == mediaProtobuf {
			continue
		}
		info, ok := serializerFor(mediaType)
		if !ok {
			continue
		}
		return output{info: info, as: as, version: a.Params["v"]}, nil
	}
	return output{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schemaGR(), "", fmt.Sprintf("only the following media types are accepted: %s", strings.Join(acceptedTypes(), ", ")), 0, false)
}

func acceptableAs(as, group, version string, allowed []string) bool {
	found := false
	for _, a := range allowed {
		if a == as {
			found = true
		}
	}
	if !found {
		return false
	}
	switch as {
	case asDiscovery:
		return group == "apidiscovery.k8s.io" && (version == "v2" || version == "v2beta1")
	default:
		return group == "meta.k8s.io" && (version == "v1" || version == "v1beta1")
	}
}

func acceptedTypes() []string {
	var out []string
	for _, i := range codecs.SupportedMediaTypes() {
		out = append(out, i.MediaType)
	}
	return out
}

// requestSerializer returns the serializer for a request body's
// Content-Type, or a 415 error.
func requestSerializer(r *http.Request) (runtime.SerializerInfo, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		if info, ok := serializerFor(mt); ok {
			return info, nil
		}
	}
	return runtime.SerializerInfo{}, unsupportedMediaType(ct)
}
