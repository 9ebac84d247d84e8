package admission

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Audit annotation keys PodSecurity writes, as upstream.
const (
	PodSecurityEnforcePolicyAnnotation   = "pod-security.kubernetes.io/enforce-policy"
	PodSecurityAuditViolationsAnnotation = "pod-security.kubernetes.io/audit-violations"
	PodSecurityExemptAnnotation          = "pod-security.kubernetes.io/exempt"
	PodSecurityErrorAnnotation           = "pod-security.kubernetes.io/error"
)

// PodSecurityConfig is the cluster-wide part of Pod Security admission.
type PodSecurityConfig struct {
	// Defaults apply to namespaces without the labels. Empty levels and
	// versions mean privileged and latest.
	Defaults psaapi.Policy
	// Exempt usernames, namespaces and runtime class names are never
	// checked.
	ExemptUsers, ExemptNamespaces, ExemptRuntimeClasses []string
}

// PodSecurity enforces the Pod Security Standards chosen by the namespace
// labels pod-security.kubernetes.io/{enforce,audit,warn}[-version]:
// violations of the enforce level reject pods (403), of the warn level
// produce warnings, of the audit level produce audit annotations. Workload
// objects with a pod template are warned and audited, never rejected.
// Namespace creates and updates with malformed labels are rejected (422).
//
// The checks themselves are k8s.io/pod-security-admission/policy's.
// Without a NamespaceGetter only the defaults apply.
//
// Not done: warning, on a namespace update that tightens enforce, about
// existing pods that would violate it (needs a pod lister).
type PodSecurity struct {
	Namespaces NamespaceGetter
	config     PodSecurityConfig
	evaluator  policy.Evaluator
}

var _ Validator = (*PodSecurity)(nil)

// NewPodSecurity builds the plugin with the default checks.
func NewPodSecurity(ns NamespaceGetter, cfg PodSecurityConfig) *PodSecurity {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		// The default checks are static; failing here is a library bug.
		panic(fmt.Sprintf("pod security: invalid default checks: %v", err))
	}
	cfg.Defaults = fillPolicyDefaults(cfg.Defaults)
	return &PodSecurity{Namespaces: ns, config: cfg, evaluator: ev}
}

func fillPolicyDefaults(p psaapi.Policy) psaapi.Policy {
	for _, lv := range []*psaapi.LevelVersion{&p.Enforce, &p.Audit, &p.Warn} {
		if lv.Level == "" {
			lv.Level = psaapi.LevelPrivileged
		}
		if lv.Version == (psaapi.Version{}) {
			lv.Version = psaapi.LatestVersion()
		}
	}
	return p
}

func (*PodSecurity) Name() string { return "PodSecurity" }

// ignoredPodSubresources never change the pod spec.
var ignoredPodSubresources = map[string]bool{
	"exec": true, "attach": true, "binding": true, "eviction": true,
	"log": true, "portforward": true, "proxy": true, "status": true,
}

func (p *PodSecurity) Validate(ctx context.Context, req *Request) error {
	if req.Operation != Create && req.Operation != Update {
		return nil
	}
	a := req.Attributes
	switch {
	case req.is("", "namespaces", ""):
		return p.validateNamespace(req)
	case a.APIGroup == "" && a.Resource == "pods":
		if ignoredPodSubresources[a.Subresource] {
			return nil
		}
		return p.validatePod(ctx, req)
	case a.Subresource == "" && hasPodTemplate(req.GroupResource().String()):
		return p.validateWorkload(ctx, req)
	}
	return nil
}

func (p *PodSecurity) validateNamespace(req *Request) error {
	ns, ok := req.Object.(*corev1.Namespace)
	if !ok {
		return unexpectedType(req.Object)
	}
	_, errs := psaapi.PolicyToEvaluate(ns.Labels, p.config.Defaults)
	if len(errs) == 0 {
		return nil
	}
	if req.Operation == Update {
		if old, ok := req.OldObject.(*corev1.Namespace); ok {
			_, oldErrs := psaapi.PolicyToEvaluate(old.Labels, p.config.Defaults)
			// Labels that were already invalid do not block other updates.
			if len(oldErrs) > 0 && slices.EqualFunc(errs, oldErrs, func(x, y *field.Error) bool { return x.Error() == y.Error() }) {
				return nil
			}
		}
	}
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Namespace").GroupKind(), ns.Name, errs)
}

func (p *PodSecurity) validatePod(ctx context.Context, req *Request) error {
	if p.exempt(req) {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	pol, polErr, err := p.namespacePolicy(ctx, req.Attributes.Namespace)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("failed to lookup namespace %q", req.Attributes.Namespace))
	}
	if polErr == nil && pol.FullyPrivileged() {
		req.AddAuditAnnotation(PodSecurityEnforcePolicyAnnotation, psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()}.String())
		return nil
	}
	if req.Operation == Update {
		old, ok := req.OldObject.(*corev1.Pod)
		if ok && !imagesChanged(pod, old) {
			return nil
		}
	}
	return p.evaluate(req, pol, polErr, &pod.ObjectMeta, &pod.Spec, true)
}

func (p *PodSecurity) validateWorkload(ctx context.Context, req *Request) error {
	if p.exempt(req) {
		return nil
	}
	pol, polErr, err := p.namespacePolicy(ctx, req.Attributes.Namespace)
	if err != nil {
		req.AddAuditAnnotation(PodSecurityErrorAnnotation, fmt.Sprintf("failed to lookup namespace %q: %v", req.Attributes.Namespace, err))
		return nil
	}
	if polErr == nil && pol.Warn.Level == psaapi.LevelPrivileged && pol.Audit.Level == psaapi.LevelPrivileged {
		return nil
	}
	meta, spec := podTemplateOf(req.Object)
	if spec == nil {
		return nil
	}
	return p.evaluate(req, pol, polErr, meta, spec, false)
}

// exempt reports whether the user or namespace is exempt, recording why.
func (p *PodSecurity) exempt(req *Request) bool {
	reason := ""
	switch {
	case req.Attributes.Namespace != "" && slices.Contains(p.config.ExemptNamespaces, req.Attributes.Namespace):
		reason = "namespace"
	case req.Attributes.User != nil && req.Attributes.User.Name != "" && slices.Contains(p.config.ExemptUsers, req.Attributes.User.Name):
		reason = "user"
	default:
		return false
	}
	req.AddAuditAnnotation(PodSecurityExemptAnnotation, reason)
	return true
}

// namespacePolicy returns the namespace's policy and any label errors
// (the policy is then the fail-closed one PolicyToEvaluate returns).
func (p *PodSecurity) namespacePolicy(ctx context.Context, name string) (psaapi.Policy, error, error) {
	if p.Namespaces == nil {
		return p.config.Defaults, nil, nil
	}
	ns, err := p.Namespaces.GetNamespace(ctx, name)
	if err != nil {
		return psaapi.Policy{}, nil, err
	}
	pol, errs := psaapi.PolicyToEvaluate(ns.Labels, p.config.Defaults)
	return pol, errs.ToAggregate(), nil
}

// evaluate checks the pod (template) against the enforce (only when
// enforce), audit and warn levels, reusing results for equal levels.
func (p *PodSecurity) evaluate(req *Request, pol psaapi.Policy, polErr error, meta *metav1.ObjectMeta, spec *corev1.PodSpec, enforce bool) error {
	if spec.RuntimeClassName != nil && slices.Contains(p.config.ExemptRuntimeClasses, *spec.RuntimeClassName) {
		req.AddAuditAnnotation(PodSecurityExemptAnnotation, "runtimeClass")
		return nil
	}
	if polErr != nil {
		req.AddAuditAnnotation(PodSecurityErrorAnnotation, fmt.Sprintf("Failed to parse policy: %v", polErr))
	}
	results := map[psaapi.LevelVersion]policy.AggregateCheckResult{}
	check := func(lv psaapi.LevelVersion) policy.AggregateCheckResult {
		r, ok := results[lv]
		if !ok {
			r = policy.AggregateCheckResults(p.evaluator.EvaluatePod(lv, meta, spec))
			results[lv] = r
		}
		return r
	}
	var denied error
	if enforce {
		req.AddAuditAnnotation(PodSecurityEnforcePolicyAnnotation, pol.Enforce.String())
		if r := check(pol.Enforce); !r.Allowed {
			denied = apierrors.NewForbidden(req.GroupResource(), objectName(req),
				fmt.Errorf("violates PodSecurity %q: %s", pol.Enforce.String(), r.ForbiddenDetail()))
		}
	}
	if r := check(pol.Audit); !r.Allowed {
		req.AddAuditAnnotation(PodSecurityAuditViolationsAnnotation,
			fmt.Sprintf("would violate PodSecurity %q: %s", pol.Audit.String(), r.ForbiddenDetail()))
	}
	if denied != nil {
		// No warnings on a request that is rejected anyway.
		return denied
	}
	if r := check(pol.Warn); !r.Allowed {
		req.AddWarning(fmt.Sprintf("would violate PodSecurity %q: %s", pol.Warn.String(), r.ForbiddenDetail()))
	}
	return nil
}

// imagesChanged reports whether an update touches what Pod Security looks
// at on a running pod: container images and ephemeral containers.
func imagesChanged(pod, old *corev1.Pod) bool {
	if len(pod.Spec.Containers) != len(old.Spec.Containers) || len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return true
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Image != old.Spec.Containers[i].Image {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Image != old.Spec.InitContainers[i].Image {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		i := slices.IndexFunc(old.Spec.EphemeralContainers, func(o corev1.EphemeralContainer) bool { return o.Name == c.Name })
		if i < 0 || old.Spec.EphemeralContainers[i].Image != c.Image {
			return true
		}
	}
	return false
}

// podTemplateResources are the workloads whose pod templates are checked.
var podTemplateResources = map[string]bool{
	"podtemplates":           true,
	"replicationcontrollers": true,
	"replicasets.apps":       true,
	"deployments.apps":       true,
	"statefulsets.apps":      true,
	"daemonsets.apps":        true,
	"jobs.batch":             true,
	"cronjobs.batch":         true,
}

func hasPodTemplate(groupResource string) bool { return podTemplateResources[groupResource] }

// podTemplateOf returns the pod template of a workload object, nil if it
// has none.
func podTemplateOf(obj interface{}) (*metav1.ObjectMeta, *corev1.PodSpec) {
	var t *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *corev1.PodTemplate:
		t = &o.Template
	case *corev1.ReplicationController:
		t = o.Spec.Template
	case *appsv1.ReplicaSet:
		t = &o.Spec.Template
	case *appsv1.Deployment:
		t = &o.Spec.Template
	case *appsv1.StatefulSet:
		t = &o.Spec.Template
	case *appsv1.DaemonSet:
		t = &o.Spec.Template
	case *batchv1.Job:
		t = &o.Spec.Template
	case *batchv1.CronJob:
		t = &o.Spec.JobTemplate.Spec.Template
	}
	if t == nil {
		return nil, nil
	}
	return &t.ObjectMeta, &t.Spec
}
