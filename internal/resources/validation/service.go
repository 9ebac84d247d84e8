package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The default node port range. Allocation within a configured range is the
// allocator's job; validation only rejects ports outside the default one.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// maxClientIPTimeoutSeconds bounds sessionAffinityConfig.clientIP.timeoutSeconds.
const maxClientIPTimeoutSeconds = 86400

func init() {
	register(typedRules[*corev1.Service]{
		namespaced: true,
		name:       apivalidation.NameIsDNS1035Label,
		create:     validateService,
		update:     validateServiceUpdate,
		status: func(svc, _ *corev1.Service) field.ErrorList {
			var errs field.ErrorList
			for i, ing := range svc.Status.LoadBalancer.Ingress {
				ip := field.NewPath("status", "loadBalancer", "ingress").Index(i)
				if ing.IP != "" {
					errs = append(errs, validation.IsValidIP(ip.Child("ip"), ing.IP)...)
				}
				if ing.Hostname != "" {
					errs = append(errs, dnsSubdomain(ing.Hostname, ip.Child("hostname"))...)
				}
			}
			return errs
		},
	})
}

var (
	supportedServiceTypes    = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}
	supportedAffinities      = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedExternalTraffic = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	supportedInternalTraffic = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
)

func validateService(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	p := field.NewPath("spec")
	errs := enum(spec.Type, supportedServiceTypes, p.Child("type"))
	headless := spec.ClusterIP == corev1.ClusterIPNone

	if spec.Type == corev1.ServiceTypeExternalName {
		ep := p.Child("externalName")
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(p.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if spec.ExternalName == "" {
			errs = append(errs, field.Required(ep, ""))
		} else {
			errs = append(errs, dnsSubdomain(strings.TrimSuffix(spec.ExternalName, "."), ep)...)
		}
	} else if len(spec.Ports) == 0 && !headless {
		errs = append(errs, field.Required(p.Child("ports"), ""))
	}

	names := sets.New[string]()
	seen := map[string]int{}
	for i := range spec.Ports {
		port := &spec.Ports[i]
		ip := p.Child("ports").Index(i)
		errs = append(errs, validateServicePort(port, len(spec.Ports) > 1, names, ip)...)
		if spec.Type == corev1.ServiceTypeClusterIP && port.NodePort != 0 {
			errs = append(errs, field.Forbidden(ip.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		key := fmt.Sprintf("%s/%d", port.Protocol, port.Port)
		if _, dup := seen[key]; dup {
			errs = append(errs, field.Duplicate(ip, key))
		}
		seen[key] = i
	}

	if spec.ClusterIP != "" && !headless {
		errs = append(errs, validation.IsValidIP(p.Child("clusterIP"), spec.ClusterIP)...)
	}
	if len(spec.ClusterIPs) > 0 && spec.ClusterIPs[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(0), spec.ClusterIPs[0], "must match `clusterIP` when provided"))
	}
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, validation.IsValidIP(p.Child("externalIPs").Index(i), ip)...)
	}
	errs = append(errs, metav1validation.ValidateLabels(spec.Selector, p.Child("selector"))...)

	errs = append(errs, enum(spec.SessionAffinity, supportedAffinities, p.Child("sessionAffinity"))...)
	sp := p.Child("sessionAffinityConfig")
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(sp, "when session affinity type is ClientIP"))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPTimeoutSeconds {
			errs = append(errs, field.Invalid(sp.Child("clientIP", "timeoutSeconds"), t, fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPTimeoutSeconds)))
		}
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(sp, fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	}

	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	etp := p.Child("externalTrafficPolicy")
	if spec.ExternalTrafficPolicy != "" {
		if !external {
			errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		} else {
			errs = append(errs, enum(spec.ExternalTrafficPolicy, supportedExternalTraffic, etp)...)
		}
	} else if external {
		errs = append(errs, field.Required(etp, ""))
	}
	if spec.InternalTrafficPolicy != nil {
		errs = append(errs, enum(*spec.InternalTrafficPolicy, supportedInternalTraffic, p.Child("internalTrafficPolicy"))...)
	}
	if spec.HealthCheckNodePort != 0 {
		if spec.Type != corev1.ServiceTypeLoadBalancer || spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.Invalid(p.Child("healthCheckNodePort"), spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	}
	return errs
}

func validateServicePort(port *corev1.ServicePort, nameRequired bool, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	np := p.Child("name")
	switch {
	case port.Name == "" && nameRequired:
		errs = append(errs, field.Required(np, ""))
	case port.Name == "":
	case len(validation.IsDNS1123Label(port.Name)) != 0:
		errs = append(errs, dnsLabel(port.Name, np)...)
	case names.Has(port.Name):
		errs = append(errs, field.Duplicate(np, port.Name))
	default:
		names.Insert(port.Name)
	}
	errs = append(errs, portNum(port.Port, p.Child("port"))...)
	errs = append(errs, enum(port.Protocol, supportedProtocols, p.Child("protocol"))...)
	errs = append(errs, validatePortRef(port.TargetPort, p.Child("targetPort"))...)
	if port.NodePort != 0 && (port.NodePort < NodePortMin || port.NodePort > NodePortMax) {
		errs = append(errs, field.Invalid(p.Child("nodePort"), port.NodePort,
			fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
	}
	if port.AppProtocol != nil {
		errs = append(errs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// validateServiceUpdate keeps an allocated cluster IP: it may not change
// unless the service is, or is becoming, an ExternalName service.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	if old.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if old.Spec.ClusterIP == "" {
		return nil
	}
	return immutable(svc.Spec.ClusterIP, old.Spec.ClusterIP, field.NewPath("spec", "clusterIP"))
}
