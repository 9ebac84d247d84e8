package admission

import (
	"context"
	"fmt"
	"math/rand/v2"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Operations, as upstream spells them in admission requests.
const (
	Create  = "CREATE"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Connect = "CONNECT"
)

// Request is one request going through admission.
//
// Object is the decoded (and, in Admit, defaulted) new object; mutators
// change it in place. It is nil for DELETE and for CONNECT. OldObject is the
// stored object for UPDATE and DELETE, nil for CREATE; it must not be
// modified. Warnings and AuditAnnotations are filled by plugins and belong to
// the caller once the chain returns.
type Request struct {
	Attributes auth.Attributes
	Operation  string
	Object     runtime.Object
	OldObject  runtime.Object
	DryRun     bool

	// Warnings become "Warning: 299 - ..." response headers.
	Warnings []string
	// AuditAnnotations go to the audit event of the request.
	AuditAnnotations map[string]string
}

// AddWarning records a warning for the client.
func (r *Request) AddWarning(msg string) { r.Warnings = append(r.Warnings, msg) }

// AddAuditAnnotation records key=value for the audit log.
func (r *Request) AddAuditAnnotation(key, value string) {
	if r.AuditAnnotations == nil {
		r.AuditAnnotations = map[string]string{}
	}
	r.AuditAnnotations[key] = value
}

// GroupResource is the resource the request addresses.
func (r *Request) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Attributes.APIGroup, Resource: r.Attributes.Resource}
}

// is reports whether the request addresses group/resource with the given
// subresource ("" for the main resource).
func (r *Request) is(group, resource, subresource string) bool {
	return r.Attributes.APIGroup == group && r.Attributes.Resource == resource && r.Attributes.Subresource == subresource
}

// Mutator may change Request.Object; an error rejects the request.
type Mutator interface {
	Admit(ctx context.Context, req *Request) error
}

// Validator inspects the final object; an error rejects the request.
type Validator interface {
	Validate(ctx context.Context, req *Request) error
}

// Plugin is one named stage of the chain; it implements Mutator, Validator
// or both.
type Plugin interface {
	Name() string
}

// Chain runs the plugins in order. It is safe for concurrent use.
type Chain struct {
	plugins    []Plugin
	mutators   []Mutator
	validators []Validator
}

// NewChain assembles the built-in plugins in upstream's order, leaving out
// those named in disabled (upstream's --disable-admission-plugins). Plugins
// whose dependencies are nil in deps are still present; each documents how
// it behaves without them.
func NewChain(deps Deps, disabled ...string) *Chain {
	deps = deps.withDefaults()
	all := []Plugin{
		&NamespaceLifecycle{Namespaces: deps.Namespaces},
		&LimitRanger{LimitRanges: deps.LimitRanges},
		&ServiceAccount{ServiceAccounts: deps.ServiceAccounts, RandSuffix: deps.RandSuffix},
		&NodeRestriction{Nodes: deps.Nodes, Pods: deps.Pods},
		&TaintNodesByCondition{},
		NewPodSecurity(deps.Namespaces, deps.PodSecurity),
		&Priority{PriorityClasses: deps.PriorityClasses},
		&DefaultTolerationSeconds{Seconds: 300},
		&DefaultStorageClass{StorageClasses: deps.StorageClasses},
		&CertificateApproval{Authorizer: deps.Authorizer},
		&CertificateSigning{Authorizer: deps.Authorizer},
		&CertificateSubjectRestriction{},
		&ResourceQuota{Quotas: deps.Quotas},
	}
	off := map[string]bool{}
	for _, name := range disabled {
		off[name] = true
	}
	var plugins []Plugin
	for _, p := range all {
		if !off[p.Name()] {
			plugins = append(plugins, p)
		}
	}
	return Assemble(plugins...)
}

// Assemble builds a chain from plugins in the given order.
func Assemble(plugins ...Plugin) *Chain {
	c := &Chain{plugins: plugins}
	for _, p := range plugins {
		if m, ok := p.(Mutator); ok {
			c.mutators = append(c.mutators, m)
		}
		if v, ok := p.(Validator); ok {
			c.validators = append(c.validators, v)
		}
	}
	return c
}

// Plugins returns the names of the plugins in order.
func (c *Chain) Plugins() []string {
	names := make([]string, len(c.plugins))
	for i, p := range c.plugins {
		names[i] = p.Name()
	}
	return names
}

// Admit runs every mutating plugin in order; the first error stops it.
func (c *Chain) Admit(ctx context.Context, req *Request) error {
	for _, m := range c.mutators {
		if err := m.Admit(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// Validate runs every validating plugin in order; the first error stops it.
func (c *Chain) Validate(ctx context.Context, req *Request) error {
	for _, v := range c.validators {
		if err := v.Validate(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// forbidden builds upstream's admission Forbidden error: 403, naming the
// resource and the object (its name, else generateName, else the request's
// name, else "Unknown"). A Forbidden err is returned unchanged.
func forbidden(req *Request, err error) error {
	if apierrors.IsForbidden(err) {
		return err
	}
	return apierrors.NewForbidden(req.GroupResource(), objectName(req), err)
}

func objectName(req *Request) string {
	if req.Object != nil {
		if m, err := meta.Accessor(req.Object); err == nil {
			if m.GetName() != "" {
				return m.GetName()
			}
			if m.GetGenerateName() != "" {
				return m.GetGenerateName()
			}
		}
	}
	if req.Attributes.Name != "" {
		return req.Attributes.Name
	}
	return "Unknown"
}

// unexpectedType is the error for an object of the wrong Go type, which is a
// wiring bug in the caller.
func unexpectedType(obj runtime.Object) error {
	return apierrors.NewBadRequest(fmt.Sprintf("unexpected object type %T", obj))
}

// randSuffix returns n characters from upstream's name-suffix alphabet
// (no vowels, no look-alike digits).
func randSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
