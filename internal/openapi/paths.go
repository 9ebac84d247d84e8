package openapi

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/resources"
)

// Definition names the operations refer to besides the served kinds.
const (
	defDeleteOptions = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
	defStatus        = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
	defPatch         = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
)

// scaleGVK is the kind every /scale subresource reads and writes.
var scaleGVK = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}

// param is one operation or path parameter, independent of document format.
type param struct {
	name        string
	in          string // "path" or "query"
	typ         string // "string", "integer" or "boolean"
	description string
	required    bool
}

// operation is one HTTP method on one path, independent of document format.
type operation struct {
	method      string // lower case: get, put, post, patch, delete
	id          string
	description string
	action      string // x-kubernetes-action
	gvk         schema.GroupVersionKind
	params      []param
	body        string // definition of the request body, "" for none
	response    string // definition of the success response
	codes       []int  // success status codes
	list        bool   // the response can be a watch stream
}

// route is one path with its shared parameters and operations.
type route struct {
	path   string
	params []param
	ops    []operation
}

// groupVersionRoutes holds the routes of one group version, in serving order.
type groupVersionRoutes struct {
	gv     schema.GroupVersion
	tag    string // "core_v1", "apps_v1"
	routes []route
}

// docPath is the path of the group version under /openapi/v3: "api/v1" or
// "apis/apps/v1".
func (g groupVersionRoutes) docPath() string {
	if g.gv.Group == "" {
		return "api/" + g.gv.Version
	}
	return "apis/" + g.gv.Group + "/" + g.gv.Version
}

// Parameters, described in our own words.
var (
	pName = func(kind string) param {
		return param{name: "name", in: "path", typ: "string", required: true, description: "name of the " + kind}
	}
	pNamespace = param{name: "namespace", in: "path", typ: "string", required: true,
		description: "object name and auth scope, such as for teams and projects"}
	pPretty = param{name: "pretty", in: "query", typ: "string",
		description: "If 'true', the output is indented for people to read."}

	pAllowWatchBookmarks = param{name: "allowWatchBookmarks", in: "query", typ: "boolean",
		description: "allowWatchBookmarks asks the server to send BOOKMARK events on a watch; servers may ignore it."}
	pContinue = param{name: "continue", in: "query", typ: "string",
		description: "The continue token returned by a previous paginated list, to fetch the next page."}
	pFieldSelector = param{name: "fieldSelector", in: "query", typ: "string",
		description: "Restrict the returned objects to those whose fields match this selector. Defaults to everything."}
	pLabelSelector = param{name: "labelSelector", in: "query", typ: "string",
		description: "Restrict the returned objects to those whose labels match this selector. Defaults to everything."}
	pLimit = param{name: "limit", in: "query", typ: "integer",
		description: "The largest number of objects to return in one page of a list; the response then carries a continue token."}
	pResourceVersion = param{name: "resourceVersion", in: "query", typ: "string",
		description: "How fresh the data read must be, as a resource version; unset means most recent. Applies to list and watch."}
	pResourceVersionMatch = param{name: "resourceVersionMatch", in: "query", typ: "string",
		description: "How resourceVersion is applied to a list: Exact or NotOlderThan."}
	pSendInitialEvents = param{name: "sendInitialEvents", in: "query", typ: "boolean",
		description: "On a watch, start the stream with synthetic ADDED events for the current state."}
	pTimeoutSeconds = param{name: "timeoutSeconds", in: "query", typ: "integer",
		description: "Time limit for the list or watch call, in seconds."}
	pWatch = param{name: "watch", in: "query", typ: "boolean",
		description: "Stream add, update and delete notifications instead of returning a list."}

	pDryRun = param{name: "dryRun", in: "query", typ: "string",
		description: "When present, changes are checked but not saved. The only accepted value is All."}
	pFieldManager = param{name: "fieldManager", in: "query", typ: "string",
		description: "The name of the actor making the change, recorded in managedFields. Required for apply patches."}
	pFieldValidation = param{name: "fieldValidation", in: "query", typ: "string",
		description: "What the server does with unknown or duplicate fields in the request: Ignore, Warn (the default) or Strict."}
	pForce = param{name: "force", in: "query", typ: "boolean",
		description: "Take ownership of fields another manager owns when applying. Only valid for apply patches."}

	pGracePeriodSeconds = param{name: "gracePeriodSeconds", in: "query", typ: "integer",
		description: "Seconds to wait before the object is deleted; zero means now. Unset means the kind's default."}
	pIgnoreStoreReadError = param{name: "ignoreStoreReadErrorWithClusterBreakingPotential", in: "query", typ: "boolean",
		description: "Delete an object that cannot be read from storage. Dangerous: it bypasses finalizers and admission."}
	pOrphanDependents = param{name: "orphanDependents", in: "query", typ: "boolean",
		description: "Deprecated, use propagationPolicy: whether dependents are orphaned instead of deleted."}
	pPropagationPolicy = param{name: "propagationPolicy", in: "query", typ: "string",
		description: "How garbage collection treats dependents: Orphan, Background or Foreground."}
)

var (
	listParams = []param{pAllowWatchBookmarks, pContinue, pFieldSelector, pLabelSelector, pLimit,
		pResourceVersion, pResourceVersionMatch, pSendInitialEvents, pTimeoutSeconds, pWatch}
	writeParams            = []param{pDryRun, pFieldManager, pFieldValidation}
	patchParams            = []param{pDryRun, pFieldManager, pFieldValidation, pForce}
	deleteParams           = []param{pDryRun, pGracePeriodSeconds, pIgnoreStoreReadError, pOrphanDependents, pPropagationPolicy}
	deleteCollectionParams = []param{pContinue, pDryRun, pFieldSelector, pGracePeriodSeconds, pIgnoreStoreReadError,
		pLabelSelector, pLimit, pOrphanDependents, pPropagationPolicy, pResourceVersion, pResourceVersionMatch,
		pSendInitialEvents, pTimeoutSeconds}
)

// patchContentTypes are the request bodies a PATCH accepts.
var patchContentTypes = []string{
	"application/json-patch+json",
	"application/merge-patch+json",
	"application/strategic-merge-patch+json",
	"application/apply-patch+yaml",
}

// groupTitle returns the group as it appears in operation IDs and tags:
// "" → "core", "rbac.authorization.k8s.io" → "rbacAuthorization".
func groupTitle(group string) string {
	if group == "" {
		return "core"
	}
	group = strings.TrimSuffix(group, ".k8s.io")
	parts := strings.FieldsFunc(group, func(r rune) bool { return r == '.' || r == '-' })
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// buildRoutes lays out the paths of every served resource, grouped by
// group version in the order infos lists them. kindDef names each served
// kind's definition.
func buildRoutes(infos []resources.Info, kindDef func(schema.GroupVersionKind) string) []groupVersionRoutes {
	var out []groupVersionRoutes
	index := map[schema.GroupVersion]int{}
	for _, info := range infos {
		gv := info.GVK.GroupVersion()
		i, ok := index[gv]
		if !ok {
			i = len(out)
			index[gv] = i
			out = append(out, groupVersionRoutes{gv: gv, tag: groupTitle(gv.Group) + "_" + gv.Version})
		}
		out[i].routes = append(out[i].routes, resourceRoutes(info, kindDef)...)
	}
	return out
}

// resourceRoutes returns the routes of one resource: its collection, its
// items, its subresources and, when namespaced, the all-namespaces list.
func resourceRoutes(info resources.Info, kindDef func(schema.GroupVersionKind) string) []route {
	gvk := info.GVK
	kind := gvk.Kind
	obj := kindDef(gvk)

	prefix := "/api/" + gvk.Version
	if gvk.Group != "" {
		prefix = "/apis/" + gvk.Group + "/" + gvk.Version
	}
	idPart := upperFirst(groupTitle(gvk.Group)) + upperFirst(gvk.Version)
	scope := ""
	base := prefix + "/" + info.Resource
	shared := []param{pPretty}
	if info.Namespaced {
		scope = "Namespaced"
		base = prefix + "/namespaces/{namespace}/" + info.Resource
		shared = []param{pNamespace, pPretty}
	}
	itemShared := append([]param{pName(kind)}, shared...)
	id := func(verb, suffix string) string { return verb + idPart + scope + kind + suffix }
	if info.Virtual && info.Listed() {
		// Computed and read-only (componentstatuses): list and read.
		list := kindDef(gvk.GroupVersion().WithKind(kind + "List"))
		return []route{
			{path: base, params: shared, ops: []operation{{method: "get", id: id("list", ""), action: "list", gvk: gvk, params: listParams,
				response: list, codes: []int{200}, list: true, description: "list objects of kind " + kind}}},
			{path: base + "/{name}", params: itemShared, ops: []operation{{method: "get", id: id("read", ""), action: "get", gvk: gvk,
				response: obj, codes: []int{200}, description: "read the specified " + kind}}},
		}
	}
	if info.Virtual {
		// Reviews are only ever created: a POST on the collection.
		return []route{{path: base, params: shared, ops: []operation{
			{method: "post", id: id("create", ""), action: "post", gvk: gvk, params: writeParams, body: obj, response: obj, codes: []int{200, 201, 202},
				description: "create a " + kind},
		}}}
	}
	list := kindDef(gvk.GroupVersion().WithKind(kind + "List"))

	collection := route{path: base, params: shared, ops: []operation{
		{method: "get", id: id("list", ""), action: "list", gvk: gvk, params: listParams, response: list, codes: []int{200}, list: true,
			description: "list or watch objects of kind " + kind},
		{method: "post", id: id("create", ""), action: "post", gvk: gvk, params: writeParams, body: obj, response: obj, codes: []int{200, 201, 202},
			description: "create a " + kind},
		{method: "delete", id: id("delete", ""), action: "deletecollection", gvk: gvk, params: deleteCollectionParams, body: defDeleteOptions, response: defStatus, codes: []int{200},
			description: "delete a collection of " + kind},
	}}
	// Fix up the collection delete ID to upstream's "deleteCoreV1CollectionNamespacedPod".
	collection.ops[2].id = "delete" + idPart + "Collection" + scope + kind

	item := route{path: base + "/{name}", params: itemShared, ops: itemOps(gvk, kind, obj, id, "")}
	item.ops = append(item.ops, operation{method: "delete", id: id("delete", ""), action: "delete", gvk: gvk, params: deleteParams,
		body: defDeleteOptions, response: defStatus, codes: []int{200, 202}, description: "delete a " + kind})

	routes := []route{collection, item}
	for _, sub := range info.Subresources {
		switch sub {
		case "status":
			routes = append(routes, route{path: base + "/{name}/status", params: itemShared,
				ops: itemOps(gvk, kind, obj, id, "Status")})
		case "scale":
			scale := kindDef(scaleGVK)
			routes = append(routes, route{path: base + "/{name}/scale", params: itemShared,
				ops: itemOps(scaleGVK, kind, scale, id, "Scale")})
		case "finalize":
			routes = append(routes, route{path: base + "/{name}/finalize", params: itemShared, ops: []operation{
				{method: "put", id: id("replace", "Finalize"), action: "put", gvk: gvk, params: writeParams, body: obj, response: obj, codes: []int{200, 201},
					description: "replace finalize of the specified " + kind},
			}})
		}
	}
	if info.Namespaced {
		routes = append(routes, route{path: prefix + "/" + info.Resource, params: []param{pPretty}, ops: []operation{
			{method: "get", id: "list" + idPart + kind + "ForAllNamespaces", action: "list", gvk: gvk, params: listParams, response: list, codes: []int{200}, list: true,
				description: "list or watch objects of kind " + kind + " in all namespaces"},
		}})
	}
	return routes
}

// itemOps returns get, put and patch on an object or one of its
// subresources (suffix "Status" or "Scale"). gvk and def describe the body;
// kind is the resource's kind, for descriptions.
func itemOps(gvk schema.GroupVersionKind, kind, def string, id func(verb, suffix string) string, suffix string) []operation {
	what := "the specified " + kind
	if suffix != "" {
		what = strings.ToLower(suffix) + " of the specified " + kind
	}
	return []operation{
		{method: "get", id: id("read", suffix), action: "get", gvk: gvk, response: def, codes: []int{200},
			description: "read " + what},
		{method: "put", id: id("replace", suffix), action: "put", gvk: gvk, params: writeParams, body: def, response: def, codes: []int{200, 201},
			description: "replace " + what},
		{method: "patch", id: id("patch", suffix), action: "patch", gvk: gvk, params: patchParams, body: defPatch, response: def, codes: []int{200, 201},
			description: "partially update " + what},
	}
}

// statusText is the response description for each status code.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 401:
		return "Unauthorized"
	}
	return fmt.Sprint(code)
}
