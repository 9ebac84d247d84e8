package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/resources"
)

const testVersion = "v1.33.0+skiff"

var (
	testHandlerOnce sync.Once
	testHandler     *Handler
	testHandlerErr  error
)

// handler returns one built Handler shared by the tests; building is the
// slow part.
func handler(t testing.TB) *Handler {
	t.Helper()
	testHandlerOnce.Do(func() {
		testHandler, testHandlerErr = New(resources.All(), scheme.Scheme, testVersion)
		if testHandlerErr == nil {
			testHandlerErr = testHandler.Warm()
		}
	})
	if testHandlerErr != nil {
		t.Fatal(testHandlerErr)
	}
	return testHandler
}

func v2Swagger(t *testing.T) *spec.Swagger {
	t.Helper()
	b, err := handler(t).V2()
	if err != nil {
		t.Fatal(err)
	}
	var s spec.Swagger
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("v2 does not parse: %v", err)
	}
	return &s
}

func TestNewRejectsUnknownKind(t *testing.T) {
	infos := []resources.Info{{GVK: schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, Resource: "widgets"}}
	if _, err := New(infos, scheme.Scheme, testVersion); err == nil {
		t.Fatal("New accepted a kind missing from the scheme")
	}
}

func TestDefinitionName(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{corev1.Pod{}, "io.k8s.api.core.v1.Pod"},
		{appsv1.Deployment{}, "io.k8s.api.apps.v1.Deployment"},
		{metav1.ObjectMeta{}, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
	} {
		if got := definitionName(reflectType(tc.v)); got != tc.want {
			t.Errorf("definitionName(%T) = %q; want %q", tc.v, got, tc.want)
		}
	}
}

func TestV2Definitions(t *testing.T) {
	defs := v2Swagger(t).Definitions
	def := func(name string) spec.Schema {
		t.Helper()
		s, ok := defs[name]
		if !ok {
			t.Fatalf("definition %s missing", name)
		}
		return s
	}
	prop := func(def, field string) spec.Schema {
		t.Helper()
		p, ok := defs[def].Properties[field]
		if !ok {
			t.Fatalf("%s has no property %q", def, field)
		}
		return p
	}

	t.Run("properties", func(t *testing.T) {
		for _, tc := range []struct{ def, field, ref string }{
			{"io.k8s.api.core.v1.Pod", "metadata", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
			{"io.k8s.api.core.v1.Pod", "spec", "#/definitions/io.k8s.api.core.v1.PodSpec"},
			{"io.k8s.api.core.v1.Pod", "kind", ""},
			{"io.k8s.api.core.v1.Pod", "apiVersion", ""},
			{"io.k8s.api.apps.v1.Deployment", "spec", "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"},
			{"io.k8s.api.apps.v1.DeploymentSpec", "template", "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"},
			{"io.k8s.api.apps.v1.DeploymentSpec", "selector", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"},
			{"io.k8s.api.core.v1.ContainerPort", "containerPort", ""},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp", "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
		} {
			p := prop(tc.def, tc.field)
			if got := p.Ref.String(); got != tc.ref {
				t.Errorf("%s.%s ref = %q; want %q", tc.def, tc.field, got, tc.ref)
			}
			if p.Description == "" {
				t.Errorf("%s.%s has no description", tc.def, tc.field)
			}
		}
		if _, ok := defs["io.k8s.api.core.v1.Pod"].Properties["TypeMeta"]; ok {
			t.Error("embedded TypeMeta was not inlined")
		}
		if p := prop("io.k8s.api.apps.v1.DeploymentSpec", "replicas"); p.Type[0] != "integer" || p.Format != "int32" {
			t.Errorf("replicas = %v/%q; want integer/int32", p.Type, p.Format)
		}
		if p := prop("io.k8s.api.core.v1.Secret", "data"); p.Type[0] != "object" || p.AdditionalProperties == nil ||
			p.AdditionalProperties.Schema.Type[0] != "string" || p.AdditionalProperties.Schema.Format != "byte" {
			t.Errorf("Secret.data = %+v; want map of byte strings", p)
		}
		if p := prop("io.k8s.api.core.v1.ResourceRequirements", "limits"); p.AdditionalProperties == nil ||
			p.AdditionalProperties.Schema.Ref.String() != "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity" {
			t.Errorf("limits = %+v; want map of Quantity", p)
		}
	})

	t.Run("descriptions", func(t *testing.T) {
		for _, name := range []string{"io.k8s.api.core.v1.Pod", "io.k8s.api.apps.v1.Deployment",
			"io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.apis.meta.v1.Time"} {
			if def(name).Description == "" {
				t.Errorf("%s has no description", name)
			}
		}
	})

	t.Run("required", func(t *testing.T) {
		for _, tc := range []struct {
			def  string
			want []string
		}{
			{"io.k8s.api.core.v1.Container", []string{"name"}},
			{"io.k8s.api.core.v1.PodSpec", []string{"containers"}},
			{"io.k8s.api.apps.v1.DeploymentSpec", []string{"selector", "template"}},
			{"io.k8s.api.core.v1.Pod", nil},
			{"io.k8s.api.rbac.v1.Role", nil},                // rules: +optional without omitempty
			{"io.k8s.api.apps.v1.DeploymentCondition", nil}, // type, status: +optional
		} {
			if got := def(tc.def).Required; strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s required = %v; want %v", tc.def, got, tc.want)
			}
		}
	})

	t.Run("patch strategy", func(t *testing.T) {
		for _, tc := range []struct{ def, field, strategy, key string }{
			{"io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"},
			{"io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", "name"},
			{"io.k8s.api.core.v1.Container", "env", "merge", "name"},
			{"io.k8s.api.core.v1.Container", "ports", "merge", "containerPort"},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", ""},
		} {
			p := prop(tc.def, tc.field)
			if got, _ := p.Extensions.GetString(extPatchStrategy); got != tc.strategy {
				t.Errorf("%s.%s patch strategy = %q; want %q", tc.def, tc.field, got, tc.strategy)
			}
			if got, _ := p.Extensions.GetString(extPatchMergeKey); got != tc.key {
				t.Errorf("%s.%s merge key = %q; want %q", tc.def, tc.field, got, tc.key)
			}
		}
	})

	t.Run("list and map types", func(t *testing.T) {
		conds := prop("io.k8s.api.apps.v1.DeploymentStatus", "conditions")
		if got, _ := conds.Extensions.GetString(extListType); got != "map" {
			t.Errorf("DeploymentStatus.conditions list type = %q; want map", got)
		}
		if got, _ := conds.Extensions.GetStringSlice(extListMapKeys); len(got) != 1 || got[0] != "type" {
			t.Errorf("DeploymentStatus.conditions map keys = %v; want [type]", conds.Extensions[extListMapKeys])
		}
		if got, _ := def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector").Extensions.GetString(extMapType); got != "atomic" {
			t.Errorf("LabelSelector map type = %q; want atomic", got)
		}
	})

	t.Run("special types", func(t *testing.T) {
		for _, tc := range []struct{ def, typ, format string }{
			{"io.k8s.apimachinery.pkg.api.resource.Quantity", "string", ""},
			{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", "string", "int-or-string"},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "string", "date-time"},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", "string", "date-time"},
			{"io.k8s.apimachinery.pkg.runtime.RawExtension", "object", ""},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "object", ""},
			{"io.k8s.apimachinery.pkg.apis.meta.v1.Patch", "object", ""},
		} {
			d := def(tc.def)
			if len(d.Type) != 1 || d.Type[0] != tc.typ || d.Format != tc.format || len(d.Properties) != 0 {
				t.Errorf("%s = %v/%q with %d properties; want %s/%q", tc.def, d.Type, d.Format, len(d.Properties), tc.typ, tc.format)
			}
		}
	})

	t.Run("group version kind", func(t *testing.T) {
		for _, tc := range []struct {
			def  string
			want []schema.GroupVersionKind
		}{
			{"io.k8s.api.core.v1.Pod", []schema.GroupVersionKind{{Version: "v1", Kind: "Pod"}}},
			{"io.k8s.api.core.v1.PodList", []schema.GroupVersionKind{{Version: "v1", Kind: "PodList"}}},
			{"io.k8s.api.apps.v1.Deployment", []schema.GroupVersionKind{{Group: "apps", Version: "v1", Kind: "Deployment"}}},
			{"io.k8s.api.autoscaling.v1.Scale", []schema.GroupVersionKind{{Group: "autoscaling", Version: "v1", Kind: "Scale"}}},
			{"io.k8s.api.core.v1.PodSpec", nil},
		} {
			got := gvksOf(t, def(tc.def).Extensions)
			if len(got) != len(tc.want) {
				t.Errorf("%s GVKs = %v; want %v", tc.def, got, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%s GVKs = %v; want %v", tc.def, got, tc.want)
				}
			}
		}
		if got := gvksOf(t, def(defDeleteOptions).Extensions); len(got) < 10 {
			t.Errorf("DeleteOptions GVKs = %v; want one per group version", got)
		}
	})
}

func gvksOf(t *testing.T, ext spec.Extensions) []schema.GroupVersionKind {
	t.Helper()
	raw, ok := ext[extGVK]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(raw)
	var out []schema.GroupVersionKind
	if err := json.Unmarshal(b, &out); err != nil {
		var one schema.GroupVersionKind
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatalf("bad %s %s", extGVK, b)
		}
		out = append(out, one)
	}
	return out
}

func TestV2Paths(t *testing.T) {
	paths := v2Swagger(t).Paths.Paths
	for _, tc := range []struct {
		path    string
		methods map[string]string // method → x-kubernetes-action
		gvk     schema.GroupVersionKind
	}{
		{"/api/v1/namespaces/{namespace}/pods", map[string]string{"get": "list", "post": "post", "delete": "deletecollection"}, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"/api/v1/namespaces/{namespace}/pods/{name}", map[string]string{"get": "get", "put": "put", "patch": "patch", "delete": "delete"}, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"/api/v1/namespaces/{namespace}/pods/{name}/status", map[string]string{"get": "get", "put": "put", "patch": "patch"}, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"/api/v1/pods", map[string]string{"get": "list"}, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"/api/v1/nodes/{name}", map[string]string{"get": "get", "patch": "patch"}, schema.GroupVersionKind{Version: "v1", Kind: "Node"}},
		{"/api/v1/namespaces/{name}/finalize", map[string]string{"put": "put"}, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", map[string]string{"get": "get", "put": "put", "patch": "patch"}, scaleGVK},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", map[string]string{"patch": "patch"}, schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}},
	} {
		item, ok := paths[tc.path]
		if !ok {
			t.Errorf("path %s missing", tc.path)
			continue
		}
		ops := map[string]*spec.Operation{"get": item.Get, "put": item.Put, "post": item.Post, "patch": item.Patch, "delete": item.Delete}
		for method, action := range tc.methods {
			op := ops[method]
			if op == nil {
				t.Errorf("%s %s missing", method, tc.path)
				continue
			}
			if got, _ := op.Extensions.GetString(extAction); got != action {
				t.Errorf("%s %s action = %q; want %q", method, tc.path, got, action)
			}
			if got := gvksOf(t, op.Extensions); len(got) != 1 || got[0] != tc.gvk {
				t.Errorf("%s %s GVK = %v; want %v", method, tc.path, got, tc.gvk)
			}
			want := map[string][]string{
				"patch": {"fieldValidation", "dryRun", "fieldManager", "force"},
				"put":   {"fieldValidation", "dryRun", "fieldManager"},
				"post":  {"fieldValidation", "dryRun", "fieldManager"},
			}[method]
			for _, name := range want {
				if !hasParam(op.Parameters, name) {
					t.Errorf("%s %s lacks parameter %s", method, tc.path, name)
				}
			}
			if method == "patch" && len(op.Consumes) != len(patchContentTypes) {
				t.Errorf("patch %s consumes %v", tc.path, op.Consumes)
			}
		}
	}
	if op := paths["/api/v1/namespaces/{namespace}/pods/{name}"].Get; op.ID != "readCoreV1NamespacedPod" {
		t.Errorf("operation ID = %q; want readCoreV1NamespacedPod", op.ID)
	}
	if op := paths["/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles"].Delete; op.ID != "deleteRbacAuthorizationV1CollectionNamespacedRole" {
		t.Errorf("operation ID = %q; want deleteRbacAuthorizationV1CollectionNamespacedRole", op.ID)
	}
}

func hasParam(params []spec.Parameter, name string) bool {
	for _, p := range params {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestV2KubectlModels loads the v2 document the way kubectl does: through
// gnostic's protobuf document and kube-openapi's proto models.
func TestV2KubectlModels(t *testing.T) {
	srv := httptest.NewServer(handler(t))
	defer srv.Close()
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	models, err := protomodels.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("NewOpenAPIData: %v", err)
	}
	pod, ok := models.LookupModel("io.k8s.api.core.v1.Pod").(*protomodels.Kind)
	if !ok {
		t.Fatal("Pod model is not a Kind")
	}
	spec, ok := pod.Fields["spec"].(*protomodels.Ref)
	if !ok {
		t.Fatalf("Pod.spec is %T; want a reference", pod.Fields["spec"])
	}
	podSpec := spec.SubSchema().(*protomodels.Kind)
	containers := podSpec.Fields["containers"].(*protomodels.Array)
	if got := containers.GetExtensions()[extPatchMergeKey]; got != "name" {
		t.Errorf("containers merge key = %v; want name", got)
	}
	if !podSpec.IsRequired("containers") {
		t.Error("PodSpec.containers is not required")
	}
	// kubectl's v2 query-parameter probe: the PATCH operation of the kind
	// lists fieldValidation.
	if !v2SupportsParam(doc, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "fieldValidation") {
		t.Error("v2: PATCH of Deployment does not list fieldValidation")
	}
}

// v2SupportsParam mirrors kubectl's v2 check for a query parameter.
func v2SupportsParam(doc *openapi_v2.Document, gvk schema.GroupVersionKind, name string) bool {
	for _, path := range doc.GetPaths().GetPath() {
		op := path.GetValue().GetPatch()
		if op == nil {
			continue
		}
		ext := protomodels.VendorExtensionToMap(op.GetVendorExtension())
		g, _ := ext[extGVK].(map[interface{}]interface{})
		if g == nil || g["group"] != gvk.Group || g["version"] != gvk.Version || g["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.GetParameters() {
			if p.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == name {
				return true
			}
		}
	}
	return false
}

// TestV3ClientGo loads the v3 documents through client-go's openapi3 root,
// as kubectl explain and kubectl's field validation probe do.
func TestV3ClientGo(t *testing.T) {
	srv := httptest.NewServer(handler(t))
	defer srv.Close()
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := map[schema.GroupVersion]bool{}
	for _, info := range resources.All() {
		want[info.GVK.GroupVersion()] = true
	}
	if len(gvs) != len(want) {
		t.Errorf("GroupVersions = %v; want %d", gvs, len(want))
	}
	for _, gv := range gvs {
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("GVSpec(%v): %v", gv, err)
		}
		assertV3Models(t, dc, gv)
		assertRefsResolve(t, gv.String(), doc)
	}

	apps, err := root.GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	dep := apps.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if dep == nil {
		t.Fatal("apps/v1 lacks Deployment")
	}
	if got := gvksOf(t, dep.Extensions); len(got) != 1 || got[0].Kind != "Deployment" {
		t.Errorf("Deployment GVK = %v", got)
	}
	specProp := dep.Properties["spec"]
	if len(specProp.AllOf) != 1 || specProp.AllOf[0].Ref.String() != "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec" || specProp.Description == "" {
		t.Errorf("Deployment.spec = %+v; want a described allOf reference", specProp)
	}
	ios := apps.Components.Schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
	if ios == nil || len(ios.OneOf) != 2 || ios.Format != "int-or-string" {
		t.Errorf("IntOrString = %+v; want oneOf integer, string", ios)
	}
	if _, ok := apps.Components.Schemas["io.k8s.api.batch.v1.Job"]; ok {
		t.Error("apps/v1 carries batch/v1 Job: schemas are not pruned")
	}

	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Version: "v1", Kind: "Pod"},
		{Version: "v1", Kind: "ConfigMap"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	} {
		doc, err := root.GVSpec(gvk.GroupVersion())
		if err != nil {
			t.Fatal(err)
		}
		if !v3SupportsParam(doc, gvk, "fieldValidation") {
			t.Errorf("v3: PATCH of %v does not list fieldValidation", gvk)
		}
	}
}

// assertV3Models parses a group version document with gnostic and builds
// kube-openapi's proto models from it, as kubectl's v3 validation does.
func assertV3Models(t *testing.T, dc *discovery.DiscoveryClient, gv schema.GroupVersion) {
	t.Helper()
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	path := "apis/" + gv.String()
	if gv.Group == "" {
		path = "api/" + gv.Version
	}
	b, err := paths[path].Schema("application/json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi_v3.ParseDocument(b)
	if err != nil {
		t.Fatalf("%v: gnostic: %v", gv, err)
	}
	if _, err := protomodels.NewOpenAPIV3Data(doc); err != nil {
		t.Errorf("%v: NewOpenAPIV3Data: %v", gv, err)
	}
}

// v3SupportsParam mirrors kubectl's v3 check for a query parameter.
func v3SupportsParam(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, name string) bool {
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		g, ok := op.Extensions[extGVK].(map[string]interface{})
		if !ok || g["group"] != gvk.Group || g["version"] != gvk.Version || g["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.Parameters {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// assertRefsResolve checks every $ref in a v3 document names a schema the
// document carries.
func assertRefsResolve(t *testing.T, what string, doc *spec3.OpenAPI) {
	t.Helper()
	b, _ := json.Marshal(doc)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					name := strings.TrimPrefix(x.(string), v3RefPrefix)
					if _, ok := doc.Components.Schemas[name]; !ok {
						t.Errorf("%s: dangling reference %v", what, x)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var m any
	_ = json.Unmarshal(b, &m)
	walk(m)
}

func TestV3HashAndCaching(t *testing.T) {
	h := handler(t)
	other, err := New(resources.All(), scheme.Scheme, testVersion)
	if err != nil {
		t.Fatal(err)
	}
	other.now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	a, b := serve(t, h, "/openapi/v3", nil), serve(t, other, "/openapi/v3", nil)
	if a.Body.String() != b.Body.String() {
		t.Fatal("v3 index differs between two builds")
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(a.Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	url := index.Paths["apis/apps/v1"].ServerRelativeURL
	if !strings.HasPrefix(url, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("apps/v1 URL = %q", url)
	}

	rec := serve(t, other, url, nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "public, immutable" ||
		rec.Header().Get("Expires") != "Wed, 01 Jan 2031 00:00:00 GMT" {
		t.Errorf("hashed GET = %d %v", rec.Code, rec.Header())
	}
	etag := rec.Header().Get("ETag")
	if rec := serve(t, other, url, http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d; want 304", rec.Code)
	}
	if rec := serve(t, other, "/openapi/v3/apis/apps/v1?hash=stale", nil); rec.Code != http.StatusMovedPermanently ||
		rec.Header().Get("Location") != url {
		t.Errorf("stale hash = %d to %q; want 301 to %q", rec.Code, rec.Header().Get("Location"), url)
	}
	if rec := serve(t, other, "/openapi/v3/apis/apps/v1", nil); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") == "public, immutable" {
		t.Errorf("unhashed GET = %d %v", rec.Code, rec.Header())
	}
	if rec := serve(t, other, "/openapi/v3/apis/nope/v1", nil); rec.Code != http.StatusNotFound {
		t.Errorf("unknown group version = %d; want 404", rec.Code)
	}
	if rec := serve(t, other, "/openapi/v3/api/v1", http.Header{"Accept": {"text/html"}}); rec.Code != http.StatusNotAcceptable {
		t.Errorf("Accept text/html = %d; want 406", rec.Code)
	}
}

func TestV3Protobuf(t *testing.T) {
	rec := serve(t, handler(t), "/openapi/v3/api/v1", http.Header{"Accept": {mimeV3Proto}})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != mimeProtoBody {
		t.Fatalf("protobuf v3 = %d %v", rec.Code, rec.Header())
	}
	if rec.Body.Len() == 0 {
		t.Fatal("empty protobuf document")
	}
}

func TestV2ProtobufAndGzip(t *testing.T) {
	h := handler(t)
	rec := serve(t, h, "/openapi/v2", http.Header{"Accept": {mimeV2Proto}, "Accept-Encoding": {"gzip"}})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip protobuf v2 = %d %v", rec.Code, rec.Header())
	}
	rec = serve(t, h, "/openapi/v2", http.Header{"Accept": {mimeV2Proto}})
	var doc openapi_v2.Document
	if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.GetInfo().GetTitle() != "Kubernetes" || doc.GetInfo().GetVersion() != testVersion {
		t.Errorf("info = %v", doc.GetInfo())
	}
}

func serve(t *testing.T, h http.Handler, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestTypeConverter checks the definitions work for server-side apply.
func TestTypeConverter(t *testing.T) {
	defs, err := handler(t).Definitions()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := managedfields.NewTypeConverter(defs, false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	replicas := int32(2)
	for _, obj := range []interface {
		GetObjectKind() schema.ObjectKind
	}{
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "d"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}},
	} {
		if _, err := tc.ObjectToTyped(obj.(runtimeObject)); err != nil {
			t.Errorf("ObjectToTyped(%T): %v", obj, err)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"", mimeJSON},
		{"*/*", mimeJSON},
		{"application/json", mimeJSON},
		{mimeV2Proto, mimeV2Proto},
		{mimeV2Proto + ", application/json;q=0.9", mimeV2Proto},
		{"application/json;q=0.5, " + mimeV2Proto, mimeV2Proto},
		{"text/html", ""},
	} {
		if got := negotiate(tc.accept, mimeJSON, mimeV2Proto); got != tc.want {
			t.Errorf("negotiate(%q) = %q; want %q", tc.accept, got, tc.want)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := build(resources.All(), scheme.Scheme, testVersion); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarkerTableMatchesDefinitions catches a stale markers_table.go: every
// entry must name a property the documents have. Regenerate with
// `go generate` when it fails.
func TestMarkerTableMatchesDefinitions(t *testing.T) {
	h := handler(t)
	defs, err := h.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	for key := range fieldMarkers {
		if !h.docs.fieldKeys[key] {
			t.Errorf("marker table names unknown field %s", key)
		}
	}
	for key := range optionalFields {
		if !h.docs.fieldKeys[key] {
			t.Errorf("marker table names unknown field %s", key)
		}
	}
	for def := range structMarkers {
		if _, ok := defs[def]; !ok {
			t.Errorf("marker table names unknown definition %s", def)
		}
	}
}
