package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// LimitRangeAnnotation records on a pod which defaults LimitRanger set.
const LimitRangeAnnotation = "kubernetes.io/limit-ranger"

// LimitRanger applies the Container defaults of the namespace's LimitRanges
// to new pods (Admit) and enforces min, max and maxLimitRequestRatio for
// Container, Pod and PersistentVolumeClaim items (Validate).
//
// Pod updates are not checked: containers and their resources are
// immutable there. Without LimitRanges the plugin does nothing.
type LimitRanger struct {
	LimitRanges LimitRangeLister
}

var (
	_ Mutator   = (*LimitRanger)(nil)
	_ Validator = (*LimitRanger)(nil)
)

func (*LimitRanger) Name() string { return "LimitRanger" }

// applies reports whether the request is one LimitRanger looks at.
func (p *LimitRanger) applies(req *Request) bool {
	if p.LimitRanges == nil || req.Attributes.Subresource != "" {
		return false
	}
	switch {
	case req.is("", "pods", ""):
		return req.Operation == Create
	case req.is("", "persistentvolumeclaims", ""):
		return req.Operation == Create || req.Operation == Update
	}
	return false
}

func (p *LimitRanger) Admit(ctx context.Context, req *Request) error {
	if !p.applies(req) || !req.is("", "pods", "") {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	ranges, err := p.LimitRanges.ListLimitRanges(ctx, req.Attributes.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var notes []string
	for i := range ranges {
		def := containerDefaults(&ranges[i])
		if len(def.Requests) == 0 && len(def.Limits) == 0 {
			continue
		}
		for j := range pod.Spec.Containers {
			notes = append(notes, applyDefaults(&pod.Spec.Containers[j], def, "container")...)
		}
		for j := range pod.Spec.InitContainers {
			notes = append(notes, applyDefaults(&pod.Spec.InitContainers[j], def, "init container")...)
		}
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[LimitRangeAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
	return nil
}

func (p *LimitRanger) Validate(ctx context.Context, req *Request) error {
	if !p.applies(req) {
		return nil
	}
	ranges, err := p.LimitRanges.ListLimitRanges(ctx, req.Attributes.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	for i := range ranges {
		var errs []error
		switch obj := req.Object.(type) {
		case *corev1.Pod:
			errs = checkPodLimits(&ranges[i], obj)
		case *corev1.PersistentVolumeClaim:
			errs = checkPVCLimits(&ranges[i], obj)
		default:
			return unexpectedType(req.Object)
		}
		if len(errs) > 0 {
			return forbidden(req, utilerrors.NewAggregate(errs))
		}
	}
	return nil
}

// containerDefaults collects the Container defaults of lr, deriving the
// implicit ones as LimitRange defaulting does (default limit from max,
// default request from default limit, then from min) so the result is the
// same whether or not the stored object was defaulted.
func containerDefaults(lr *corev1.LimitRange) corev1.ResourceRequirements {
	def := corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		fill(def.Limits, item.Default)
		fill(def.Limits, item.Max)
		fill(def.Requests, item.DefaultRequest)
		fill(def.Requests, item.Default)
		fill(def.Requests, item.Max)
		fill(def.Requests, item.Min)
	}
	return def
}

// fill copies the entries of src missing from dst.
func fill(dst, src corev1.ResourceList) {
	for k, v := range src {
		if _, ok := dst[k]; !ok {
			dst[k] = v.DeepCopy()
		}
	}
}

// applyDefaults sets the missing requests and limits of c and returns
// upstream's annotation fragments describing what it set.
func applyDefaults(c *corev1.Container, def corev1.ResourceRequirements, kind string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	var setReq, setLim []string
	for _, k := range sortedNames(def.Limits) {
		if _, ok := c.Resources.Limits[k]; !ok {
			c.Resources.Limits[k] = def.Limits[k].DeepCopy()
			setLim = append(setLim, string(k))
		}
	}
	for _, k := range sortedNames(def.Requests) {
		if _, ok := c.Resources.Requests[k]; !ok {
			c.Resources.Requests[k] = def.Requests[k].DeepCopy()
			setReq = append(setReq, string(k))
		}
	}
	var notes []string
	if len(setReq) > 0 {
		notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(setReq, ", "), kind, c.Name))
	}
	if len(setLim) > 0 {
		notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(setLim, ", "), kind, c.Name))
	}
	return notes
}

func checkPodLimits(lr *corev1.LimitRange, pod *corev1.Pod) []error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for i := range cs {
					errs = append(errs, checkItem(item, cs[i].Resources.Requests, cs[i].Resources.Limits)...)
				}
			}
		case corev1.LimitTypePod:
			errs = append(errs, checkItem(item, podTotal(pod, requestsOf), podTotal(pod, limitsOf))...)
		}
	}
	return errs
}

func checkPVCLimits(lr *corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) []error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		kind := string(item.Type)
		req := pvc.Spec.Resources.Requests
		for _, k := range sortedNames(item.Min) {
			errs = appendErr(errs, minCheck(kind, k, item.Min[k], req, nil))
		}
		// A PVC's "limits" are not user input: max applies to the request.
		for _, k := range sortedNames(item.Max) {
			errs = appendErr(errs, maxRequestCheck(kind, k, item.Max[k], req))
		}
	}
	return errs
}

// checkItem applies min, max and maxLimitRequestRatio of one item.
func checkItem(item corev1.LimitRangeItem, req, lim corev1.ResourceList) []error {
	kind := string(item.Type)
	var errs []error
	for _, k := range sortedNames(item.Min) {
		errs = appendErr(errs, minCheck(kind, k, item.Min[k], req, lim))
	}
	for _, k := range sortedNames(item.Max) {
		errs = appendErr(errs, maxCheck(kind, k, item.Max[k], req, lim))
	}
	for _, k := range sortedNames(item.MaxLimitRequestRatio) {
		errs = appendErr(errs, ratioCheck(kind, k, item.MaxLimitRequestRatio[k], req, lim))
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// cmpValues returns comparable integers for the three quantities: milli
// units when none would overflow, whole units otherwise.
func cmpValues(req, lim, enforced resource.Quantity) (r, l, e int64) {
	r, l, e = req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		r, l, e = req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minCheck(kind string, name corev1.ResourceName, min resource.Quantity, req, lim corev1.ResourceList) error {
	rq, hasReq := req[name]
	lq, hasLim := lim[name]
	r, l, e := cmpValues(rq, lq, min)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, min.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, min.String(), rq.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, min.String(), lq.String())
	}
	return nil
}

func maxCheck(kind string, name corev1.ResourceName, max resource.Quantity, req, lim corev1.ResourceList) error {
	rq, hasReq := req[name]
	lq, hasLim := lim[name]
	r, l, e := cmpValues(rq, lq, max)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, max.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, max.String(), lq.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, max.String(), rq.String())
	}
	return nil
}

func maxRequestCheck(kind string, name corev1.ResourceName, max resource.Quantity, req corev1.ResourceList) error {
	rq, hasReq := req[name]
	r, _, e := cmpValues(rq, resource.Quantity{}, max)
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, max.String())
	case r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, max.String(), rq.String())
	}
	return nil
}

func ratioCheck(kind string, name corev1.ResourceName, ratio resource.Quantity, req, lim corev1.ResourceList) error {
	rq, hasReq := req[name]
	lq, hasLim := lim[name]
	r, l, _ := cmpValues(rq, lq, ratio)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, ratio.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, ratio.String())
	}
	observed := float64(l) / float64(r)
	got, allowed := observed, float64(ratio.Value())
	if ratio.Value() <= resource.MaxMilliValue {
		got, allowed = observed*1000, float64(ratio.MilliValue())
	}
	if got > allowed {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, ratio.String(), observed)
	}
	return nil
}

func requestsOf(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests }
func limitsOf(c *corev1.Container) corev1.ResourceList   { return c.Resources.Limits }

// podTotal is the pod's effective amount of each resource: the sum over its
// containers, raised to any single init container's amount that is larger.
func podTotal(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		for k, v := range of(&pod.Spec.Containers[i]) {
			q := total[k]
			q.Add(v)
			total[k] = q
		}
	}
	for i := range pod.Spec.InitContainers {
		for k, v := range of(&pod.Spec.InitContainers[i]) {
			if q, ok := total[k]; !ok || v.Cmp(q) > 0 {
				total[k] = v.DeepCopy()
			}
		}
	}
	return total
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}
