package apiserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/resources"
)

// fuzzResources are the resources the fuzzers decode into and list: kinds
// with field selectors of their own (pods, secrets, events, nodes), a
// cluster-scoped kind and a non-core group.
var fuzzResources = []struct{ group, resource string }{
	{"", "pods"},
	{"", "configmaps"},
	{"", "secrets"},
	{"", "events"},
	{"", "nodes"},
	{"apps", "deployments"},
	{"rbac.authorization.k8s.io", "rolebindings"},
}

func fuzzResourceSet(f *testing.F) []*resource {
	f.Helper()
	var out []*resource
	for _, want := range fuzzResources {
		found := false
		for _, info := range resources.All() {
			if info.Resource != want.resource || info.GVK.Group != want.group {
				continue
			}
			res, err := newResource(info, nil)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, res)
			found = true
			break
		}
		if !found {
			f.Fatalf("resource %s.%s is not served", want.resource, want.group)
		}
	}
	return out
}

var fuzzContentTypes = []string{
	"application/json",
	"application/yaml",
	"application/vnd.kubernetes.protobuf",
	"",
	"application/json; charset=utf-8",
	"text/plain",
	"application/json;;",
}

var fuzzFieldValidation = []string{
	metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore,
}

// FuzzDecodeObject feeds arbitrary bodies through the API server's request
// decoding (content type → serializer → strict or lenient decode → kind
// check). It must never panic, and must return either an object of the
// resource's served kind or an API status: 400 for a body it cannot
// decode, 415 for a content type it does not accept.
func FuzzDecodeObject(f *testing.F) {
	set := fuzzResourceSet(f)
	seeds := []struct {
		body                string
		ct, res, validation uint8
	}{
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`, 0, 0, 0},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"},"bogus":1}`, 0, 1, 0},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"},"bogus":1}`, 0, 1, 1},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","name":"d"}}`, 0, 1, 1},
		{`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"not base64!"}}`, 0, 2, 2},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n", 1, 5, 0},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: &a x}\nspec: *a\n", 1, 0, 1},
		{"a: &a [*a, *a]\nb: &b [*a, *a]\n", 1, 0, 2},
		{`{"apiVersion":"v2","kind":"Pod"}`, 0, 0, 0},
		{`{"apiVersion":"v1","kind":"Service"}`, 0, 0, 0},
		{`{"apiVersion":"v1","kind":"Pod","metadata":[]}`, 0, 0, 2},
		{`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"resources":{"limits":{"cpu":"1e999999"}}}]}}`, 0, 0, 2},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"yesterday"}}`, 0, 0, 2},
		{"\x6b\x38\x73\x00\x0a\x0a\x0a\x02\x76\x31\x12\x03\x50\x6f\x64\x12\x00", 2, 0, 0},
		{"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x05\x0a\x03\x0a\x01s", 2, 2, 1},
		{"k8s\x00\xff\xff\xff", 2, 3, 0},
		{`{}`, 3, 4, 0},
		{`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","roleRef":{"kind":"ClusterRole","name":"admin"}}`, 4, 6, 0},
		{`null`, 5, 0, 0},
		{``, 6, 0, 0},
		{`[`, 0, 0, 0},
		{`{"kind":"Pod"}`, 0, 0, 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct, s.res, s.validation)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct, resIdx, validation uint8) {
		res := set[int(resIdx)%len(set)]
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		fv := fuzzFieldValidation[int(validation)%len(fuzzFieldValidation)]
		r := httptest.NewRequest("POST", "/api/v1/namespaces/ns/"+res.info.Resource, nil)
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		obj, warnings, err := decodeObject(r, body, res, fv)
		if err != nil {
			if obj != nil {
				t.Errorf("decodeObject returned both an object and error %v", err)
			}
			status, ok := err.(apierrors.APIStatus)
			if !ok {
				t.Fatalf("error %T %v is not an API status", err, err)
			}
			code := status.Status().Code
			wantCode := int32(http.StatusBadRequest)
			if contentType == "text/plain" || contentType == "application/json;;" {
				wantCode = http.StatusUnsupportedMediaType
			}
			if code != wantCode {
				t.Fatalf("error code %d (%v); want %d", code, err, wantCode)
			}
			return
		}
		if obj == nil {
			t.Fatal("decodeObject returned neither object nor error")
		}
		if got := obj.GetObjectKind().GroupVersionKind(); got != res.info.GVK {
			t.Errorf("decoded kind %v; want %v", got, res.info.GVK)
		}
		if _, ok := obj.(metav1.Object); !ok {
			t.Errorf("decoded %T has no object metadata", obj)
		}
		if fv == metav1.FieldValidationIgnore && len(warnings) > 0 {
			t.Errorf("fieldValidation=Ignore returned warnings %q", warnings)
		}
	})
}

// FuzzListOptions feeds arbitrary query strings through the API server's
// list and watch option parsing (query decoding, label and field selector
// parsing, field-label conversion per kind, resourceVersionMatch and
// continue checks). It must never panic; errors are API statuses: 400
// BadRequest for unparsable parameters and selectors, 422 Invalid for
// option combinations upstream rejects as invalid.
func FuzzListOptions(f *testing.F) {
	set := fuzzResourceSet(f)
	seeds := []struct {
		query string
		res   uint8
	}{
		{"labelSelector=app%3Dweb", 0},
		{"labelSelector=app+in+(a,b),!tier,env!%3Dprod", 0},
		{"labelSelector=app+in+(a,b", 0},
		{"labelSelector=a%3D%3D%3D", 1},
		{"fieldSelector=spec.nodeName%3Dn1,status.phase!%3DRunning", 0},
		{"fieldSelector=metadata.name%3Dx", 1},
		{"fieldSelector=type%3Dkubernetes.io/tls", 2},
		{"fieldSelector=involvedObject.kind%3DPod,reason%3DFailed", 3},
		{"fieldSelector=spec.unschedulable%3Dfalse", 4},
		{"fieldSelector=bogus%3D1", 5},
		{"fieldSelector=metadata.namespace%3D%3Dns", 6},
		{"fieldSelector=a%3Db%5C", 0},
		{"fieldSelector=%5C%3D", 0},
		{"fieldSelector=,,,", 0},
		{"limit=abc", 0},
		{"limit=-1&continue=xyz", 1},
		{"timeoutSeconds=1e99", 1},
		{"resourceVersionMatch=Exact&resourceVersion=0", 0},
		{"resourceVersionMatch=Sometimes&resourceVersion=1", 0},
		{"continue=abc&resourceVersion=5", 0},
		{"watch=maybe&allowWatchBookmarks=1", 0},
		{"sendInitialEvents=true&resourceVersionMatch=NotOlderThan", 0},
		{"%zz", 0},
		{";;&&==", 0},
	}
	for _, s := range seeds {
		f.Add(s.query, s.res)
	}
	f.Fuzz(func(t *testing.T, query string, resIdx uint8) {
		res := set[int(resIdx)%len(set)]
		r := httptest.NewRequest("GET", "/api/v1/"+res.info.Resource, nil)
		r.URL.RawQuery = query
		_, ls, fs, err := listOptions(r, res)
		if err == nil {
			if ls == nil || fs == nil {
				t.Fatalf("listOptions(%q) returned nil selectors without error", query)
			}
			return
		}
		st, ok := err.(apierrors.APIStatus)
		if !ok {
			t.Fatalf("listOptions(%q): error %T %v is not an API status", query, err, err)
		}
		switch code := st.Status().Code; code {
		case http.StatusBadRequest:
		case http.StatusUnprocessableEntity:
			// Only the option combinations invalidOption reports.
			q, _ := url.ParseQuery(query)
			if q.Get("resourceVersionMatch") == "" && q.Get("continue") == "" {
				t.Fatalf("listOptions(%q): Invalid %v without resourceVersionMatch or continue", query, err)
			}
		default:
			t.Fatalf("listOptions(%q): code %d (%v); want 400 or 422", query, code, err)
		}
	})
}

// TestDecodeFieldValidation: unknown and duplicate fields fail Strict,
// warn under Warn and are dropped silently under Ignore, as upstream
// (FuzzDecodeObject found Ignore warning).
func TestDecodeFieldValidation(t *testing.T) {
	var res *resource
	for _, info := range resources.All() {
		if info.Resource == "configmaps" && info.GVK.Group == "" {
			var err error
			if res, err = newResource(info, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"bogus":1,"":{}}`)
	tests := []struct {
		validation   string
		wantErr      string
		wantWarnings string
	}{
		{metav1.FieldValidationStrict, `ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus", unknown field ""`, ""},
		{metav1.FieldValidationWarn, "", `unknown field "bogus",unknown field ""`},
		{metav1.FieldValidationIgnore, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.validation, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/namespaces/ns/configmaps", nil)
			r.Header.Set("Content-Type", "application/json")
			obj, warnings, err := decodeObject(r, body, res, tt.validation)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !apierrors.IsBadRequest(err) {
					t.Fatalf("err = %v; want BadRequest %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || obj == nil {
				t.Fatalf("obj %v, err %v", obj, err)
			}
			if got := strings.Join(warnings, ","); got != tt.wantWarnings {
				t.Errorf("warnings = %q; want %q", got, tt.wantWarnings)
			}
		})
	}
}
