package validation

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resource.k8s.io/v1 (dynamic resource allocation). CEL expressions are
// checked for presence and length only: compiling them needs upstream's
// DRA CEL environment, which Skiff does not link.

// Upstream's resource.k8s.io limits.
const (
	draDriverNameMaxLength       = 63
	draMaxIDLength               = 32
	draRequestsMaxSize           = 32
	draConstraintsMaxSize        = 32
	draConfigMaxSize             = 32
	draSelectorsMaxSize          = 32
	draFirstAvailableMaxSize     = 8
	draTolerationsMaxSize        = 16
	draCELMaxLength              = 10 * 1024
	draOpaqueParametersMaxLength = 10 * 1024
	draReservedForMaxSize        = 256
	draSliceMaxDevices           = 128
	draAttributeMaxValueLength   = 64
	draAttrsAndCapacityMax       = 32
	draDeviceTaintsMaxSize       = 16
	draTaintRuleMaxConditions    = 8
)

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*resourcev1.DeviceClass]{name: subdomain, create: validateDeviceClass})
	register(typedRules[*resourcev1.ResourceClaim]{namespaced: true, name: subdomain,
		create: func(c *resourcev1.ResourceClaim) field.ErrorList {
			return validateDeviceClaim(&c.Spec.Devices, field.NewPath("spec", "devices"))
		},
		update: func(c, old *resourcev1.ResourceClaim) field.ErrorList {
			return immutable(c.Spec, old.Spec, field.NewPath("spec"))
		},
		status: validateResourceClaimStatus})
	register(typedRules[*resourcev1.ResourceClaimTemplate]{namespaced: true, name: subdomain,
		create: func(t *resourcev1.ResourceClaimTemplate) field.ErrorList {
			return validateDeviceClaim(&t.Spec.Spec.Devices, field.NewPath("spec", "spec", "devices"))
		},
		update: func(t, old *resourcev1.ResourceClaimTemplate) field.ErrorList {
			return immutable(t.Spec, old.Spec, field.NewPath("spec"))
		}})
	register(typedRules[*resourcev1.DeviceTaintRule]{name: subdomain, create: validateDeviceTaintRule,
		status: func(r, _ *resourcev1.DeviceTaintRule) field.ErrorList {
			p := field.NewPath("status", "conditions")
			errs := atMost(len(r.Status.Conditions), draTaintRuleMaxConditions, p)
			return append(errs, metav1validation.ValidateConditions(r.Status.Conditions, p)...)
		}})
	register(typedRules[*resourcev1.ResourceSlice]{name: subdomain, create: validateResourceSlice,
		update: func(s, old *resourcev1.ResourceSlice) field.ErrorList {
			p := field.NewPath("spec")
			errs := immutable(s.Spec.Pool.Name, old.Spec.Pool.Name, p.Child("pool", "name"))
			errs = append(errs, immutable(s.Spec.Driver, old.Spec.Driver, p.Child("driver"))...)
			return append(errs, immutable(s.Spec.NodeName, old.Spec.NodeName, p.Child("nodeName"))...)
		}})
}

// driverName is upstream's CSI and DRA driver name rule: at most 63
// characters, a DNS subdomain ignoring case.
func driverName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > draDriverNameMaxLength {
		errs = append(errs, field.TooLong(p, "", draDriverNameMaxLength))
	}
	return append(errs, messages(p, name, validation.IsDNS1123Subdomain(strings.ToLower(name)))...)
}

// atMost reports a list longer than max.
func atMost(n, max int, p *field.Path) field.ErrorList {
	if n > max {
		return field.ErrorList{field.TooMany(p, n, max)}
	}
	return nil
}

func validateDeviceClass(c *resourcev1.DeviceClass) field.ErrorList {
	p := field.NewPath("spec")
	errs := atMost(len(c.Spec.Selectors), draSelectorsMaxSize, p.Child("selectors"))
	for i, s := range c.Spec.Selectors {
		errs = append(errs, validateDeviceSelector(s, p.Child("selectors").Index(i))...)
	}
	errs = append(errs, atMost(len(c.Spec.Config), draConfigMaxSize, p.Child("config"))...)
	for i, cfg := range c.Spec.Config {
		errs = append(errs, validateDeviceConfiguration(cfg.DeviceConfiguration, p.Child("config").Index(i))...)
	}
	if n := c.Spec.ExtendedResourceName; n != nil && !isExtendedResourceName(corev1.ResourceName(*n)) {
		errs = append(errs, field.Invalid(p.Child("extendedResourceName"), *n, "must be a valid extended resource name"))
	}
	return errs
}

// isExtendedResourceName reports a domain-qualified resource name outside
// kubernetes.io whose requests.-prefixed form is a qualified name.
func isExtendedResourceName(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.HasPrefix(s, corev1.ResourceDefaultNamespacePrefix) || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

func validateDeviceSelector(s resourcev1.DeviceSelector, p *field.Path) field.ErrorList {
	if s.CEL == nil {
		return field.ErrorList{field.Required(p.Child("cel"), "")}
	}
	ep := p.Child("cel", "expression")
	switch {
	case strings.TrimSpace(s.CEL.Expression) == "":
		return field.ErrorList{field.Required(ep, "")}
	case len(s.CEL.Expression) > draCELMaxLength:
		return field.ErrorList{field.TooLong(ep, "", draCELMaxLength)}
	}
	return nil
}

func validateDeviceConfiguration(c resourcev1.DeviceConfiguration, p *field.Path) field.ErrorList {
	if c.Opaque == nil {
		return field.ErrorList{field.Required(p.Child("opaque"), "")}
	}
	op := p.Child("opaque")
	errs := driverName(c.Opaque.Driver, op.Child("driver"))
	return append(errs, validateOpaqueParameters(c.Opaque.Parameters, op.Child("parameters"))...)
}

// validateOpaqueParameters requires a JSON object of at most 10 KiB.
func validateOpaqueParameters(raw runtime.RawExtension, p *field.Path) field.ErrorList {
	data := raw.Raw
	if len(data) == 0 && raw.Object != nil {
		data, _ = json.Marshal(raw.Object)
	}
	if len(data) == 0 {
		return field.ErrorList{field.Required(p, "")}
	}
	if len(data) > draOpaqueParametersMaxLength {
		return field.ErrorList{field.TooLong(p, "", draOpaqueParametersMaxLength)}
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return field.ErrorList{field.Invalid(p, "<value omitted>", fmt.Sprintf("error parsing data as JSON: %v", err))}
	}
	if _, ok := v.(map[string]any); !ok {
		return field.ErrorList{field.Invalid(p, "<value omitted>", "must be a valid JSON object")}
	}
	return nil
}

// requestNames are the names a claim's constraints, configs and results
// may refer to: each request, and request/subrequest for firstAvailable.
func requestNames(c *resourcev1.DeviceClaim) sets.Set[string] {
	names := sets.New[string]()
	for _, r := range c.Requests {
		names.Insert(r.Name)
		for _, sub := range r.FirstAvailable {
			names.Insert(r.Name + "/" + sub.Name)
		}
	}
	return names
}

const requestRefMsg = "must be the name of a request in the claim or the name of a request and a subrequest separated by '/'"

func validateRequestRef(name string, names sets.Set[string], p *field.Path) field.ErrorList {
	segments := strings.Split(name, "/")
	if len(segments) > 2 {
		return field.ErrorList{field.Invalid(p, name, requestRefMsg)}
	}
	var errs field.ErrorList
	for _, s := range segments {
		errs = append(errs, dnsLabel(s, p)...)
	}
	if !names.Has(name) {
		errs = append(errs, field.Invalid(p, name, requestRefMsg))
	}
	return errs
}

// validateRequestRefs checks a list of request references: at most
// draRequestsMaxSize, unique, each naming a request.
func validateRequestRefs(refs []string, names sets.Set[string], p *field.Path) field.ErrorList {
	errs := atMost(len(refs), draRequestsMaxSize, p)
	seen := sets.New[string]()
	for i, r := range refs {
		if seen.Has(r) {
			errs = append(errs, field.Duplicate(p.Index(i), r))
		}
		seen.Insert(r)
		errs = append(errs, validateRequestRef(r, names, p.Index(i))...)
	}
	return errs
}

func validateDeviceClaim(c *resourcev1.DeviceClaim, p *field.Path) field.ErrorList {
	names := requestNames(c)
	rp := p.Child("requests")
	errs := atMost(len(c.Requests), draRequestsMaxSize, rp)
	seen := sets.New[string]()
	for i, r := range c.Requests {
		if seen.Has(r.Name) {
			errs = append(errs, field.Duplicate(rp.Index(i), r.Name))
		}
		seen.Insert(r.Name)
		errs = append(errs, validateDeviceRequest(r, rp.Index(i))...)
	}
	cp := p.Child("constraints")
	errs = append(errs, atMost(len(c.Constraints), draConstraintsMaxSize, cp)...)
	for i, con := range c.Constraints {
		ip := cp.Index(i)
		errs = append(errs, validateRequestRefs(con.Requests, names, ip.Child("requests"))...)
		switch {
		case con.MatchAttribute != nil:
			errs = append(errs, fullyQualifiedName(string(*con.MatchAttribute), ip.Child("matchAttribute"))...)
		case con.DistinctAttribute != nil:
			errs = append(errs, fullyQualifiedName(string(*con.DistinctAttribute), ip.Child("distinctAttribute"))...)
		default:
			// DRAConsumableCapacity is beta, on by default.
			errs = append(errs, field.Required(ip, `exactly one of "matchAttribute" or "distinctAttribute" is required, but multiple fields are set`))
		}
	}
	fp := p.Child("config")
	errs = append(errs, atMost(len(c.Config), draConfigMaxSize, fp)...)
	for i, cfg := range c.Config {
		errs = append(errs, validateRequestRefs(cfg.Requests, names, fp.Index(i).Child("requests"))...)
		errs = append(errs, validateDeviceConfiguration(cfg.DeviceConfiguration, fp.Index(i))...)
	}
	return errs
}

func validateDeviceRequest(r resourcev1.DeviceRequest, p *field.Path) field.ErrorList {
	errs := dnsLabel(r.Name, p.Child("name"))
	switch {
	case r.Exactly == nil && len(r.FirstAvailable) == 0:
		errs = append(errs, field.Required(p, "exactly one of `exactly` or `firstAvailable` is required"))
	case r.Exactly != nil && len(r.FirstAvailable) > 0:
		errs = append(errs, field.Invalid(p, nil, "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set"))
	case r.Exactly != nil:
		e := r.Exactly
		ep := p.Child("exactly")
		errs = append(errs, validateRequestCommon(e.DeviceClassName, e.Selectors, e.AllocationMode, e.Count, e.Tolerations, ep)...)
	default:
		fp := p.Child("firstAvailable")
		errs = append(errs, atMost(len(r.FirstAvailable), draFirstAvailableMaxSize, fp)...)
		seen := sets.New[string]()
		for i, sub := range r.FirstAvailable {
			sp := fp.Index(i)
			if seen.Has(sub.Name) {
				errs = append(errs, field.Duplicate(sp, sub.Name))
			}
			seen.Insert(sub.Name)
			errs = append(errs, dnsLabel(sub.Name, sp.Child("name"))...)
			errs = append(errs, validateRequestCommon(sub.DeviceClassName, sub.Selectors, sub.AllocationMode, sub.Count, sub.Tolerations, sp)...)
		}
	}
	return errs
}

// validateRequestCommon checks what exact requests and subrequests share.
func validateRequestCommon(class string, selectors []resourcev1.DeviceSelector, mode resourcev1.DeviceAllocationMode, count int64, tolerations []resourcev1.DeviceToleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if class == "" {
		errs = append(errs, field.Required(p.Child("deviceClassName"), ""))
	} else {
		errs = append(errs, dnsSubdomain(class, p.Child("deviceClassName"))...)
	}
	errs = append(errs, atMost(len(selectors), draSelectorsMaxSize, p.Child("selectors"))...)
	for i, s := range selectors {
		errs = append(errs, validateDeviceSelector(s, p.Child("selectors").Index(i))...)
	}
	switch mode {
	case resourcev1.DeviceAllocationModeAll:
		if count != 0 {
			errs = append(errs, field.Invalid(p.Child("count"), count, fmt.Sprintf("must not be specified when allocationMode is '%s'", mode)))
		}
	case resourcev1.DeviceAllocationModeExactCount:
		if count <= 0 {
			errs = append(errs, field.Invalid(p.Child("count"), count, "must be greater than zero"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("allocationMode"), mode, []resourcev1.DeviceAllocationMode{resourcev1.DeviceAllocationModeAll, resourcev1.DeviceAllocationModeExactCount}))
	}
	errs = append(errs, atMost(len(tolerations), draTolerationsMaxSize, p.Child("tolerations"))...)
	for i, t := range tolerations {
		errs = append(errs, validateDeviceToleration(t, p.Child("tolerations").Index(i))...)
	}
	return errs
}

var deviceTaintEffects = []resourcev1.DeviceTaintEffect{resourcev1.DeviceTaintEffectNoSchedule, resourcev1.DeviceTaintEffectNoExecute, resourcev1.DeviceTaintEffectNone}

func validateDeviceTaintRule(r *resourcev1.DeviceTaintRule) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if s := r.Spec.DeviceSelector; s != nil {
		sp := p.Child("deviceSelector")
		if s.Driver != nil {
			errs = append(errs, driverName(*s.Driver, sp.Child("driver"))...)
		}
		if s.Pool != nil {
			errs = append(errs, poolName(*s.Pool, sp.Child("pool"))...)
		}
		if s.Device != nil {
			errs = append(errs, dnsLabel(*s.Device, sp.Child("device"))...)
		}
	}
	return append(errs, validateDeviceTaint(r.Spec.Taint, p.Child("taint"))...)
}

func validateDeviceTaint(t resourcev1.DeviceTaint, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelName(t.Key, p.Child("key"))
	if t.Value != "" {
		errs = append(errs, messages(p.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
	}
	return append(errs, enum(t.Effect, deviceTaintEffects, p.Child("effect"))...)
}

func validateDeviceToleration(t resourcev1.DeviceToleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, qualifiedName(t.Key, p.Child("key"))...)
	}
	switch t.Operator {
	case resourcev1.DeviceTolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, "must be empty for operator `Exists`"))
		}
	case resourcev1.DeviceTolerationOpEqual:
		errs = append(errs, messages(p.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
	case "":
		errs = append(errs, field.Required(p.Child("operator"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []resourcev1.DeviceTolerationOperator{resourcev1.DeviceTolerationOpEqual, resourcev1.DeviceTolerationOpExists}))
	}
	if t.Effect != "" {
		errs = append(errs, enum(t.Effect, deviceTaintEffects, p.Child("effect"))...)
	}
	return errs
}

// draQualifiedName is a C identifier, optionally prefixed by a driver-name
// domain and a slash.
func draQualifiedName(name string, p *field.Path) field.ErrorList {
	parts := strings.Split(name, "/")
	if len(parts) == 1 {
		return cIdentifier(parts[0], p)
	}
	var errs field.ErrorList
	if parts[0] == "" {
		errs = append(errs, field.Invalid(p, "", "the domain must not be empty"))
	} else {
		errs = append(errs, driverName(parts[0], p)...)
	}
	if parts[1] == "" {
		errs = append(errs, field.Invalid(p, "", "the name must not be empty"))
	} else {
		errs = append(errs, cIdentifier(parts[1], p)...)
	}
	return errs
}

func fullyQualifiedName(name string, p *field.Path) field.ErrorList {
	errs := draQualifiedName(name, p)
	if !strings.Contains(name, "/") {
		errs = append(errs, field.Invalid(p, name, "a fully qualified name must be a domain and a name separated by a slash"))
	}
	return errs
}

func cIdentifier(id string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(id) > draMaxIDLength {
		errs = append(errs, field.TooLong(p, "", draMaxIDLength))
	}
	return append(errs, messages(p, id, validation.IsCIdentifier(id))...)
}

func validateResourceClaimStatus(c, old *resourcev1.ResourceClaim) field.ErrorList {
	p := field.NewPath("status")
	s, os := c.Status, old.Status
	names := requestNames(&c.Spec.Devices)
	rp := p.Child("reservedFor")
	errs := atMost(len(s.ReservedFor), draReservedForMaxSize, rp)
	uids := sets.New[types.UID]()
	for i, ref := range s.ReservedFor {
		ip := rp.Index(i)
		if uids.Has(ref.UID) {
			errs = append(errs, field.Duplicate(ip, ref.UID))
		}
		uids.Insert(ref.UID)
		if ref.Resource == "" {
			errs = append(errs, field.Required(ip.Child("resource"), ""))
		}
		if ref.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		}
		if ref.UID == "" {
			errs = append(errs, field.Required(ip.Child("uid"), ""))
		}
	}
	if len(s.ReservedFor) > 0 {
		if s.Allocation == nil {
			errs = append(errs, field.Forbidden(rp, "may not be specified when `allocated` is not set"))
		} else if c.DeletionTimestamp != nil {
			before := sets.New[types.UID]()
			for _, ref := range os.ReservedFor {
				before.Insert(ref.UID)
			}
			if !before.IsSuperset(uids) {
				errs = append(errs, field.Forbidden(rp, "new entries may not be added while `deallocationRequested` or `deletionTimestamp` are set"))
			}
		}
	}
	ap := p.Child("allocation")
	switch {
	case os.Allocation != nil && s.Allocation != nil:
		errs = append(errs, immutable(s.Allocation, os.Allocation, ap)...)
	case s.Allocation != nil:
		resp := ap.Child("devices", "results")
		errs = append(errs, atMost(len(s.Allocation.Devices.Results), draRequestsMaxSize, resp)...)
		for i, r := range s.Allocation.Devices.Results {
			ip := resp.Index(i)
			errs = append(errs, validateRequestRef(r.Request, names, ip.Child("request"))...)
			errs = append(errs, driverName(r.Driver, ip.Child("driver"))...)
			errs = append(errs, poolName(r.Pool, ip.Child("pool"))...)
			errs = append(errs, dnsLabel(r.Device, ip.Child("device"))...)
		}
		cfgp := ap.Child("devices", "config")
		for i, cfg := range s.Allocation.Devices.Config {
			errs = append(errs, enum(cfg.Source, []resourcev1.AllocationConfigSource{resourcev1.AllocationConfigSourceClaim, resourcev1.AllocationConfigSourceClass}, cfgp.Index(i).Child("source"))...)
			errs = append(errs, validateRequestRefs(cfg.Requests, names, cfgp.Index(i).Child("requests"))...)
			errs = append(errs, validateDeviceConfiguration(cfg.DeviceConfiguration, cfgp.Index(i))...)
		}
	}
	return errs
}

// poolName is one or more DNS subdomains separated by slashes, at most 253
// characters in all.
func poolName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > validation.DNS1123SubdomainMaxLength {
		errs = append(errs, field.TooLong(p, "", validation.DNS1123SubdomainMaxLength))
	}
	for _, part := range strings.Split(name, "/") {
		errs = append(errs, dnsSubdomain(part, p)...)
	}
	return errs
}

const sliceNodeFieldsMsg = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"

func validateResourceSlice(s *resourcev1.ResourceSlice) field.ErrorList {
	p := field.NewPath("spec")
	spec := s.Spec
	errs := driverName(spec.Driver, p.Child("driver"))
	errs = append(errs, poolName(spec.Pool.Name, p.Child("pool", "name"))...)
	if spec.Pool.ResourceSliceCount <= 0 {
		errs = append(errs, field.Invalid(p.Child("pool", "resourceSliceCount"), spec.Pool.ResourceSliceCount, "must be greater than zero"))
	}
	if spec.Pool.Generation < 0 {
		errs = append(errs, field.Invalid(p.Child("pool", "generation"), spec.Pool.Generation, "must be greater than or equal to zero"))
	}
	var set []string
	if spec.NodeName != nil {
		if *spec.NodeName == "" {
			errs = append(errs, field.Invalid(p.Child("nodeName"), "", "must be either unset or set to a non-empty string"))
		} else {
			set = append(set, "`nodeName`")
			errs = append(errs, dnsSubdomain(*spec.NodeName, p.Child("nodeName"))...)
		}
	}
	if spec.NodeSelector != nil {
		set = append(set, "`nodeSelector`")
		if n := len(spec.NodeSelector.NodeSelectorTerms); n != 1 {
			errs = append(errs, field.Invalid(p.Child("nodeSelector", "nodeSelectorTerms"), spec.NodeSelector.NodeSelectorTerms, "must have exactly one node selector term"))
		}
	}
	for _, f := range []struct {
		name string
		v    *bool
	}{{"allNodes", spec.AllNodes}, {"perDeviceNodeSelection", spec.PerDeviceNodeSelection}} {
		if f.v == nil {
			continue
		}
		if *f.v {
			set = append(set, "`"+f.name+"`")
		} else {
			errs = append(errs, field.Invalid(p.Child(f.name), false, "must be either unset or set to true"))
		}
	}
	switch len(set) {
	case 0:
		errs = append(errs, field.Required(p, sliceNodeFieldsMsg))
	case 1:
	default:
		errs = append(errs, field.Invalid(p, fmt.Sprintf("{%s}", strings.Join(set, ", ")), sliceNodeFieldsMsg+", but multiple fields are set"))
	}
	if spec.SharedCounters != nil && spec.Devices != nil {
		errs = append(errs, field.Invalid(p, "", "only one of `sharedCounters` or `devices` is allowed"))
	}
	dp := p.Child("devices")
	errs = append(errs, atMost(len(spec.Devices), draSliceMaxDevices, dp)...)
	seen := sets.New[string]()
	for i, d := range spec.Devices {
		ip := dp.Index(i)
		if seen.Has(d.Name) {
			errs = append(errs, field.Duplicate(ip, d.Name))
		}
		seen.Insert(d.Name)
		errs = append(errs, validateDevice(d, ip)...)
	}
	return errs
}

func validateDevice(d resourcev1.Device, p *field.Path) field.ErrorList {
	errs := dnsLabel(d.Name, p.Child("name"))
	if n := len(d.Attributes) + len(d.Capacity); n > draAttrsAndCapacityMax {
		errs = append(errs, field.Invalid(p, n, fmt.Sprintf("the total number of attributes and capacities must not exceed %d", draAttrsAndCapacityMax)))
	}
	for name, a := range d.Attributes {
		ap := p.Child("attributes").Key(string(name))
		errs = append(errs, draQualifiedName(string(name), ap)...)
		errs = append(errs, validateDeviceAttribute(a, ap)...)
	}
	for name := range d.Capacity {
		errs = append(errs, draQualifiedName(string(name), p.Child("capacity").Key(string(name)))...)
	}
	tp := p.Child("taints")
	errs = append(errs, atMost(len(d.Taints), draDeviceTaintsMaxSize, tp)...)
	for i, t := range d.Taints {
		errs = append(errs, validateDeviceTaint(t, tp.Index(i))...)
	}
	return errs
}

func validateDeviceAttribute(a resourcev1.DeviceAttribute, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if a.BoolValue != nil {
		n++
	}
	if a.IntValue != nil {
		n++
	}
	if a.StringValue != nil {
		n++
		if len(*a.StringValue) > draAttributeMaxValueLength {
			errs = append(errs, field.TooLong(p.Child("string"), "", draAttributeMaxValueLength))
		}
	}
	if a.VersionValue != nil {
		n++
		if len(*a.VersionValue) > draAttributeMaxValueLength {
			errs = append(errs, field.TooLong(p.Child("version"), "", draAttributeMaxValueLength))
		}
	}
	for _, l := range []struct {
		name  string
		set   bool
		empty bool
	}{
		{"bools", a.BoolValues != nil, len(a.BoolValues) == 0},
		{"ints", a.IntValues != nil, len(a.IntValues) == 0},
		{"strings", a.StringValues != nil, len(a.StringValues) == 0},
		{"versions", a.VersionValues != nil, len(a.VersionValues) == 0},
	} {
		if !l.set {
			continue
		}
		n++
		if l.empty {
			errs = append(errs, field.Invalid(p.Child(l.name), "[]", "must not be empty if specified"))
		}
	}
	switch n {
	case 0:
		errs = append(errs, field.Invalid(p, "", "exactly one value must be specified"))
	case 1:
	default:
		errs = append(errs, field.Invalid(p, a, "exactly one value must be specified"))
	}
	return errs
}
