package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/auth"
)

// recordSink is a recording fake Sink.
type recordSink struct {
	mu  sync.Mutex
	evs []*Event
}

func (s *recordSink) Process(ev *Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
}

func (s *recordSink) events() []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

func stages(evs []*Event) []Stage {
	var out []Stage
	for _, ev := range evs {
		out = append(out, ev.Stage)
	}
	return out
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func policy(t *testing.T, rules string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + rules))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// attrsFor is the attributes function a server would pass: the user comes
// from the context, set by authentication.
func attrsFor(verb, resource, sub, name string) func(*http.Request) auth.Attributes {
	return func(r *http.Request) auth.Attributes {
		return auth.Attributes{User: auth.UserFrom(r.Context()), Verb: verb, ResourceRequest: true,
			APIVersion: "v1", Resource: resource, Subresource: sub, Namespace: "default", Name: name, Path: r.URL.Path}
	}
}

func withUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := &auth.User{Name: "alice", UID: "u1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string][]string{"scopes": {"a"}}}
		h.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

// TestEventJSON checks the exact bytes of a RequestResponse create.
func TestEventJSON(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	var out bytes.Buffer
	w := NewWriter(&out, 10, nil)
	a := New(policy(t, "rules: [{level: RequestResponse}]\n"), w, Options{Clock: clk, NewID: func() string { return "id-1" }})
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"}}`
	h := withUser(WithAudit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		AddAnnotation(r.Context(), AnnotationAuthzDecision, "allow")
		AddAnnotation(r.Context(), AnnotationAuthzReason, `RBAC: allowed by ClusterRoleBinding "x"`)
		AddAnnotation(r.Context(), AnnotationAuthzDecision, "ignored: first value wins")
		SetImpersonatedUser(r.Context(), &auth.User{Name: "bob"})
		clk.SetTime(t0.Add(1500 * time.Microsecond))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"kind":"ConfigMap","metadata":{"name":"cm1","uid":"x"}}`)
	}), a, attrsFor("create", "configmaps", "", "")))
	req := httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps?fieldManager=kubectl", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kubectl/v1.37")
	req.Header.Set("X-Forwarded-For", "10.0.0.1, 192.0.2.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get(HeaderAuditID); got != "id-1" {
		t.Errorf("Audit-ID header = %q; want id-1", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx) // writes what is queued and returns

	common := `"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"id-1",` +
		`%s,"requestURI":"/api/v1/namespaces/default/configmaps?fieldManager=kubectl","verb":"create",` +
		`"user":{"username":"alice","uid":"u1","groups":["devs","system:authenticated"],"extra":{"scopes":["a"]}},`
	want := []string{
		`{` + strings.Replace(common, "%s", `"stage":"RequestReceived"`, 1) +
			`"sourceIPs":["10.0.0.1","192.0.2.1"],"userAgent":"kubectl/v1.37",` +
			`"objectRef":{"resource":"configmaps","namespace":"default","apiVersion":"v1"},` +
			`"requestReceivedTimestamp":"2026-01-02T03:04:05.123456Z","stageTimestamp":"2026-01-02T03:04:05.123456Z"}`,
		`{` + strings.Replace(common, "%s", `"stage":"ResponseComplete"`, 1) +
			`"impersonatedUser":{"username":"bob"},"sourceIPs":["10.0.0.1","192.0.2.1"],"userAgent":"kubectl/v1.37",` +
			`"objectRef":{"resource":"configmaps","namespace":"default","name":"cm1","apiVersion":"v1"},` +
			`"responseStatus":{"metadata":{},"code":201},` +
			`"requestObject":` + body + `,"responseObject":{"kind":"ConfigMap","metadata":{"name":"cm1","uid":"x"}},` +
			`"requestReceivedTimestamp":"2026-01-02T03:04:05.123456Z","stageTimestamp":"2026-01-02T03:04:05.124956Z",` +
			`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"x\""}}`,
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s\nwant %d", len(got), out.String(), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestMiddleware(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "s", io.EOF)
	tests := []struct {
		name        string
		rules       string
		verb, sub   string
		method      string
		contentType string
		body        string
		maxBody     int
		handler     func(t *testing.T, w http.ResponseWriter, r *http.Request)
		wantStages  []Stage
		check       func(t *testing.T, last *Event)
	}{
		{
			name: "metadata get", rules: "rules: [{level: Metadata}]\n", verb: "get", method: "GET",
			handler:    func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"kind":"Secret"}`) },
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if ev.ResponseStatus.Code != 200 || ev.RequestObject != nil || ev.ResponseObject != nil {
					t.Errorf("got code %d, request %s, response %s; want 200 and no objects", ev.ResponseStatus.Code, ev.RequestObject, ev.ResponseObject)
				}
			},
		},
		{
			name: "error status", rules: "rules: [{level: Metadata}]\n", verb: "get", method: "GET",
			handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(forbidden.Status())
			},
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				s := ev.ResponseStatus
				if s.Code != 403 || s.Status != "Failure" || s.Reason != "Forbidden" || !strings.Contains(s.Message, "forbidden") || s.Details == nil {
					t.Errorf("responseStatus = %+v; want the Forbidden status", s)
				}
			},
		},
		{
			name: "watch has ResponseStarted and no response object", rules: "rules: [{level: RequestResponse}]\n", verb: "watch", method: "GET",
			handler: func(t *testing.T, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"type":"ADDED","object":{}}`)
				w.(http.Flusher).Flush()
			},
			wantStages: []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if ev.ResponseObject != nil || ev.ResponseStatus.Code != 200 {
					t.Errorf("got %s, code %d; want no response object, 200", ev.ResponseObject, ev.ResponseStatus.Code)
				}
			},
		},
		{
			name: "exec hijack", rules: "rules: [{level: Metadata}]\n", verb: "create", sub: "exec", method: "POST",
			handler: func(t *testing.T, w http.ResponseWriter, _ *http.Request) {
				if _, ok := w.(http.Hijacker); !ok {
					t.Error("writer is not a Hijacker")
				}
				w.WriteHeader(http.StatusSwitchingProtocols)
			},
			wantStages: []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if ev.ResponseStatus.Code != 101 {
					t.Errorf("code %d; want 101", ev.ResponseStatus.Code)
				}
			},
		},
		{
			name: "omitStages", rules: "omitStages: [RequestReceived]\nrules: [{level: Metadata, omitStages: [ResponseStarted]}]\n", verb: "watch", method: "GET",
			handler:    func(_ *testing.T, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) },
			wantStages: []Stage{StageResponseComplete},
		},
		{
			name: "level None records nothing", rules: "rules: [{level: None}]\n", verb: "get", method: "GET",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				AddAnnotation(r.Context(), "a", "b") // must be a no-op
				if From(r.Context()) != nil {
					t.Error("request context carries an audit request at level None")
				}
			},
		},
		{
			name: "request level records the body, not the response", rules: "rules: [{level: Request}]\n", verb: "update", method: "PUT",
			contentType: "application/json", body: `{"metadata":{"name":"x"}}`,
			handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, `{"kind":"Secret"}`)
			},
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if string(ev.RequestObject) != `{"metadata":{"name":"x"}}` || ev.ResponseObject != nil {
					t.Errorf("request %s, response %s", ev.RequestObject, ev.ResponseObject)
				}
			},
		},
		{
			name: "yaml body becomes json", rules: "rules: [{level: Request}]\n", verb: "patch", method: "PATCH",
			contentType: "application/apply-patch+yaml", body: "metadata:\n  name: x\n",
			handler:    func(_ *testing.T, _ http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) },
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if string(ev.RequestObject) != `{"metadata":{"name":"x"}}` {
					t.Errorf("request %s", ev.RequestObject)
				}
			},
		},
		{
			name: "protobuf body left out", rules: "rules: [{level: Request}]\n", verb: "create", method: "POST",
			contentType: "application/vnd.kubernetes.protobuf", body: "k8s\x00\x01\x02",
			handler:    func(_ *testing.T, _ http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) },
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if ev.RequestObject != nil {
					t.Errorf("request %q; want none", ev.RequestObject)
				}
			},
		},
		{
			name: "oversized body is left out and annotated", rules: "rules: [{level: RequestResponse}]\n", verb: "create", method: "POST",
			contentType: "application/json", body: `{"data":"` + strings.Repeat("x", 100) + `"}`, maxBody: 50,
			handler: func(_ *testing.T, w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, `{}`)
			},
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if ev.RequestObject != nil || string(ev.ResponseObject) != `{}` || ev.Annotations[AnnotationTruncated] != "true" {
					t.Errorf("request %s, response %s, annotations %v", ev.RequestObject, ev.ResponseObject, ev.Annotations)
				}
			},
		},
		{
			name: "omitManagedFields", rules: "omitManagedFields: true\nrules: [{level: RequestResponse}]\n", verb: "list", method: "GET",
			handler: func(_ *testing.T, w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, `{"kind":"SecretList","items":[{"metadata":{"name":"a","managedFields":[{"manager":"m"}]}}]}`)
			},
			wantStages: []Stage{StageRequestReceived, StageResponseComplete},
			check: func(t *testing.T, ev *Event) {
				if string(ev.ResponseObject) != `{"items":[{"metadata":{"name":"a"}}],"kind":"SecretList"}` {
					t.Errorf("response %s", ev.ResponseObject)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordSink{}
			a := New(policy(t, tc.rules), sink, Options{MaxBodyBytes: tc.maxBody})
			h := withUser(WithAudit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.handler(t, w, r) }),
				a, attrsFor(tc.verb, "secrets", tc.sub, "s")))
			req := httptest.NewRequest(tc.method, "/api/v1/namespaces/default/secrets/s", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Header().Get(HeaderAuditID) == "" {
				t.Error("no Audit-ID header")
			}
			evs := sink.events()
			if got := stages(evs); !slices.Equal(got, tc.wantStages) {
				t.Fatalf("stages %v; want %v", got, tc.wantStages)
			}
			for _, ev := range evs {
				if ev.AuditID != rec.Header().Get(HeaderAuditID) || ev.User.Username != "alice" {
					t.Errorf("event %s: auditID %q user %q", ev.Stage, ev.AuditID, ev.User.Username)
				}
			}
			if tc.check != nil {
				tc.check(t, evs[len(evs)-1])
			}
		})
	}
}

func TestMiddlewarePanic(t *testing.T) {
	sink := &recordSink{}
	a := New(policy(t, "rules: [{level: Metadata}]\n"), sink, Options{})
	h := withUser(WithAudit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), a, attrsFor("get", "pods", "", "p")))
	req := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods/p", nil)
	req.Header.Set(HeaderAuditID, "client-id")
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v; want the handler's panic re-raised", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	evs := sink.events()
	if got := stages(evs); !slices.Equal(got, []Stage{StageRequestReceived, StagePanic}) {
		t.Fatalf("stages %v", got)
	}
	last := evs[1]
	if last.AuditID != "client-id" || last.ResponseStatus.Code != 500 || !strings.Contains(last.ResponseStatus.Message, "boom") {
		t.Errorf("panic event %+v", last)
	}
}

// TestMiddlewareStreaming runs a real server: the writer must stay a
// Flusher (and work with http.ResponseController) so watches stream.
func TestMiddlewareStreaming(t *testing.T) {
	sink := &recordSink{}
	a := New(policy(t, "rules: [{level: Metadata}]\n"), sink, Options{})
	release := make(chan struct{}) // closed by the test once the first event arrived
	srv := httptest.NewServer(withUser(WithAudit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "event-1\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		<-release
		io.WriteString(w, "event-2\n")
	}), a, attrsFor("watch", "pods", "", ""))))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods?watch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make([]byte, len("event-1\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "event-1\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	if got := stages(sink.events()); !slices.Equal(got, []Stage{StageRequestReceived, StageResponseStarted}) {
		t.Errorf("while streaming: stages %v; want RequestReceived, ResponseStarted", got)
	}
	close(release)
	io.ReadAll(resp.Body)
	srv.Close() // waits for the handler
	if got := stages(sink.events()); !slices.Equal(got, []Stage{StageRequestReceived, StageResponseStarted, StageResponseComplete}) {
		t.Errorf("after: stages %v", got)
	}
}
