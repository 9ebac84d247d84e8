// Package auth holds the types shared by authentication, authorization and
// admission: who is asking (User) and what they ask to do (Attributes).
// Implementations live in the subpackages; the API server wires them.
package auth

import (
	"context"
	"net/http"
)

// Well-known users and groups, as upstream names them.
const (
	Anonymous           = "system:anonymous"
	AllUnauthenticated  = "system:unauthenticated"
	AllAuthenticated    = "system:authenticated"
	SystemPrivileged    = "system:masters"
	NodesGroup          = "system:nodes"
	ServiceAccountGroup = "system:serviceaccounts"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Attributes describe one request for authorization and admission.
type Attributes struct {
	User *User
	// Verb is get, list, watch, create, update, patch, delete,
	// deletecollection, or for non-resource requests the lower-case HTTP
	// method; impersonate, bind, escalate, use for special checks.
	Verb string
	// ResourceRequest is false for non-resource URLs (/healthz, /api).
	ResourceRequest bool
	Namespace       string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Name            string
	// Path is the URL path of a non-resource request.
	Path string
	// FieldSelector is the raw field selector of a list or watch (nodes
	// may list their own pods only with spec.nodeName=THEIR-NAME).
	FieldSelector string
}

// Decision is an authorizer's verdict.
type Decision int

const (
	// NoOpinion lets the next authorizer decide; the last one's no opinion
	// is a denial.
	NoOpinion Decision = iota
	Allow
	Deny
)

// Authorizer decides whether a request may proceed. reason explains the
// decision (upstream puts it in the Forbidden message).
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}

// Authenticator identifies the user of a request. ok is false when the
// request carries no credentials this authenticator understands; err is
// set when it carries credentials that are invalid.
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (u *User, ok bool, err error)
}

type userKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user a context carries, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
