package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages shared with upstream, which clients sometimes match on.
const (
	fieldImmutableMsg = apivalidation.FieldImmutableErrorMsg
	isNegativeMsg     = apivalidation.IsNegativeErrorMsg
	notPositiveMsg    = "must be greater than zero"
)

// immutable reports an Invalid error ("field is immutable") when the
// values differ semantically.
func immutable(newVal, oldVal any, p *field.Path) field.ErrorList {
	if equality.Semantic.DeepEqual(newVal, oldVal) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, newVal, fieldImmutableMsg)}
}

func nonNegative(v int64, p *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(p, v, isNegativeMsg)}
	}
	return nil
}

func nonNegative32(v *int32, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return nonNegative(int64(*v), p)
}

func positive(v int64, p *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(p, v, notPositiveMsg)}
	}
	return nil
}

// messages turns each message about value into an Invalid error at p.
func messages(p *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(p, value, m))
	}
	return errs
}

func dnsLabel(v string, p *field.Path) field.ErrorList {
	return messages(p, v, validation.IsDNS1123Label(v))
}

func dnsSubdomain(v string, p *field.Path) field.ErrorList {
	return messages(p, v, validation.IsDNS1123Subdomain(v))
}

func qualifiedName(v string, p *field.Path) field.ErrorList {
	return messages(p, v, validation.IsQualifiedName(v))
}

func labelSelector(sel *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
}

// enum reports Required when v is empty and NotSupported when it is not one
// of valid.
func enum[T ~string](v T, valid []T, p *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, ok := range valid {
		if v == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, v, valid)}
}

// optionalEnum is enum that allows the empty value.
func optionalEnum[T ~string](v T, valid []T, p *field.Path) field.ErrorList {
	if v == "" {
		return nil
	}
	return enum(v, valid, p)
}

func portNum(port int32, p *field.Path) field.ErrorList {
	return messages(p, port, validation.IsValidPortNum(int(port)))
}

var supportedProtocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// intOrPercent checks an IntOrString that holds a count or a percentage.
func intOrPercent(v intstr.IntOrString, p *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		msgs := validation.IsValidPercent(v.StrVal)
		if len(msgs) != 0 {
			return field.ErrorList{field.Invalid(p, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")}
		}
		return nil
	default:
		return nonNegative(int64(v.IntVal), p)
	}
}

// percentOver100 reports a percentage greater than 100%.
func percentOver100(v intstr.IntOrString, p *field.Path) field.ErrorList {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return nil
	}
	var n int
	fmt.Sscanf(strings.TrimSuffix(v.StrVal, "%"), "%d", &n)
	if n > 100 {
		return field.ErrorList{field.Invalid(p, v, "must not be greater than 100%")}
	}
	return nil
}

// isZeroIntOrPercent reports whether v is 0 or "0%".
func isZeroIntOrPercent(v intstr.IntOrString) bool {
	if v.Type == intstr.String {
		return v.StrVal == "0%"
	}
	return v.IntVal == 0
}

// resourceName checks the name of a compute resource: a standard name or a
// domain-qualified one.
func resourceName(name corev1.ResourceName, p *field.Path) field.ErrorList {
	errs := qualifiedName(string(name), p)
	if len(errs) == 0 && !strings.Contains(string(name), "/") && !standardResource(name) {
		errs = append(errs, field.Invalid(p, name, "must be a standard resource type or fully qualified"))
	}
	return errs
}

func standardResource(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourceStorage, corev1.ResourcePods:
		return true
	}
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// resourceList checks names and that no quantity is negative.
func resourceList(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range list {
		kp := p.Key(string(name))
		errs = append(errs, resourceName(name, kp)...)
		errs = append(errs, nonNegativeQuantity(q, kp)...)
	}
	return errs
}

func nonNegativeQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), isNegativeMsg)}
	}
	return nil
}

// selectorMatchesLabels reports the upstream error when a non-empty
// selector does not select the template's labels.
func selectorMatchesLabels(sel *metav1.LabelSelector, lbls map[string]string, p *field.Path) field.ErrorList {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return nil
	}
	if !s.Matches(labels.Set(lbls)) {
		return field.ErrorList{field.Invalid(p, lbls, "`selector` does not match template `labels`")}
	}
	return nil
}
