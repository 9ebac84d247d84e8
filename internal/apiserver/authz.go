package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/audit"
	"github.com/skiff-sh/skiff/internal/auth"
)

// ServeHTTP authenticates the request, starts its audit record, applies
// impersonation, authorizes it and routes it. Denials are 401 or 403.
func (s *APIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var u *auth.User
	if s.cfg.Authenticator != nil {
		var ok bool
		var err error
		u, ok, err = s.cfg.Authenticator.AuthenticateRequest(r)
		if err != nil || !ok {
			w, r, ar := s.cfg.Auditor.Begin(w, r, requestAttributes(r, nil))
			writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			ar.End()
			return
		}
	}
	w, r, ar := s.cfg.Auditor.Begin(w, r, requestAttributes(r, u))
	defer func() {
		if v := recover(); v != nil {
			ar.Panic(v)
			panic(v)
		}
		ar.End()
	}()
	if u != nil {
		target, err := s.impersonate(r, u)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if target != u {
			ar.SetImpersonatedUser(target)
			u = target
		}
		if err := s.authorizeRequest(r, requestAttributes(r, u)); err != nil {
			ar.AddAnnotation(audit.AnnotationAuthzDecision, "forbid")
			writeError(w, r, err)
			return
		}
		ar.AddAnnotation(audit.AnnotationAuthzDecision, "allow")
		r = withoutCredentials(r.WithContext(auth.WithUser(r.Context(), u)))
	}
	s.route(w, r)
}

// withoutCredentials returns r without the headers that authenticated and
// impersonated its user, as upstream drops them once they are used, so
// that nothing proxied (pods/proxy, services/proxy, nodes/proxy, exec)
// hands the user's credentials to a backend. r itself is left as it is:
// the audit record holds it.
func withoutCredentials(r *http.Request) *http.Request {
	r = r.WithContext(r.Context())
	h := r.Header.Clone()
	h.Del("Authorization")
	for k := range h {
		if strings.HasPrefix(k, "Impersonate-") {
			delete(h, k)
		}
	}
	r.Header = h
	return r
}

// authorizeRequest authorizes a request. As upstream since 1.35, a GET of
// pods/exec, pods/attach or pods/portforward (how WebSocket clients
// connect) also needs "create", the verb the same session has over SPDY.
func (s *APIServer) authorizeRequest(r *http.Request, a auth.Attributes) error {
	if err := s.authorize(r, a); err != nil {
		return err
	}
	if a.ResourceRequest && a.APIGroup == "" && a.Resource == "pods" && a.Verb == "get" &&
		(a.Subresource == "exec" || a.Subresource == "attach" || a.Subresource == "portforward") {
		a.Verb = "create"
		return s.authorize(r, a)
	}
	return nil
}

// authorize asks the authorizer and turns a denial into upstream's 403.
func (s *APIServer) authorize(r *http.Request, a auth.Attributes) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	d, reason, err := s.cfg.Authorizer.Authorize(r.Context(), a)
	if d == auth.Allow {
		return nil
	}
	if err != nil && reason == "" {
		reason = err.Error()
	}
	return forbidden(a, reason)
}

// forbidden is upstream's Forbidden error for a denied request.
func forbidden(a auth.Attributes, reason string) error {
	var msg string
	if !a.ResourceRequest {
		msg = fmt.Sprintf("User %q cannot %s path %q", a.User.Name, a.Verb, a.Path)
	} else {
		resource := a.Resource
		if a.Subresource != "" {
			resource += "/" + a.Subresource
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q", a.User.Name, a.Verb, resource, a.APIGroup)
		if a.Namespace != "" {
			msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
		} else {
			msg += " at the cluster scope"
		}
	}
	if reason != "" {
		msg += ": " + reason
	}
	// The subresource is named in the message only: upstream says
	// `pods "p" is forbidden: ... cannot get resource "pods/log"`.
	gr := schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}
	return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("%s", msg))
}

// requestAttributes describes r for authorization.
func requestAttributes(r *http.Request, u *auth.User) auth.Attributes {
	info, ok := parseRequest(r)
	if !ok {
		return auth.Attributes{User: u, Verb: strings.ToLower(r.Method), Path: r.URL.Path}
	}
	a := auth.Attributes{
		User: u, Verb: info.Verb, ResourceRequest: true,
		Namespace: info.Namespace, APIGroup: info.Group, APIVersion: info.Version,
		Resource: info.Resource, Subresource: info.Subresource, Name: info.Name,
		Path: r.URL.Path,
	}
	if info.Verb == "list" || info.Verb == "watch" {
		a.FieldSelector = r.URL.Query().Get("fieldSelector")
		// A list or watch of one object by name is authorized as that
		// object, as upstream does.
		if sel, err := fields.ParseSelector(a.FieldSelector); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok && a.Name == "" {
				a.Name = name
			}
		}
	}
	return a
}

// Impersonation headers, as kubectl --as / --as-group / --as-uid send them.
const (
	headerImpersonateUser        = "Impersonate-User"
	headerImpersonateGroup       = "Impersonate-Group"
	headerImpersonateUID         = "Impersonate-Uid"
	headerImpersonateExtraPrefix = "Impersonate-Extra-"
)

// impersonate returns the user r acts as: u itself, or the user named by
// impersonation headers when u may impersonate each part of it.
func (s *APIServer) impersonate(r *http.Request, u *auth.User) (*auth.User, error) {
	name := r.Header.Get(headerImpersonateUser)
	groups := r.Header.Values(headerImpersonateGroup)
	uid := r.Header.Get(headerImpersonateUID)
	extra := map[string][]string{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, headerImpersonateExtraPrefix) {
			extra[strings.ToLower(strings.TrimPrefix(k, headerImpersonateExtraPrefix))] = v
		}
	}
	if name == "" {
		if len(groups) > 0 || uid != "" || len(extra) > 0 {
			return nil, apierrors.NewBadRequest("requested impersonation without specifying a user")
		}
		return u, nil
	}
	check := func(a auth.Attributes) error {
		a.User, a.Verb, a.ResourceRequest = u, "impersonate", true
		return s.authorize(r, a)
	}
	target := &auth.User{Name: name, UID: uid}
	if ns, sa, ok := strings.Cut(strings.TrimPrefix(name, "system:serviceaccount:"), ":"); ok && strings.HasPrefix(name, "system:serviceaccount:") {
		if err := check(auth.Attributes{Resource: "serviceaccounts", Namespace: ns, Name: sa}); err != nil {
			return nil, err
		}
		target.Groups = []string{auth.ServiceAccountGroup, auth.ServiceAccountGroup + ":" + ns}
	} else if err := check(auth.Attributes{Resource: "users", Name: name}); err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := check(auth.Attributes{Resource: "groups", Name: g}); err != nil {
			return nil, err
		}
		target.Groups = append(target.Groups, g)
	}
	if uid != "" {
		if err := check(auth.Attributes{APIGroup: "authentication.k8s.io", Resource: "uids", Name: uid}); err != nil {
			return nil, err
		}
	}
	for k, vs := range extra {
		for _, v := range vs {
			if err := check(auth.Attributes{APIGroup: "authentication.k8s.io", Resource: "userextras", Subresource: k, Name: v}); err != nil {
				return nil, err
			}
		}
		if target.Extra == nil {
			target.Extra = map[string][]string{}
		}
		target.Extra[k] = vs
	}
	if name != auth.Anonymous {
		target.Groups = append(target.Groups, auth.AllAuthenticated)
	} else {
		target.Groups = append(target.Groups, auth.AllUnauthenticated)
	}
	return target, nil
}
