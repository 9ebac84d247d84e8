package openapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/resources"
)

// Media types of the documents.
const (
	mimeJSON      = "application/json"
	mimeV2Proto   = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeV2ProtoV0 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" // clients before 1.14
	mimeV3Proto   = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	// mimeProtoBody labels protobuf responses: the gnostic types contain
	// '@', which Go's mime parser (and so client-go) rejects, so upstream
	// labels the body as opaque bytes.
	mimeProtoBody = "application/octet-stream"
)

// ErrUnknownGroupVersion is returned by Document for a group version the
// server does not serve.
var ErrUnknownGroupVersion = errors.New("openapi: unknown group version")

// Handler serves /openapi/v2 and /openapi/v3. It builds its documents once,
// on first use or on Warm, and is safe for concurrent use.
type Handler struct {
	infos   []resources.Info
	scheme  *runtime.Scheme
	version string
	now     func() time.Time

	buildOnce sync.Once // guards docs and err
	docs      *documents
	err       error

	mu    sync.Mutex               // guards blobs
	blobs map[string]*encodedBlobs // protobuf and gzip encodings, by document key
}

// encodedBlobs caches the encodings of one document derived on demand.
type encodedBlobs struct {
	once    sync.Once
	proto   []byte
	err     error
	gzOnce  sync.Once
	gz      []byte
	pgzOnce sync.Once
	pgz     []byte
}

// New returns a handler for the given resources, whose Go types are looked
// up in scheme. version is reported as info.version ("v1.33.0+skiff").
// New checks that every kind is registered but defers building the
// documents (tens of milliseconds) to Warm or the first request.
func New(infos []resources.Info, scheme *runtime.Scheme, version string) (*Handler, error) {
	for _, info := range infos {
		kinds := []schema.GroupVersionKind{info.GVK}
		if info.Listed() {
			kinds = append(kinds, info.GVK.GroupVersion().WithKind(info.GVK.Kind+"List"))
		}
		for _, gvk := range kinds {
			if !scheme.Recognizes(gvk) {
				return nil, fmt.Errorf("openapi: kind %v is not registered in the scheme", gvk)
			}
		}
	}
	return &Handler{
		infos:   append([]resources.Info(nil), infos...),
		scheme:  scheme,
		version: version,
		now:     time.Now,
		blobs:   map[string]*encodedBlobs{},
	}, nil
}

// Warm builds the documents now rather than on the first request. Call it
// from a goroutine at start-up to take the cost off the first client.
func (h *Handler) Warm() error {
	_, err := h.documents()
	return err
}

func (h *Handler) documents() (*documents, error) {
	h.buildOnce.Do(func() {
		h.docs, h.err = build(h.infos, h.scheme, h.version)
	})
	return h.docs, h.err
}

// Definitions returns the swagger 2.0 definitions by name, with
// "#/definitions/" references, for building a managedfields type converter.
// The map and schemas are shared: callers must not modify them.
func (h *Handler) Definitions() (map[string]*spec.Schema, error) {
	docs, err := h.documents()
	if err != nil {
		return nil, err
	}
	return docs.v2Defs, nil
}

// V2 returns the serialized swagger 2.0 document. Callers must not modify it.
func (h *Handler) V2() ([]byte, error) {
	docs, err := h.documents()
	if err != nil {
		return nil, err
	}
	return docs.v2, nil
}

// Document returns the serialized OpenAPI 3.0 document of a group version
// path ("api/v1", "apis/apps/v1") and its hash. Callers must not modify it.
func (h *Handler) Document(gvPath string) (body []byte, hash string, err error) {
	docs, err := h.documents()
	if err != nil {
		return nil, "", err
	}
	d, ok := docs.v3[gvPath]
	if !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrUnknownGroupVersion, gvPath)
	}
	return d.body, d.hash, nil
}

// ServeHTTP serves /openapi/v2, /openapi/v3 and /openapi/v3/<group version>.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/openapi/v2":
		h.ServeV2(w, r)
	case p == "/openapi/v3" || p == "/openapi/v3/":
		h.ServeV3Index(w, r)
	case strings.HasPrefix(p, "/openapi/v3/"):
		h.ServeV3(w, r, strings.TrimPrefix(p, "/openapi/v3/"))
	default:
		http.NotFound(w, r)
	}
}

// ServeV2 serves the swagger 2.0 document as JSON or, when asked for,
// gnostic protobuf.
func (h *Handler) ServeV2(w http.ResponseWriter, r *http.Request) {
	if !allowedMethod(w, r) {
		return
	}
	docs, err := h.documents()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch negotiate(r.Header.Get("Accept"), mimeJSON, mimeV2Proto, mimeV2ProtoV0) {
	case mimeJSON:
		h.write(w, r, "v2", mimeJSON, docs.v2, docs.v2Hash, false)
	case mimeV2Proto, mimeV2ProtoV0:
		h.write(w, r, "v2", mimeProtoBody, docs.v2, docs.v2Hash, true)
	default:
		http.Error(w, "openapi: supported media types: "+mimeJSON+", "+mimeV2Proto, http.StatusNotAcceptable)
	}
}

// ServeV3Index serves the list of group version documents with their
// hashed URLs.
func (h *Handler) ServeV3Index(w http.ResponseWriter, r *http.Request) {
	if !allowedMethod(w, r) {
		return
	}
	docs, err := h.documents()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mimeJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	h.writeBody(w, r, "v3-index", docs.v3Index)
}

// ServeV3 serves the OpenAPI 3.0 document of one group version path
// ("api/v1", "apis/apps/v1"). A request whose ?hash= matches the document
// is answered as immutable; a stale hash is redirected to the current one.
func (h *Handler) ServeV3(w http.ResponseWriter, r *http.Request, gvPath string) {
	if !allowedMethod(w, r) {
		return
	}
	docs, err := h.documents()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	gvPath = strings.Trim(gvPath, "/")
	d, ok := docs.v3[gvPath]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if want := r.URL.Query().Get("hash"); want != "" && want != d.hash {
		u := *r.URL
		q := u.Query()
		q.Set("hash", d.hash)
		u.RawQuery = q.Encode()
		w.Header().Set("Cache-Control", "no-cache, private")
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
		return
	}
	mt := negotiate(r.Header.Get("Accept"), mimeJSON, mimeV3Proto)
	if mt == "" {
		http.Error(w, "openapi: supported media types: "+mimeJSON+", "+mimeV3Proto, http.StatusNotAcceptable)
		return
	}
	if r.URL.Query().Get("hash") != "" {
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", h.now().Add(365*24*time.Hour).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	contentType := mt
	if mt == mimeV3Proto {
		contentType = mimeProtoBody
	}
	h.write(w, r, "v3/"+gvPath, contentType, d.body, d.hash, mt == mimeV3Proto)
}

// write sends a document, converted to protobuf when asProto is set, with
// an ETag derived from the JSON hash.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, key, contentType string, body []byte, hash string, asProto bool) {
	etag := `"` + hash + `"`
	if asProto {
		etag = `"` + hash + `-pb"`
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Vary", "Accept, Accept-Encoding")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", contentType)
	if asProto {
		b := h.blob(key)
		b.once.Do(func() { b.proto, b.err = toProto(key, body) })
		if b.err != nil {
			http.Error(w, b.err.Error(), http.StatusInternalServerError)
			return
		}
		h.writeEncoded(w, r, b.proto, &b.pgzOnce, &b.pgz)
		return
	}
	h.writeBody(w, r, key, body)
}

// writeBody sends body, gzip-compressed when the client accepts it.
func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	b := h.blob(key)
	h.writeEncoded(w, r, body, &b.gzOnce, &b.gz)
}

func (h *Handler) writeEncoded(w http.ResponseWriter, r *http.Request, body []byte, once *sync.Once, gz *[]byte) {
	if acceptsGzip(r) && len(body) > 1024 {
		once.Do(func() { *gz = gzipBytes(body) })
		w.Header().Set("Content-Encoding", "gzip")
		body = *gz
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func (h *Handler) blob(key string) *encodedBlobs {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.blobs[key]
	if !ok {
		b = &encodedBlobs{}
		h.blobs[key] = b
	}
	return b
}

// toProto converts a JSON document to gnostic's protobuf form.
func toProto(key string, body []byte) ([]byte, error) {
	var msg proto.Message
	var err error
	if key == "v2" {
		msg, err = openapi_v2.ParseDocument(body)
	} else {
		msg, err = openapi_v3.ParseDocument(body)
	}
	if err != nil {
		return nil, fmt.Errorf("openapi: converting %s to protobuf: %w", key, err)
	}
	return proto.Marshal(msg)
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func acceptsGzip(r *http.Request) bool {
	for _, enc := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(enc, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

func allowedMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// negotiate picks the offered media type the Accept header prefers; the
// first offer is the default for an empty header or a wildcard. It returns
// "" when nothing offered is acceptable.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		// Not mime.ParseMediaType: the gnostic types contain '@', which
		// it rejects.
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if strings.TrimSpace(k) == "q" {
				parsed, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					parsed = 0
				}
				q = parsed
			}
		}
		if q <= 0 || q <= bestQ {
			continue
		}
		var match string
		switch {
		case mt == "*/*" || mt == "application/*":
			match = offers[0]
		default:
			for _, o := range offers {
				if mt == o {
					match = o
				}
			}
		}
		if match != "" {
			best, bestQ = match, q
		}
	}
	return best
}
