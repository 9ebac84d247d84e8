package validation

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*networkingv1.Ingress]{namespaced: true, name: subdomain, create: validateIngress})
	register(typedRules[*networkingv1.IngressClass]{name: subdomain, create: validateIngressClass,
		update: func(ic, old *networkingv1.IngressClass) field.ErrorList {
			return immutable(ic.Spec.Controller, old.Spec.Controller, field.NewPath("spec", "controller"))
		}})
	register(typedRules[*networkingv1.NetworkPolicy]{namespaced: true, name: subdomain, create: validateNetworkPolicy})
}

var supportedPathTypes = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific}

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if ing.Spec.DefaultBackend == nil && len(ing.Spec.Rules) == 0 {
		errs = append(errs, field.Invalid(p, ing.Spec, "either `defaultBackend` or `rules` must be specified"))
	}
	if b := ing.Spec.DefaultBackend; b != nil {
		errs = append(errs, validateIngressBackend(b, p.Child("defaultBackend"))...)
	}
	if c := ing.Spec.IngressClassName; c != nil {
		errs = append(errs, dnsSubdomain(*c, p.Child("ingressClassName"))...)
	}
	for i, r := range ing.Spec.Rules {
		rp := p.Child("rules").Index(i)
		if r.Host != "" {
			if strings.Contains(r.Host, "*") {
				errs = append(errs, messages(rp.Child("host"), r.Host, validation.IsWildcardDNS1123Subdomain(r.Host))...)
			} else {
				errs = append(errs, dnsSubdomain(r.Host, rp.Child("host"))...)
			}
		}
		if r.HTTP == nil {
			continue
		}
		hp := rp.Child("http", "paths")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(hp, ""))
		}
		for j, path := range r.HTTP.Paths {
			pp := hp.Index(j)
			if path.PathType == nil {
				errs = append(errs, field.Required(pp.Child("pathType"), "pathType must be specified"))
			} else {
				errs = append(errs, enum(*path.PathType, supportedPathTypes, pp.Child("pathType"))...)
				if *path.PathType != networkingv1.PathTypeImplementationSpecific && !strings.HasPrefix(path.Path, "/") {
					errs = append(errs, field.Invalid(pp.Child("path"), path.Path, "must be an absolute path"))
				}
				if *path.PathType == networkingv1.PathTypeImplementationSpecific && path.Path != "" && !strings.HasPrefix(path.Path, "/") {
					errs = append(errs, field.Invalid(pp.Child("path"), path.Path, "must be an absolute path"))
				}
			}
			errs = append(errs, validateIngressBackend(&path.Backend, pp.Child("backend"))...)
		}
	}
	for i, t := range ing.Spec.TLS {
		for j, h := range t.Hosts {
			hp := p.Child("tls").Index(i).Child("hosts").Index(j)
			if strings.Contains(h, "*") {
				errs = append(errs, messages(hp, h, validation.IsWildcardDNS1123Subdomain(h))...)
			} else {
				errs = append(errs, dnsSubdomain(h, hp)...)
			}
		}
	}
	return errs
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Service != nil && b.Resource != nil:
		errs = append(errs, field.Invalid(p, b, "cannot set both resource and service backends"))
	case b.Service != nil:
		sp := p.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			errs = append(errs, messages(sp.Child("name"), b.Service.Name, validation.IsDNS1035Label(b.Service.Name))...)
		}
		port := b.Service.Port
		pp := sp.Child("port")
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(pp, port, "cannot set both port name & port number"))
		case port.Name != "":
			errs = append(errs, messages(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))...)
		case port.Number != 0:
			errs = append(errs, portNum(port.Number, pp.Child("number"))...)
		default:
			errs = append(errs, field.Required(pp, "port name or number is required"))
		}
	case b.Resource != nil:
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(p.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("resource", "name"), ""))
		}
	default:
		errs = append(errs, field.Invalid(p, b, "resource or service backend is required"))
	}
	return errs
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	cp := p.Child("controller")
	if ic.Spec.Controller == "" {
		errs = append(errs, field.Required(cp, ""))
	} else {
		errs = append(errs, validation.IsDomainPrefixedPath(cp, ic.Spec.Controller)...)
		if len(ic.Spec.Controller) > 250 {
			errs = append(errs, field.TooLong(cp, "", 250))
		}
	}
	if par := ic.Spec.Parameters; par != nil {
		pp := p.Child("parameters")
		if par.Kind == "" {
			errs = append(errs, field.Required(pp.Child("kind"), ""))
		}
		if par.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		if par.Scope != nil {
			errs = append(errs, enum(*par.Scope, []string{networkingv1.IngressClassParametersReferenceScopeNamespace, networkingv1.IngressClassParametersReferenceScopeCluster}, pp.Child("scope"))...)
			if *par.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace && par.Namespace == nil {
				errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			}
			if *par.Scope == networkingv1.IngressClassParametersReferenceScopeCluster && par.Namespace != nil {
				errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		}
	}
	return errs
}

var supportedPolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	p := field.NewPath("spec")
	errs := labelSelector(&np.Spec.PodSelector, p.Child("podSelector"))
	for i, r := range np.Spec.Ingress {
		ip := p.Child("ingress").Index(i)
		errs = append(errs, validateNetworkPolicyPorts(r.Ports, ip.Child("ports"))...)
		errs = append(errs, validateNetworkPolicyPeers(r.From, ip.Child("from"))...)
	}
	for i, r := range np.Spec.Egress {
		ip := p.Child("egress").Index(i)
		errs = append(errs, validateNetworkPolicyPorts(r.Ports, ip.Child("ports"))...)
		errs = append(errs, validateNetworkPolicyPeers(r.To, ip.Child("to"))...)
	}
	if len(np.Spec.PolicyTypes) > len(supportedPolicyTypes) {
		errs = append(errs, field.Invalid(p.Child("policyTypes"), np.Spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range np.Spec.PolicyTypes {
		errs = append(errs, enum(t, supportedPolicyTypes, p.Child("policyTypes").Index(i))...)
	}
	return errs
}

func validateNetworkPolicyPorts(ports []networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, port := range ports {
		ip := p.Index(i)
		if port.Protocol != nil {
			errs = append(errs, enum(*port.Protocol, supportedProtocols, ip.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, validatePortRef(*port.Port, ip.Child("port"))...)
		}
		if port.EndPort != nil {
			switch {
			case port.Port == nil:
				errs = append(errs, field.Required(ip.Child("port"), "must be specified when endPort is specified"))
			case port.Port.Type == intstr.String:
				errs = append(errs, field.Forbidden(ip.Child("endPort"), "may not be specified when port is non-numeric"))
			case *port.EndPort < port.Port.IntVal:
				errs = append(errs, field.Invalid(ip.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
			}
		}
	}
	return errs
}

func validateNetworkPolicyPeers(peers []networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, peer := range peers {
		ip := p.Index(i)
		n := 0
		if peer.PodSelector != nil {
			n++
			errs = append(errs, labelSelector(peer.PodSelector, ip.Child("podSelector"))...)
		}
		if peer.NamespaceSelector != nil {
			n++
			errs = append(errs, labelSelector(peer.NamespaceSelector, ip.Child("namespaceSelector"))...)
		}
		if b := peer.IPBlock; b != nil {
			if n > 0 {
				errs = append(errs, field.Forbidden(ip, "may not specify both ipBlock and another peer"))
			}
			n++
			bp := ip.Child("ipBlock")
			if b.CIDR == "" {
				errs = append(errs, field.Required(bp.Child("cidr"), ""))
			} else {
				errs = append(errs, validation.IsValidCIDR(bp.Child("cidr"), b.CIDR)...)
			}
			for j, e := range b.Except {
				errs = append(errs, validation.IsValidCIDR(bp.Child("except").Index(j), e)...)
			}
		}
		if n == 0 {
			errs = append(errs, field.Required(ip, "must specify a peer"))
		}
	}
	return errs
}
