package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/auth"
)

// HeaderAuditID carries the audit ID: a client may send one, and every
// audited response has one.
const HeaderAuditID = "Audit-ID"

// DefaultMaxBodyBytes bounds the request and response bodies an event
// records; a larger body is left out of the event (annotated
// AnnotationTruncated) rather than recorded as invalid JSON.
const DefaultMaxBodyBytes = 1 << 20

// AnnotationTruncated is set on events whose request or response object
// was too large to record.
const AnnotationTruncated = "audit.skiff.sh/truncated"

// Options tune an Auditor; every field is optional.
type Options struct {
	// Clock stamps events; default the real clock.
	Clock clock.PassiveClock
	// MaxBodyBytes bounds recorded bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int
	// LongRunning reports requests that stream (their ResponseStarted
	// stage is recorded and their response body never is); default
	// IsLongRunning.
	LongRunning func(auth.Attributes) bool
	// NewID returns a fresh audit ID; default a random UUID.
	NewID func() string
}

// IsLongRunning is upstream's rule: watches and proxies, and the attach,
// exec, log, portforward and proxy subresources.
func IsLongRunning(a auth.Attributes) bool {
	if !a.ResourceRequest {
		return false
	}
	switch a.Verb {
	case "watch", "proxy":
		return true
	}
	switch a.Subresource {
	case "attach", "exec", "log", "portforward", "proxy":
		return true
	}
	return false
}

// Auditor decides, per request, what to record and hands events to a
// Sink. A nil *Auditor audits nothing; it is safe for concurrent use.
type Auditor struct {
	policy *Policy
	sink   Sink
	opts   Options
}

// New returns an Auditor applying policy and sending events to sink.
func New(policy *Policy, sink Sink, opts Options) *Auditor {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.LongRunning == nil {
		opts.LongRunning = IsLongRunning
	}
	if opts.NewID == nil {
		opts.NewID = uuid.NewString
	}
	return &Auditor{policy: policy, sink: sink, opts: opts}
}

// WithAudit is middleware that audits every request next serves. attrs
// describes a request; its User must be the authenticated user, so place
// WithAudit after authentication (attrs may read auth.UserFrom). Panics
// are recorded (stage Panic) and re-raised. a may be nil.
func WithAudit(next http.Handler, a *Auditor, attrs func(*http.Request) auth.Attributes) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w, r, ar := a.Begin(w, r, attrs(r))
		if ar == nil {
			next.ServeHTTP(w, r)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				ar.Panic(v)
				panic(v)
			}
			ar.End()
		}()
		next.ServeHTTP(w, r)
	})
}

// Begin starts auditing one request: it sets the Audit-ID response
// header, evaluates the policy (attrs.User is the authenticated user) and,
// unless the level is None, records RequestReceived and returns a writer
// and request to serve with instead of w and r: the writer records the
// response, the request's body is recorded as it is read (level Request
// and up) and its context carries the *Request for AddAnnotation and the
// other helpers. The caller must then call End, or Panic, exactly once
// after serving. With level None (or a nil Auditor) it returns w and r
// (with only the header set) and a nil *Request, whose methods do nothing.
func (a *Auditor) Begin(w http.ResponseWriter, r *http.Request, attrs auth.Attributes) (http.ResponseWriter, *http.Request, *Request) {
	if a == nil {
		return w, r, nil
	}
	id := r.Header.Get(HeaderAuditID)
	if id == "" {
		id = a.opts.NewID()
	}
	w.Header().Set(HeaderAuditID, id)
	d := a.policy.Decide(attrs)
	if d.Level == LevelNone {
		return w, r, nil
	}
	now := metav1.NewMicroTime(a.opts.Clock.Now())
	ar := &Request{
		a:           a,
		decision:    d,
		longRunning: a.opts.LongRunning(attrs),
		ev: Event{
			Kind:                     "Event",
			APIVersion:               "audit.k8s.io/v1",
			Level:                    d.Level,
			AuditID:                  id,
			RequestURI:               r.RequestURI,
			Verb:                     attrs.Verb,
			User:                     userInfo(attrs.User),
			SourceIPs:                sourceIPs(r),
			UserAgent:                r.UserAgent(),
			RequestReceivedTimestamp: now,
		},
	}
	if ar.ev.RequestURI == "" {
		ar.ev.RequestURI = r.URL.RequestURI()
	}
	if attrs.ResourceRequest {
		ar.ev.ObjectRef = &ObjectReference{
			Resource: attrs.Resource, Namespace: attrs.Namespace, Name: attrs.Name,
			APIGroup: attrs.APIGroup, APIVersion: attrs.APIVersion, Subresource: attrs.Subresource,
		}
	}
	ar.emit(StageRequestReceived)

	if !d.Level.Less(LevelRequest) && r.Body != nil && r.Body != http.NoBody {
		ar.reqBody = &capture{limit: a.opts.MaxBodyBytes}
		r.Body = &teeBody{ReadCloser: r.Body, c: ar.reqBody}
	}
	ar.reqContentType = r.Header.Get("Content-Type")
	ar.resp = &recorder{ResponseWriter: w, ar: ar}
	if d.Level == LevelRequestResponse && !ar.longRunning {
		ar.resp.body = &capture{limit: a.opts.MaxBodyBytes}
	}
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, ar))
	return ar.resp, r, ar
}

// Request is one audited request. Its methods are safe for concurrent use
// and do nothing on a nil *Request.
type Request struct {
	a              *Auditor
	decision       Decision
	longRunning    bool
	reqBody        *capture // nil below level Request
	reqContentType string
	resp           *recorder

	// mu guards ev, started and done.
	mu      sync.Mutex
	ev      Event
	started bool // ResponseStarted recorded
	done    bool // End or Panic called
}

type requestKey struct{}

// From returns the audited request a context carries, or nil.
func From(ctx context.Context) *Request {
	ar, _ := ctx.Value(requestKey{}).(*Request)
	return ar
}

// AddAnnotation records key=value on the request's events from now on
// (the first value of a key wins, as upstream). No-op without auditing.
func AddAnnotation(ctx context.Context, key, value string) { From(ctx).AddAnnotation(key, value) }

// AddAnnotation: see the package function.
func (ar *Request) AddAnnotation(key, value string) {
	if ar == nil {
		return
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if ar.ev.Annotations == nil {
		ar.ev.Annotations = map[string]string{}
	}
	if _, ok := ar.ev.Annotations[key]; !ok {
		ar.ev.Annotations[key] = value
	}
}

// SetImpersonatedUser records the user the request acts as.
func SetImpersonatedUser(ctx context.Context, u *auth.User) { From(ctx).SetImpersonatedUser(u) }

// SetImpersonatedUser: see the package function.
func (ar *Request) SetImpersonatedUser(u *auth.User) {
	if ar == nil || u == nil {
		return
	}
	ui := userInfo(u)
	ar.mu.Lock()
	ar.ev.ImpersonatedUser = &ui
	ar.mu.Unlock()
}

// End records ResponseComplete with the response the handler wrote.
func (ar *Request) End() {
	if ar == nil {
		return
	}
	ar.mu.Lock()
	if ar.done {
		ar.mu.Unlock()
		return
	}
	ar.done = true
	ar.mu.Unlock()
	code, body, respBody := ar.resp.result()
	status := &metav1.Status{Code: int32(code)}
	if code >= 300 && body != nil {
		if s, ok := parseStatus(body); ok {
			status = s
			status.Code = int32(code)
		}
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	ar.ev.ResponseStatus = status
	if ar.reqBody != nil {
		ar.ev.RequestObject = ar.object(ar.reqBody, ar.reqContentType)
		ar.fillRefFromBody(ar.ev.RequestObject)
	}
	if respBody != nil {
		ar.ev.ResponseObject = ar.object(respBody, ar.resp.Header().Get("Content-Type"))
	}
	if ar.longRunning && !ar.started {
		ar.started = true
		ar.emitLocked(StageResponseStarted)
	}
	ar.emitLocked(StageResponseComplete)
}

// Panic records the Panic stage for a handler that panicked with v; the
// caller re-raises the panic.
func (ar *Request) Panic(v any) {
	if ar == nil {
		return
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if ar.done {
		return
	}
	ar.done = true
	ar.ev.ResponseStatus = &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Message: fmt.Sprintf("APIServer panic'd: %v", v),
	}
	ar.emitLocked(StagePanic)
}

// responseStarted records ResponseStarted for long-running requests, once.
func (ar *Request) responseStarted(code int) {
	if !ar.longRunning {
		return
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if ar.started || ar.done {
		return
	}
	ar.started = true
	ar.ev.ResponseStatus = &metav1.Status{Code: int32(code)}
	ar.emitLocked(StageResponseStarted)
}

func (ar *Request) emit(s Stage) {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	ar.emitLocked(s)
}

// emitLocked sends a copy of the event at stage s; ar.mu must be held.
func (ar *Request) emitLocked(s Stage) {
	if ar.decision.Omits(s) || ar.a.sink == nil {
		return
	}
	ev := ar.ev
	ev.Stage = s
	ev.StageTimestamp = metav1.NewMicroTime(ar.a.opts.Clock.Now())
	if s == StageRequestReceived {
		ev.StageTimestamp = ev.RequestReceivedTimestamp
	}
	if ev.ObjectRef != nil {
		ref := *ev.ObjectRef
		ev.ObjectRef = &ref
	}
	if ev.ResponseStatus != nil {
		st := *ev.ResponseStatus
		ev.ResponseStatus = &st
	}
	if ev.Annotations != nil {
		ev.Annotations = make(map[string]string, len(ar.ev.Annotations))
		for k, v := range ar.ev.Annotations {
			ev.Annotations[k] = v
		}
	}
	ar.a.sink.Process(&ev)
}

// object turns a captured body into the JSON an event records: JSON as
// is, YAML (by content type) converted; anything else (protobuf) and
// truncated bodies are left out. ar.mu must be held.
func (ar *Request) object(c *capture, contentType string) json.RawMessage {
	if c.n == 0 {
		return nil
	}
	if c.truncated {
		if ar.ev.Annotations == nil {
			ar.ev.Annotations = map[string]string{}
		}
		ar.ev.Annotations[AnnotationTruncated] = "true"
		return nil
	}
	data := c.buf.Bytes()
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/yaml" || mt == "application/apply-patch+yaml" {
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil
		}
		data = j
	}
	if !json.Valid(data) {
		return nil // protobuf, or a body that is not an object at all
	}
	if ar.decision.OmitManagedFields && bytes.Contains(data, []byte(`"managedFields"`)) {
		data = omitManagedFields(data)
	}
	return bytes.Clone(data)
}

// fillRefFromBody fills a missing object name and namespace from the
// recorded request object; ar.mu must be held.
func (ar *Request) fillRefFromBody(obj json.RawMessage) {
	ref := ar.ev.ObjectRef
	if ref == nil || obj == nil || (ref.Name != "" && ref.Namespace != "") {
		return
	}
	var o struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if json.Unmarshal(obj, &o) != nil {
		return
	}
	if ref.Name == "" {
		ref.Name = o.Metadata.Name
	}
	if ref.Namespace == "" {
		ref.Namespace = o.Metadata.Namespace
	}
}

// omitManagedFields drops metadata.managedFields from an object, or from
// every item of a list.
func omitManagedFields(data []byte) []byte {
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return data
	}
	strip := func(o any) {
		if m, ok := o.(map[string]any); ok {
			if md, ok := m["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
		}
	}
	strip(obj)
	if items, ok := obj["items"].([]any); ok {
		for _, it := range items {
			strip(it)
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return data
	}
	return out
}

// parseStatus reads a metav1.Status response body, keeping upstream's
// bounded fields.
func parseStatus(body []byte) (*metav1.Status, bool) {
	var s metav1.Status
	if json.Unmarshal(body, &s) != nil || (s.Kind != "Status" && s.Status == "") {
		return nil, false
	}
	return &metav1.Status{Status: s.Status, Message: s.Message, Reason: s.Reason, Details: s.Details, Code: s.Code}, true
}

func userInfo(u *auth.User) authnv1.UserInfo {
	if u == nil {
		return authnv1.UserInfo{}
	}
	ui := authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: slices.Clone(u.Groups)}
	if len(u.Extra) > 0 {
		ui.Extra = make(map[string]authnv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			ui.Extra[k] = slices.Clone(v)
		}
	}
	return ui
}

// sourceIPs lists X-Forwarded-For, then X-Real-Ip, then the peer address,
// without duplicates, as upstream does.
func sourceIPs(r *http.Request) []string {
	var ips []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if ip := net.ParseIP(s); ip != nil && !slices.Contains(ips, ip.String()) {
			ips = append(ips, ip.String())
		}
	}
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, s := range strings.Split(v, ",") {
			add(s)
		}
	}
	add(r.Header.Get("X-Real-Ip"))
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	add(host)
	return ips
}

// capture keeps the first limit bytes written to it.
type capture struct {
	limit     int
	buf       bytes.Buffer
	n         int
	truncated bool
}

func (c *capture) Write(p []byte) {
	c.n += len(p)
	if c.truncated {
		return
	}
	if c.buf.Len()+len(p) > c.limit {
		c.truncated = true
		c.buf = bytes.Buffer{}
		return
	}
	c.buf.Write(p)
}

// teeBody records what the handler reads from the request body.
type teeBody struct {
	io.ReadCloser
	c *capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.c.Write(p[:n])
	}
	return n, err
}

// recorder is the ResponseWriter handed to the handler. It passes
// everything through, keeping the status code and (when body is set, or
// for error responses) the first bytes of the body. It supports Flush,
// Hijack and http.ResponseController (Unwrap).
type recorder struct {
	http.ResponseWriter
	ar *Request

	// mu guards the fields below; handlers of streams may write from
	// several goroutines.
	mu          sync.Mutex
	code        int
	wroteHeader bool
	body        *capture // RequestResponse, not long-running
	errBody     *capture // error responses, for responseStatus
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) WriteHeader(code int) {
	w.header(code)
	w.ResponseWriter.WriteHeader(code)
}

// header notes the status code once and records ResponseStarted.
func (w *recorder) header(code int) {
	w.mu.Lock()
	if w.wroteHeader || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		w.mu.Unlock()
		return
	}
	w.wroteHeader, w.code = true, code
	if code >= 300 && w.body == nil {
		w.errBody = &capture{limit: 64 << 10}
	}
	w.mu.Unlock()
	w.ar.responseStarted(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	w.header(http.StatusOK)
	w.mu.Lock()
	if w.body != nil {
		w.body.Write(p)
	} else if w.errBody != nil {
		w.errBody.Write(p)
	}
	w.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

func (w *recorder) Flush() {
	w.header(http.StatusOK)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	w.header(http.StatusSwitchingProtocols)
	return h.Hijack()
}

// result returns the status code (200 if the handler wrote nothing), the
// body bytes to look for a Status in, and the recorded response body
// (nil unless recording it). Call it once the handler has returned.
func (w *recorder) result() (code int, statusBody []byte, body *capture) {
	w.mu.Lock()
	defer w.mu.Unlock()
	code = w.code
	if !w.wroteHeader {
		code = http.StatusOK
	}
	switch {
	case w.body != nil && !w.body.truncated:
		statusBody = w.body.buf.Bytes()
	case w.errBody != nil && !w.errBody.truncated:
		statusBody = w.errBody.buf.Bytes()
	}
	return code, statusBody, w.body
}
