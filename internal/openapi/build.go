package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/resources"
)

// Media types the API server reads and writes.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	listMediaTypes   = append(append([]string(nil), objectMediaTypes...),
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
)

// documents holds every serialized document; it is immutable once built.
type documents struct {
	v2      []byte
	v2Hash  string
	v3Index []byte
	v3      map[string]v3Doc // by group version path: "api/v1", "apis/apps/v1"
	v2Defs  map[string]*spec.Schema
	// fieldKeys are the marker table keys the build consulted.
	fieldKeys map[string]bool
}

// v3Doc is one serialized group version document and its content hash.
type v3Doc struct {
	body []byte
	hash string
}

// contentHash returns the hash clients put in ?hash=: upper-case hex
// SHA-512 of the serialized document.
func contentHash(b []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(b))
}

// kindTypes resolves the Go type of every served kind, its List and the
// autoscaling/v1 Scale used by /scale.
type kindTypes struct {
	scheme *runtime.Scheme
	types  map[schema.GroupVersionKind]reflect.Type
}

func (k *kindTypes) resolve(gvk schema.GroupVersionKind) (reflect.Type, error) {
	if t, ok := k.types[gvk]; ok {
		return t, nil
	}
	obj, err := k.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("openapi: %v: %w", gvk, err)
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k.types[gvk] = t
	return t, nil
}

// build produces every document from the served resources.
func build(infos []resources.Info, scheme *runtime.Scheme, version string) (*documents, error) {
	kinds := &kindTypes{scheme: scheme, types: map[schema.GroupVersionKind]reflect.Type{}}

	// Resolve every kind up front so routes can name definitions.
	var roots []schema.GroupVersionKind
	needScale := false
	for _, info := range infos {
		roots = append(roots, info.GVK)
		if info.Listed() {
			roots = append(roots, info.GVK.GroupVersion().WithKind(info.GVK.Kind+"List"))
		}
		needScale = needScale || info.Has("scale")
	}
	if needScale {
		roots = append(roots, scaleGVK)
	}
	for _, gvk := range roots {
		if _, err := kinds.resolve(gvk); err != nil {
			return nil, err
		}
	}
	kindDef := func(gvk schema.GroupVersionKind) string { return definitionName(kinds.types[gvk]) }
	gvs := buildRoutes(infos, kindDef)

	// Which GVKs each definition serves, for x-kubernetes-group-version-kind.
	gvkOf := map[string][]schema.GroupVersionKind{}
	for _, gvk := range roots {
		name := kindDef(gvk)
		gvkOf[name] = appendGVK(gvkOf[name], gvk)
	}
	for _, g := range gvs {
		gvkOf[defDeleteOptions] = appendGVK(gvkOf[defDeleteOptions], g.gv.WithKind("DeleteOptions"))
	}

	commonTypes := []reflect.Type{
		reflect.TypeOf(metav1.DeleteOptions{}),
		reflect.TypeOf(metav1.Status{}),
		reflect.TypeOf(metav1.Patch{}),
	}
	defsFor := func(v3 bool) *schemaBuilder {
		b := newSchemaBuilder(v3)
		for _, gvk := range roots {
			b.define(kinds.types[gvk])
		}
		for _, t := range commonTypes {
			b.define(t)
		}
		for name, list := range gvkOf {
			if s, ok := b.defs[name]; ok {
				s.AddExtension(extGVK, gvkExtension(list))
			}
		}
		return b
	}
	b2, b3 := defsFor(false), defsFor(true)

	docs := &documents{v3: map[string]v3Doc{}, v2Defs: b2.defs, fieldKeys: b2.fieldKeys}

	// v2: one document with everything.
	swagger := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger: "2.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version}},
		Paths:   &spec.Paths{Paths: map[string]spec.PathItem{}},
		SecurityDefinitions: spec.SecurityDefinitions{"BearerToken": {SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Name: "authorization", In: "header",
			Description: "Bearer token authentication",
		}}},
		Security:    []map[string][]string{{"BearerToken": {}}},
		Definitions: spec.Definitions{},
	}}
	for name, s := range b2.defs {
		swagger.Definitions[name] = *s
	}
	for _, g := range gvs {
		for _, r := range g.routes {
			swagger.Paths.Paths[r.path] = v2PathItem(r, g.tag, b2)
		}
	}
	var err error
	if docs.v2, err = json.Marshal(swagger); err != nil {
		return nil, fmt.Errorf("openapi: encoding v2: %w", err)
	}
	docs.v2Hash = contentHash(docs.v2)

	// v3: one document per group version, carrying only the schemas it uses.
	type indexEntry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	index := struct {
		Paths map[string]indexEntry `json:"paths"`
	}{Paths: map[string]indexEntry{}}
	for _, g := range gvs {
		doc := &spec3.OpenAPI{
			Version: "3.0.0",
			Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: version}},
			Paths:   &spec3.Paths{Paths: map[string]*spec3.Path{}},
			Components: &spec3.Components{
				Schemas: map[string]*spec.Schema{},
				SecuritySchemes: spec3.SecuritySchemes{"BearerToken": {SecuritySchemeProps: spec3.SecuritySchemeProps{
					Type: "apiKey", Name: "authorization", In: "header",
					Description: "Bearer token authentication",
				}}},
			},
			SecurityRequirement: []map[string][]string{{"BearerToken": {}}},
		}
		var used []string
		for _, r := range g.routes {
			doc.Paths.Paths[r.path] = v3Path(r, g.tag, b3)
			for _, op := range r.ops {
				used = append(used, op.body, op.response)
			}
		}
		for _, name := range closure(b3.deps, used) {
			doc.Components.Schemas[name] = b3.defs[name]
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("openapi: encoding v3 %s: %w", g.docPath(), err)
		}
		d := v3Doc{body: body, hash: contentHash(body)}
		docs.v3[g.docPath()] = d
		index.Paths[g.docPath()] = indexEntry{ServerRelativeURL: "/openapi/v3/" + g.docPath() + "?hash=" + d.hash}
	}
	if docs.v3Index, err = json.Marshal(index); err != nil {
		return nil, fmt.Errorf("openapi: encoding v3 index: %w", err)
	}
	return docs, nil
}

// closure returns the named definitions and everything they refer to,
// sorted.
func closure(deps map[string]map[string]bool, roots []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		for dep := range deps[name] {
			visit(dep)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func appendGVK(list []schema.GroupVersionKind, gvk schema.GroupVersionKind) []schema.GroupVersionKind {
	for _, g := range list {
		if g == gvk {
			return list
		}
	}
	return append(list, gvk)
}

// gvkExtension renders x-kubernetes-group-version-kind.
func gvkExtension(list []schema.GroupVersionKind) []any {
	sorted := append([]schema.GroupVersionKind(nil), list...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
	out := make([]any, len(sorted))
	for i, g := range sorted {
		out[i] = gvkValue(g)
	}
	return out
}

func gvkValue(g schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": g.Group, "version": g.Version, "kind": g.Kind}
}

// v2PathItem renders one route as a swagger 2.0 path item.
func v2PathItem(r route, tag string, b *schemaBuilder) spec.PathItem {
	var item spec.PathItem
	for _, p := range r.params {
		item.Parameters = append(item.Parameters, v2Param(p))
	}
	for _, op := range r.ops {
		o := &spec.Operation{OperationProps: spec.OperationProps{
			ID:          op.id,
			Description: op.description,
			Tags:        []string{tag},
			Schemes:     []string{"https"},
			Consumes:    []string{"*/*"},
			Produces:    objectMediaTypes,
			Responses:   &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
		}}
		if op.list {
			o.Produces = listMediaTypes
		}
		if op.method == "patch" {
			o.Consumes = patchContentTypes
		}
		if op.body != "" {
			body := b.ref(op.body)
			o.Parameters = append(o.Parameters, spec.Parameter{ParamProps: spec.ParamProps{
				Name: "body", In: "body", Required: op.method != "delete", Schema: &body,
			}})
		}
		for _, p := range op.params {
			o.Parameters = append(o.Parameters, v2Param(p))
		}
		for _, code := range op.codes {
			s := b.ref(op.response)
			o.Responses.StatusCodeResponses[code] = spec.Response{ResponseProps: spec.ResponseProps{
				Description: statusText(code), Schema: &s,
			}}
		}
		o.Responses.StatusCodeResponses[401] = spec.Response{ResponseProps: spec.ResponseProps{Description: statusText(401)}}
		o.AddExtension(extAction, op.action)
		o.AddExtension(extGVK, gvkValue(op.gvk))
		switch op.method {
		case "get":
			item.Get = o
		case "put":
			item.Put = o
		case "post":
			item.Post = o
		case "patch":
			item.Patch = o
		case "delete":
			item.Delete = o
		}
	}
	return item
}

func v2Param(p param) spec.Parameter {
	out := spec.Parameter{ParamProps: spec.ParamProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required,
	}}
	out.Type = p.typ
	if p.in == "query" {
		out.UniqueItems = true
	}
	return out
}

// v3Path renders one route as an OpenAPI 3.0 path.
func v3Path(r route, tag string, b *schemaBuilder) *spec3.Path {
	item := &spec3.Path{}
	for _, p := range r.params {
		item.Parameters = append(item.Parameters, v3Param(p))
	}
	for _, op := range r.ops {
		o := &spec3.Operation{OperationProps: spec3.OperationProps{
			OperationId: op.id,
			Description: op.description,
			Tags:        []string{tag},
			Responses:   &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
		}}
		if op.body != "" {
			types := []string{"*/*"}
			if op.method == "patch" {
				types = patchContentTypes
			}
			o.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{
				Content: mediaTypes(types, b.ref(op.body)), Required: op.method != "delete",
			}}
		}
		for _, p := range op.params {
			o.Parameters = append(o.Parameters, v3Param(p))
		}
		produces := objectMediaTypes
		if op.list {
			produces = listMediaTypes
		}
		for _, code := range op.codes {
			o.Responses.StatusCodeResponses[code] = &spec3.Response{ResponseProps: spec3.ResponseProps{
				Description: statusText(code), Content: mediaTypes(produces, b.ref(op.response)),
			}}
		}
		o.Responses.StatusCodeResponses[401] = &spec3.Response{ResponseProps: spec3.ResponseProps{Description: statusText(401)}}
		o.AddExtension(extAction, op.action)
		o.AddExtension(extGVK, gvkValue(op.gvk))
		switch op.method {
		case "get":
			item.Get = o
		case "put":
			item.Put = o
		case "post":
			item.Post = o
		case "patch":
			item.Patch = o
		case "delete":
			item.Delete = o
		}
	}
	return item
}

func v3Param(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{p.typ}, UniqueItems: p.in == "query"}},
	}}
}

func mediaTypes(types []string, s spec.Schema) map[string]*spec3.MediaType {
	out := make(map[string]*spec3.MediaType, len(types))
	for _, t := range types {
		sc := s
		out[t] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &sc}}
	}
	return out
}
