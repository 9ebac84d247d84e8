package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what the URL and method of a resource request name.
type requestInfo struct {
	Group, Version string
	Namespace      string
	Resource       string
	Name           string
	Subresource    string
	// Verb is one of get, list, watch, create, update, patch, delete,
	// deletecollection.
	Verb string
}

// namespaceSubresources are the subresources of a namespace, which would
// otherwise be read as a resource inside that namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequest splits an /api or /apis path into its parts. ok is false for
// paths that do not name a resource (discovery documents and the like).
func parseRequest(r *http.Request) (info requestInfo, ok bool) {
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.Version = parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.Group, info.Version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return info, false
	}
	watchPath := false
	if parts[0] == "watch" {
		watchPath = true
		parts = parts[1:]
		if len(parts) == 0 {
			return info, false
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	if len(parts) > 3 && parts[2] != "proxy" {
		// Only proxy subresources (nodes/NAME/proxy/PATH) go deeper.
		return info, false
	}
	if info.Resource == "namespaces" {
		// For namespaces the "namespace" is the object's own name.
		info.Name = info.Namespace
		info.Namespace = ""
		if len(parts) > 2 {
			info.Subresource = parts[2]
		}
	}

	if info.Subresource == "proxy" && info.Name != "" {
		// A proxied request's verb is its method's alone: its query is
		// the backend's (a ?watch=true is still a get), and, as upstream,
		// a method with no verb (OPTIONS) is authorized as "".
		info.Verb = proxyVerbs[r.Method]
		return info, true
	}

	q := r.URL.Query()
	isWatch := watchPath || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	default:
		info.Verb = strings.ToLower(r.Method)
	}
	return info, true
}

// proxyVerbs are the verbs of requests to proxy subresources.
var proxyVerbs = map[string]string{
	http.MethodGet: "get", http.MethodHead: "get", http.MethodPost: "create",
	http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete",
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
