package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/auth/authn"
	"github.com/skiff-sh/skiff/internal/storage"
)

// TokenAuthenticator checks a bearer token for TokenReview.
type TokenAuthenticator interface {
	AuthenticateToken(token string) (*auth.User, error)
}

// RulesResolver lists what a user may do in a namespace, for
// SelfSubjectRulesReview. incomplete is set when not every rule source
// could be read.
type RulesResolver interface {
	RulesFor(u *auth.User, namespace string) (rules []rbacv1.PolicyRule, incomplete bool, err error)
}

// review serves a create on a virtual resource: it computes the review's
// status and returns the review, storing nothing.
func (s *APIServer) review(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, _, body, ok := readWrite(w, r, "create")
	if !ok {
		return
	}
	obj, _, err := decodeObject(r, body, res, metav1.FieldValidationStrict)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	user := auth.UserFrom(ctx)
	switch o := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = userInfo(user)
	case *authenticationv1.TokenReview:
		err = s.tokenReview(ctx, o)
	case *authorizationv1.SubjectAccessReview:
		u := &auth.User{Name: o.Spec.User, UID: o.Spec.UID, Groups: o.Spec.Groups, Extra: extraFrom(o.Spec.Extra)}
		o.Status, err = s.accessReview(ctx, u, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authorizationv1.SelfSubjectAccessReview:
		o.Status, err = s.accessReview(ctx, user, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authorizationv1.LocalSubjectAccessReview:
		if a := o.Spec.ResourceAttributes; a == nil || (a.Namespace != "" && a.Namespace != info.Namespace) {
			err = apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", info.Namespace))
			break
		}
		o.Spec.ResourceAttributes.Namespace = info.Namespace
		o.Namespace = info.Namespace
		u := &auth.User{Name: o.Spec.User, UID: o.Spec.UID, Groups: o.Spec.Groups, Extra: extraFrom(o.Spec.Extra)}
		o.Status, err = s.accessReview(ctx, u, o.Spec.ResourceAttributes, nil)
	case *authorizationv1.SelfSubjectRulesReview:
		err = s.rulesReview(user, o)
	default:
		err = methodNotSupported(res, "create")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeObject(w, out, http.StatusCreated, obj)
}

func userInfo(u *auth.User) authenticationv1.UserInfo {
	if u == nil {
		return authenticationv1.UserInfo{}
	}
	info := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	for k, v := range u.Extra {
		if info.Extra == nil {
			info.Extra = map[string]authenticationv1.ExtraValue{}
		}
		info.Extra[k] = v
	}
	return info
}

func extraFrom(in map[string]authorizationv1.ExtraValue) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	out := map[string][]string{}
	for k, v := range in {
		out[k] = v
	}
	return out
}

func (s *APIServer) tokenReview(ctx context.Context, tr *authenticationv1.TokenReview) error {
	if tr.Spec.Token == "" {
		return apierrors.NewInvalid(tr.GroupVersionKind().GroupKind(), "", field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
	}
	var u *auth.User
	var err error
	audiences := tr.Spec.Audiences
	if len(audiences) > 0 && s.cfg.Tokens != nil {
		var ok bool
		u, audiences, ok, err = s.cfg.Tokens.Verify(ctx, tr.Spec.Token, audiences)
		if !ok && err == nil {
			err = authn.ErrInvalidToken
		}
	} else if s.cfg.TokenAuthenticator != nil {
		u, err = s.cfg.TokenAuthenticator.AuthenticateToken(tr.Spec.Token)
		if s.cfg.Tokens != nil {
			audiences = s.cfg.Tokens.Audiences
		}
	} else {
		err = authn.ErrInvalidToken
	}
	if err != nil {
		tr.Status = authenticationv1.TokenReviewStatus{Error: err.Error()}
		return nil
	}
	tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: userInfo(u), Audiences: audiences}
	return nil
}

func (s *APIServer) accessReview(ctx context.Context, u *auth.User, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) (authorizationv1.SubjectAccessReviewStatus, error) {
	var a auth.Attributes
	switch {
	case ra != nil && nra == nil:
		a = auth.Attributes{User: u, Verb: ra.Verb, ResourceRequest: true, Namespace: ra.Namespace, APIGroup: ra.Group,
			APIVersion: ra.Version, Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}
	case nra != nil && ra == nil:
		a = auth.Attributes{User: u, Verb: nra.Verb, Path: nra.Path}
	default:
		return authorizationv1.SubjectAccessReviewStatus{}, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec"), "", "exactly one of nonResourceAttributes or resourceAttributes must be specified")})
	}
	if a.User == nil || (a.User.Name == "" && len(a.User.Groups) == 0) {
		return authorizationv1.SubjectAccessReviewStatus{}, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "user"), "", "at least one of user or group must be specified")})
	}
	if s.cfg.Authorizer == nil {
		return authorizationv1.SubjectAccessReviewStatus{Allowed: true}, nil
	}
	d, reason, err := s.cfg.Authorizer.Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: d == auth.Allow, Denied: d == auth.Deny, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st, nil
}

func (s *APIServer) rulesReview(u *auth.User, rr *authorizationv1.SelfSubjectRulesReview) error {
	if rr.Spec.Namespace == "" {
		return apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}, "",
			field.ErrorList{field.Required(field.NewPath("spec", "namespace"), "")})
	}
	if s.cfg.Rules == nil {
		rr.Status = authorizationv1.SubjectRulesReviewStatus{Incomplete: true, EvaluationError: "no rule resolver"}
		return nil
	}
	rules, incomplete, err := s.cfg.Rules.RulesFor(u, rr.Spec.Namespace)
	st := authorizationv1.SubjectRulesReviewStatus{Incomplete: incomplete}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	for _, rule := range rules {
		if len(rule.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: rule.Verbs, NonResourceURLs: rule.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: rule.Verbs, APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames})
	}
	rr.Status = st
	return nil
}

// Upstream's bounds on requested token lifetimes.
const (
	minTokenExpiration     = 10 * time.Minute
	defaultTokenExpiration = time.Hour
)

var tokenRequestGK = schema.GroupKind{Group: "authentication.k8s.io", Kind: "TokenRequest"}

// tokenRequest serves POST serviceaccounts/NAME/token (kubectl create
// token): a signed JWT for the service account, optionally bound to a pod,
// secret or node.
func (s *APIServer) tokenRequest(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	if s.cfg.Tokens == nil {
		writeError(w, r, methodNotSupported(res, "create"))
		return
	}
	out, _, body, ok := readWrite(w, r, "create")
	if !ok {
		return
	}
	tr := &authenticationv1.TokenRequest{}
	want := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
	if err := decodeTyped(r, body, want, tr); err != nil {
		writeError(w, r, err)
		return
	}
	ttl := defaultTokenExpiration
	if e := tr.Spec.ExpirationSeconds; e != nil {
		ttl = time.Duration(*e) * time.Second
	}
	if ttl < minTokenExpiration {
		writeError(w, r, apierrors.NewInvalid(tokenRequestGK, info.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "expirationSeconds"), int64(ttl/time.Second), "may not specify a duration less than 10 minutes")}))
		return
	}
	ctx := r.Context()
	obj, err := res.store.Get(ctx, info.Namespace, info.Name, storage.GetOptions{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	sa := obj.(*corev1.ServiceAccount)
	bound, err := s.boundObject(ctx, info.Namespace, tr.Spec.BoundObjectRef)
	if err != nil {
		writeError(w, r, err)
		return
	}
	token, exp, err := s.cfg.Tokens.Issue(sa, tr.Spec.Audiences, ttl, bound)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = s.cfg.Tokens.Audiences
	}
	seconds := int64(ttl / time.Second)
	tr.Spec.ExpirationSeconds = &seconds
	tr.Name, tr.Namespace = sa.Name, sa.Namespace
	tr.CreationTimestamp = metav1.NewTime(s.cfg.Clock.Now())
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	tr.APIVersion, tr.Kind = want.GroupVersion().String(), want.Kind
	writeObject(w, out, http.StatusCreated, tr)
}

// boundObject resolves a TokenRequest's boundObjectRef, checking its UID.
func (s *APIServer) boundObject(ctx context.Context, namespace string, ref *authenticationv1.BoundObjectReference) (authn.Bound, error) {
	if ref == nil {
		return authn.Bound{}, nil
	}
	path := field.NewPath("spec", "boundObjectRef")
	var gvk schema.GroupVersionKind
	ns := namespace
	switch ref.Kind {
	case "Pod", "Secret":
		gvk = schema.GroupVersionKind{Version: "v1", Kind: ref.Kind}
	case "Node":
		gvk, ns = schema.GroupVersionKind{Version: "v1", Kind: "Node"}, ""
	default:
		return authn.Bound{}, apierrors.NewInvalid(tokenRequestGK, "", field.ErrorList{field.NotSupported(path.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"})})
	}
	res := s.resourceFor(gvk)
	obj, err := res.store.Get(ctx, ns, ref.Name, storage.GetOptions{})
	if err != nil {
		return authn.Bound{}, err
	}
	if ref.UID != "" && objectMeta(obj).UID != ref.UID {
		return authn.Bound{}, apierrors.NewConflict(res.gr(), ref.Name, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	var b authn.Bound
	switch o := obj.(type) {
	case *corev1.Pod:
		b.Pod = o
	case *corev1.Secret:
		b.Secret = o
	case *corev1.Node:
		b.Node = o
	}
	return b, nil
}
