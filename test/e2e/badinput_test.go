package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rawResponse is an HTTP response with its body read.
type rawResponse struct {
	code   int
	header http.Header
	body   []byte
}

func doRaw(t *testing.T, method, path, contentType string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, serverURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

// status decodes a Status body and checks its kind, code and reason.
func expectStatus(t *testing.T, r rawResponse, code int, reason metav1.StatusReason) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("response %d is not a Status: %v: %s", r.code, err, r.body)
	}
	if r.code != code || st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure ||
		st.Code != int32(code) || st.Reason != reason {
		t.Errorf("got HTTP %d, Status kind %q apiVersion %q status %q code %d reason %q; want %d %s\n%s",
			r.code, st.Kind, st.APIVersion, st.Status, st.Code, st.Reason, code, reason, r.body)
	}
	return st
}

// configMapNames lists the configmaps in ns, sorted.
func configMapNames(t *testing.T, ns string) []string {
	t.Helper()
	r := doRaw(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps", "", nil)
	var list struct {
		Items []struct{ Metadata struct{ Name string } }
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("list configmaps: %v: %s", err, r.body)
	}
	var names []string
	for _, it := range list.Items {
		if it.Metadata.Name != "kube-root-ca.crt" {
			names = append(names, it.Metadata.Name)
		}
	}
	sort.Strings(names)
	return names
}

func TestBadInputHTTP(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	path := "/api/v1/namespaces/" + ns + "/configmaps"
	const (
		jsonType = "application/json"
		yamlType = "application/yaml"
	)
	big := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":%q}}`,
		strings.Repeat("x", 3*1024*1024+10))
	for _, tc := range []struct {
		name, query, contentType, body string
		code                           int
		reason                         metav1.StatusReason
		message                        string // a substring of the Status message
		causeField                     string // a details.causes field, if any
	}{
		{"malformed json", "", jsonType, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"`,
			400, metav1.StatusReasonBadRequest, "", ""},
		{"malformed yaml", "", yamlType, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m\n  data: [",
			400, metav1.StatusReasonBadRequest, "", ""},
		{"unknown kind", "", jsonType, `{"apiVersion":"v1","kind":"Bogus","metadata":{"name":"m"}}`,
			400, metav1.StatusReasonBadRequest, `no kind "Bogus" is registered for version "v1"`, ""},
		{"wrong apiVersion", "", jsonType, `{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"m"}}`,
			400, metav1.StatusReasonBadRequest, "ConfigMap", ""},
		{"body over 3MiB", "", jsonType, big,
			413, metav1.StatusReasonRequestEntityTooLarge, "limit is 3145728", ""},
		{"strict unknown field", "?fieldValidation=Strict", jsonType,
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"bogus":1}`,
			400, metav1.StatusReasonBadRequest, `strict decoding error: unknown field "bogus"`, ""},
		{"strict duplicate field", "?fieldValidation=Strict", jsonType,
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"data":{"a":"1","a":"2"}}`,
			400, metav1.StatusReasonBadRequest, `duplicate field "data.a"`, ""},
		{"invalid name", "", jsonType, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`,
			422, metav1.StatusReasonInvalid, `ConfigMap "Bad_Name" is invalid`, "metadata.name"},
		{"invalid data key", "", jsonType, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m"},"data":{"a b":"1"}}`,
			422, metav1.StatusReasonInvalid, "", "data[a b]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := configMapNames(t, ns)
			r := doRaw(t, http.MethodPost, path+tc.query, tc.contentType, []byte(tc.body))
			st := expectStatus(t, r, tc.code, tc.reason)
			if !strings.Contains(st.Message, tc.message) {
				t.Errorf("message %q lacks %q", st.Message, tc.message)
			}
			if tc.causeField != "" {
				found := false
				if st.Details != nil {
					for _, c := range st.Details.Causes {
						found = found || c.Field == tc.causeField
					}
				}
				if !found {
					t.Errorf("no cause for field %s in %+v", tc.causeField, st.Details)
				}
			}
			if after := configMapNames(t, ns); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("configmaps changed: before %v after %v", before, after)
			}
		})
	}

	t.Run("warn unknown field", func(t *testing.T) {
		r := doRaw(t, http.MethodPost, path+"?fieldValidation=Warn", jsonType,
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"data":{"a":"1"},"bogus":1}`))
		if r.code != http.StatusCreated {
			t.Fatalf("got %d; want 201: %s", r.code, r.body)
		}
		if w := r.header.Values("Warning"); len(w) != 1 || w[0] != `299 - "unknown field \"bogus\""` {
			t.Errorf("Warning header = %q; want one 299 warning naming the field", w)
		}
		if strings.Contains(string(r.body), "bogus") {
			t.Errorf("unknown field stored: %s", r.body)
		}
	})

	t.Run("stale resourceVersion", func(t *testing.T) {
		r := doRaw(t, http.MethodPost, path, jsonType, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cas"},"data":{"v":"1"}}`))
		if r.code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.code, r.body)
		}
		var created struct {
			Metadata struct{ ResourceVersion string }
		}
		_ = json.Unmarshal(r.body, &created)
		stale := created.Metadata.ResourceVersion
		put := func(rv, v string) rawResponse {
			return doRaw(t, http.MethodPut, path+"/cas", jsonType, []byte(fmt.Sprintf(
				`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cas","resourceVersion":%q},"data":{"v":%q}}`, rv, v)))
		}
		if r := put(stale, "2"); r.code != http.StatusOK {
			t.Fatalf("first update: %d %s", r.code, r.body)
		}
		st := expectStatus(t, put(stale, "3"), 409, metav1.StatusReasonConflict)
		want := `Operation cannot be fulfilled on configmaps "cas": the object has been modified; please apply your changes to the latest version and try again`
		if st.Message != want {
			t.Errorf("message = %q; want %q", st.Message, want)
		}
		if got := mustKubectl(t, "", "get", "cm", "cas", "-n", ns, "-o", "jsonpath={.data.v}"); got != "2" {
			t.Errorf("after conflict: data.v = %q; want 2", got)
		}
	})
}

func TestBadInputKubectl(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, tc := range []struct {
		name     string
		args     []string
		manifest string
		stderr   string // a substring of stderr
	}{
		{"malformed yaml", nil, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m\n  data: [", "error converting YAML to JSON"},
		// --validate=false: with validation on, kubectl first looks the kind
		// up among CRDs, and Skiff does not serve apiextensions.k8s.io yet.
		{"unknown kind", []string{"--validate=false"}, "apiVersion: v1\nkind: Bogus\nmetadata: {name: m}\n", `no matches for kind "Bogus" in version "v1"`},
		{"wrong apiVersion", []string{"--validate=false"}, "apiVersion: apps/v1\nkind: ConfigMap\nmetadata: {name: m}\n", `no matches for kind "ConfigMap" in version "apps/v1"`},
		{"strict unknown field", []string{"--validate=strict"}, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\nbogus: 1\n",
			`Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"`},
		{"invalid name", nil, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
			`The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"create", "-n", ns}, tc.args...), "-f", "-")
			r := kubectlWith(t, "", cmdOpts{stdin: tc.manifest}, args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, tc.stderr) {
				t.Errorf("want exit 1 and %q, got %s", tc.stderr, r)
			}
			if names := configMapNames(t, ns); len(names) != 0 {
				t.Errorf("configmaps created: %v", names)
			}
		})
	}
	// --validate=warn creates the object and prints the server's warning.
	r := kubectlWith(t, "", cmdOpts{stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\nbogus: 1\n"},
		"create", "-n", ns, "--validate=warn", "-f", "-")
	if r.Code != 0 || r.Stdout != "configmap/w created\n" || !strings.Contains(r.Stderr, `Warning: unknown field "bogus"`) {
		t.Errorf("create --validate=warn: %s", r)
	}
}
