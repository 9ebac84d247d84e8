package openapi

import (
	"reflect"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Reference prefixes of the two document formats.
const (
	v2RefPrefix = "#/definitions/"
	v3RefPrefix = "#/components/schemas/"
)

// Extension names shared with upstream tooling.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extAction        = "x-kubernetes-action"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extStructType    = "x-kubernetes-map-type" // atomic structs use the map extension upstream
)

// The interfaces apimachinery's hand-written types implement to tell
// OpenAPI generators that their JSON form is not their Go shape.
type (
	schemaTyper   interface{ OpenAPISchemaType() []string }
	schemaFormer  interface{ OpenAPISchemaFormat() string }
	v3OneOfTyper  interface{ OpenAPIV3OneOfTypes() []string }
	swaggerDoccer interface{ SwaggerDoc() map[string]string }
)

// schemaBuilder turns Go types into OpenAPI schema definitions by
// reflection. One builder produces one definition set in one reference
// style; it is not safe for concurrent use.
type schemaBuilder struct {
	v3   bool
	defs map[string]*spec.Schema
	// deps records, for each definition, the definitions it refers to
	// directly; it lets a v3 document carry only what it needs.
	deps  map[string]map[string]bool
	names map[reflect.Type]string
	// fieldKeys records every "<definition>.<json name>" looked up in the
	// marker tables, so tests can spot stale entries.
	fieldKeys map[string]bool
}

func newSchemaBuilder(v3 bool) *schemaBuilder {
	return &schemaBuilder{
		v3:        v3,
		defs:      map[string]*spec.Schema{},
		deps:      map[string]map[string]bool{},
		names:     map[reflect.Type]string{},
		fieldKeys: map[string]bool{},
	}
}

func (b *schemaBuilder) refPrefix() string {
	if b.v3 {
		return v3RefPrefix
	}
	return v2RefPrefix
}

// ref returns a schema that refers to the named definition.
func (b *schemaBuilder) ref(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(b.refPrefix() + name)}}
}

// definitionName derives the upstream definition name of a named Go type
// from its package path: k8s.io/api/core/v1.Pod becomes
// io.k8s.api.core.v1.Pod (the leading domain is reversed).
func definitionName(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	if len(parts) > 0 && strings.Contains(parts[0], ".") {
		host := strings.Split(parts[0], ".")
		for i, j := 0, len(host)-1; i < j; i, j = i+1, j-1 {
			host[i], host[j] = host[j], host[i]
		}
		parts[0] = strings.Join(host, ".")
	}
	return strings.Join(append(parts, t.Name()), ".")
}

// define makes sure the named struct type t has a definition and returns
// its name.
func (b *schemaBuilder) define(t reflect.Type) string {
	if name, ok := b.names[t]; ok {
		return name
	}
	name := definitionName(t)
	b.names[t] = name
	// Register a placeholder first so recursive types terminate.
	s := &spec.Schema{}
	b.defs[name] = s
	b.deps[name] = map[string]bool{}
	*s = b.buildDefinition(t, name)
	return name
}

// buildDefinition returns the schema of a named type's definition.
func (b *schemaBuilder) buildDefinition(t reflect.Type, name string) spec.Schema {
	var s spec.Schema
	s.Description = typeDescription(t)
	if special, ok := specialDefinition(t, b.v3); ok {
		special.Description = s.Description
		return special
	}
	if t.Kind() != reflect.Struct {
		inner := b.inline(t, name)
		inner.Description = s.Description
		return inner
	}
	s.Type = spec.StringOrArray{"object"}
	s.Properties = map[string]spec.Schema{}
	b.addFields(&s, t, name)
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	sort.Strings(s.Required)
	if m, ok := structMarkers[name]; ok && m != "" {
		s.AddExtension(extStructType, m)
	}
	return s
}

// addFields adds the JSON-visible fields of struct type t (following
// inlined embedded structs) to s.
func (b *schemaBuilder) addFields(s *spec.Schema, t reflect.Type, owner string) {
	docs := swaggerDoc(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := parseJSONTag(f)
		if tag.skip {
			continue
		}
		if tag.inline {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				b.addFields(s, ft, owner)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		key := structFieldKey(t, tag.name)
		b.fieldKeys[key] = true
		fs := b.fieldSchema(f, owner, docs[tag.name], key)
		s.Properties[tag.name] = fs
		if !tag.optional && !optionalFields[key] {
			s.Required = append(s.Required, tag.name)
		}
	}
}

// structFieldKey names a field in the marker tables: "<definition>.<json name>".
func structFieldKey(t reflect.Type, jsonName string) string {
	return definitionName(t) + "." + jsonName
}

// fieldSchema returns the schema of one struct field.
func (b *schemaBuilder) fieldSchema(f reflect.StructField, owner, description, key string) spec.Schema {
	s := b.inline(f.Type, owner)
	if s.Ref.String() != "" && b.v3 && description != "" {
		// OpenAPI 3.0 ignores siblings of $ref; wrap it as upstream does.
		s = spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{s}}}
	}
	s.Description = description
	if strategy := f.Tag.Get("patchStrategy"); strategy != "" {
		s.AddExtension(extPatchStrategy, strategy)
	}
	if key := f.Tag.Get("patchMergeKey"); key != "" {
		s.AddExtension(extPatchMergeKey, key)
	}
	if m, ok := fieldMarkers[key]; ok {
		if m.listType != "" {
			s.AddExtension(extListType, m.listType)
		}
		if len(m.listMapKeys) > 0 {
			s.AddExtension(extListMapKeys, m.listMapKeys)
		}
		if m.mapType != "" {
			s.AddExtension(extMapType, m.mapType)
		}
	}
	return s
}

// inline returns the schema used where a value of type t appears: a
// reference for named structs and special types, an inline schema
// otherwise. owner is the definition whose schema the result goes into.
func (b *schemaBuilder) inline(t reflect.Type, owner string) spec.Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && t.PkgPath() != "" {
		if _, ok := specialDefinition(t, b.v3); ok || t.Kind() == reflect.Struct {
			name := b.define(t)
			if owner != "" {
				b.deps[owner][name] = true
			}
			return b.ref(name)
		}
	}
	var s spec.Schema
	switch t.Kind() {
	case reflect.Bool:
		s.Type = spec.StringOrArray{"boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		s.Type = spec.StringOrArray{"integer"}
		s.Format = "int32"
	case reflect.Int64, reflect.Uint64:
		s.Type = spec.StringOrArray{"integer"}
		s.Format = "int64"
	case reflect.Int, reflect.Uint:
		s.Type = spec.StringOrArray{"integer"}
	case reflect.Float32:
		s.Type = spec.StringOrArray{"number"}
		s.Format = "float"
	case reflect.Float64:
		s.Type = spec.StringOrArray{"number"}
		s.Format = "double"
	case reflect.String:
		s.Type = spec.StringOrArray{"string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			s.Type = spec.StringOrArray{"string"}
			s.Format = "byte"
			break
		}
		items := b.inline(t.Elem(), owner)
		s.Type = spec.StringOrArray{"array"}
		s.Items = &spec.SchemaOrArray{Schema: &items}
	case reflect.Map:
		value := b.inline(t.Elem(), owner)
		s.Type = spec.StringOrArray{"object"}
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &value}
	case reflect.Struct:
		// Anonymous struct: describe it in place.
		s.Type = spec.StringOrArray{"object"}
		s.Properties = map[string]spec.Schema{}
		b.addFields(&s, t, owner)
	default:
		// Interfaces (runtime.Object) and anything else: an arbitrary object.
		s.Type = spec.StringOrArray{"object"}
	}
	return s
}

// specialDefinition returns the definition of types whose JSON form differs
// from their Go shape, and reports whether t is one.
func specialDefinition(t reflect.Type, v3 bool) (spec.Schema, bool) {
	var s spec.Schema
	v := reflect.New(t).Elem().Interface()
	if typer, ok := v.(schemaTyper); ok {
		format := ""
		if f, ok := v.(schemaFormer); ok {
			format = f.OpenAPISchemaFormat()
		}
		if oneOf, ok := v.(v3OneOfTyper); ok && v3 {
			for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
				s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}})
			}
			s.Format = format
			return s, true
		}
		s.Type = spec.StringOrArray(typer.OpenAPISchemaType())
		s.Format = format
		return s, true
	}
	if objectTypes[definitionName(t)] {
		s.Type = spec.StringOrArray{"object"}
		return s, true
	}
	return s, false
}

// objectTypes are types serialized as arbitrary JSON objects.
var objectTypes = map[string]bool{
	"io.k8s.apimachinery.pkg.runtime.RawExtension":  true,
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": true,
	"io.k8s.apimachinery.pkg.apis.meta.v1.Patch":    true,
}

// typeDescription returns a type's own description: its SwaggerDoc ""
// entry, or ours for the hand-written apimachinery types that have none.
func typeDescription(t reflect.Type) string {
	if d, ok := swaggerDoc(t)[""]; ok {
		return d
	}
	return specialDescriptions[definitionName(t)]
}

func swaggerDoc(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(swaggerDoccer); ok {
		return d.SwaggerDoc()
	}
	if d, ok := reflect.New(t).Interface().(swaggerDoccer); ok {
		return d.SwaggerDoc()
	}
	return nil
}

// specialDescriptions are our descriptions of the apimachinery types that
// carry no SwaggerDoc.
var specialDescriptions = map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "A fixed-point decimal number with an optional SI or binary suffix, " +
		"written as a string (\"100m\", \"1.5Gi\", \"2e3\"). Suffixes: binary Ki Mi Gi Ti Pi Ei; decimal n u m \"\" k M G T P E; " +
		"or a decimal exponent e/E. The server keeps the value's precision and normalizes its form when it is written back.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "A value that is either a 32-bit integer or a string, " +
		"such as a port number or a port name, or a count or a percentage (\"25%\").",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "A timestamp written as an RFC 3339 string with second precision, " +
		"in UTC (\"2024-01-02T15:04:05Z\").",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "A timestamp written as an RFC 3339 string with microsecond " +
		"precision, in UTC (\"2024-01-02T15:04:05.000000Z\").",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "A length of time written as a Go duration string (\"1h30m\", \"90s\").",
	"io.k8s.apimachinery.pkg.runtime.RawExtension":  "An embedded object of any kind, written as its own JSON object with its apiVersion and kind.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "A set of field paths recorded by server-side apply, " +
		"written as a JSON object whose keys are path elements (\"f:spec\", \"k:{...}\", \"v:...\", \"i:0\" or \".\").",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Patch": "The body of a PATCH request; its format is set by the request's Content-Type.",
}

// jsonTag is a parsed `json` struct tag.
type jsonTag struct {
	name     string
	inline   bool
	optional bool // omitempty or omitzero
	skip     bool
}

func parseJSONTag(f reflect.StructField) jsonTag {
	tag, hasTag := f.Tag.Lookup("json")
	if tag == "-" {
		return jsonTag{skip: true}
	}
	parts := strings.Split(tag, ",")
	jt := jsonTag{name: parts[0]}
	for _, opt := range parts[1:] {
		switch opt {
		case "inline":
			jt.inline = true
		case "omitempty", "omitzero":
			jt.optional = true
		}
	}
	if f.Anonymous && (jt.name == "" || !hasTag) {
		// encoding/json promotes the fields of untagged embedded structs.
		jt.inline = true
	}
	if jt.name == "" && !jt.inline {
		jt.name = f.Name
	}
	return jt
}
