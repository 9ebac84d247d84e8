package validation

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	register(typedRules[*corev1.Pod]{
		namespaced: true,
		name:       apivalidation.NameIsDNSSubdomain,
		create: func(pod *corev1.Pod) field.ErrorList {
			return validatePodSpec(&pod.Spec, true, nil, field.NewPath("spec"))
		},
		update: validatePodUpdate,
		status: validatePodStatusUpdate,
	})
	register(typedRules[*corev1.PodTemplate]{
		namespaced: true,
		name:       apivalidation.NameIsDNSSubdomain,
		create: func(t *corev1.PodTemplate) field.ErrorList {
			return validatePodTemplateSpec(&t.Template, nil, field.NewPath("template"))
		},
	})
}

var (
	supportedRestartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedDNSPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	supportedPullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedTermMsgPolicies = []corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}
	supportedTolerationOps   = []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}
	supportedTaintEffects    = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
)

// validatePodTemplateSpec validates the template of a workload: its labels
// and annotations and its pod spec (where, unlike a Pod, the image may be
// left for an admission step to fill). claimVolumes names the volumes the
// workload adds to every pod it makes (a StatefulSet's volumeClaimTemplates):
// containers may mount them although the template does not list them.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, claimVolumes sets.Set[string], p *field.Path) field.ErrorList {
	mp := p.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, mp.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, mp.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&t.Spec, false, claimVolumes, p.Child("spec"))...)
	return errs
}

// validatePodSpec validates a pod spec; isPod is false for templates, and
// claimVolumes (nil for a Pod) are volume names a workload adds to its pods.
func validatePodSpec(spec *corev1.PodSpec, isPod bool, claimVolumes sets.Set[string], p *field.Path) field.ErrorList {
	volumes, errs := validateVolumes(spec.Volumes, p.Child("volumes"))
	volumes = volumes.Union(claimVolumes)

	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, validateContainers(spec.InitContainers, isPod, volumes, names, p.Child("initContainers"))...)
	errs = append(errs, validateContainers(spec.Containers, isPod, volumes, names, p.Child("containers"))...)
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		errs = append(errs, validateContainer(c, isPod, volumes, names, p.Child("ephemeralContainers").Index(i))...)
	}
	errs = append(errs, validateEphemeralContainers(spec, p.Child("ephemeralContainers"))...)

	errs = append(errs, enum(spec.RestartPolicy, supportedRestartPolicies, p.Child("restartPolicy"))...)
	errs = append(errs, enum(spec.DNSPolicy, supportedDNSPolicies, p.Child("dnsPolicy"))...)
	if spec.DNSPolicy == corev1.DNSNone && spec.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone)))
	}
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, messages(p.Child("serviceAccountName"), spec.ServiceAccountName, apivalidation.ValidateServiceAccountName(spec.ServiceAccountName, false))...)
	}
	if spec.NodeName != "" {
		errs = append(errs, dnsSubdomain(spec.NodeName, p.Child("nodeName"))...)
	}
	if spec.Hostname != "" {
		errs = append(errs, dnsLabel(spec.Hostname, p.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, dnsLabel(spec.Subdomain, p.Child("subdomain"))...)
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, dnsSubdomain(spec.PriorityClassName, p.Child("priorityClassName"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.TerminationGracePeriodSeconds != nil {
		errs = append(errs, nonNegative(*spec.TerminationGracePeriodSeconds, p.Child("terminationGracePeriodSeconds"))...)
	}
	errs = append(errs, validateTolerations(spec.Tolerations, p.Child("tolerations"))...)
	if sc := spec.SecurityContext; sc != nil {
		errs = append(errs, validateSysctls(sc.Sysctls, p.Child("securityContext", "sysctls"))...)
	}
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// sysctlName is upstream's sysctl name pattern: segments of lower-case
// letters, digits, '-' and '_' separated by '.' or '/'.
const sysctlNameFmt = `([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?`

var sysctlName = regexp.MustCompile("^" + sysctlNameFmt + "$")

// validateSysctls checks a pod's sysctls as upstream: names required,
// well-formed (at most 253 characters) and not repeated.
func validateSysctls(sysctls []corev1.Sysctl, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, s := range sysctls {
		np := p.Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(np, ""))
		case len(s.Name) > 253 || !sysctlName.MatchString(s.Name):
			errs = append(errs, field.Invalid(np, s.Name, fmt.Sprintf("must have at most 253 characters and match regex %s", sysctlNameFmt)))
		case seen.Has(s.Name):
			errs = append(errs, field.Duplicate(np, s.Name))
		}
		seen.Insert(s.Name)
	}
	return errs
}

func validateTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		ip := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(ip.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(ip.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			errs = append(errs, messages(ip.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(ip.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(ip.Child("operator"), t.Operator, supportedTolerationOps))
		}
		errs = append(errs, optionalEnum(t.Effect, supportedTaintEffects, ip.Child("effect"))...)
	}
	return errs
}

func validateContainers(cs []corev1.Container, isPod bool, volumes sets.Set[string], names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		errs = append(errs, validateContainer(&cs[i], isPod, volumes, names, p.Index(i))...)
	}
	return errs
}

func validateContainer(c *corev1.Container, isPod bool, volumes, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	np := p.Child("name")
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(np, ""))
	case len(validation.IsDNS1123Label(c.Name)) != 0:
		errs = append(errs, dnsLabel(c.Name, np)...)
	case names.Has(c.Name):
		errs = append(errs, field.Duplicate(np, c.Name))
	default:
		names.Insert(c.Name)
	}
	if isPod && c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	if c.Image != strings.TrimSpace(c.Image) {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, enum(c.ImagePullPolicy, supportedPullPolicies, p.Child("imagePullPolicy"))...)
	errs = append(errs, enum(c.TerminationMessagePolicy, supportedTermMsgPolicies, p.Child("terminationMessagePolicy"))...)
	errs = append(errs, validateContainerPorts(c.Ports, p.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, p.Child("env"))...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)
	errs = append(errs, validateResources(&c.Resources, p.Child("resources"))...)
	errs = append(errs, validateResizePolicy(c.ResizePolicy, p.Child("resizePolicy"))...)
	errs = append(errs, validateProbe(c.LivenessProbe, true, p.Child("livenessProbe"))...)
	errs = append(errs, validateProbe(c.ReadinessProbe, false, p.Child("readinessProbe"))...)
	errs = append(errs, validateProbe(c.StartupProbe, true, p.Child("startupProbe"))...)
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) != 0 {
				errs = append(errs, messages(ip.Child("name"), port.Name, msgs)...)
			} else if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(ip.Child("containerPort"), ""))
		} else {
			errs = append(errs, portNum(port.ContainerPort, ip.Child("containerPort"))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, portNum(port.HostPort, ip.Child("hostPort"))...)
		}
		errs = append(errs, enum(port.Protocol, supportedProtocols, ip.Child("protocol"))...)
	}
	return errs
}

func validateEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range env {
		ip := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			errs = append(errs, messages(ip.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		if ev.ValueFrom == nil {
			continue
		}
		vp := ip.Child("valueFrom")
		n := 0
		vf := ev.ValueFrom
		if vf.FieldRef != nil {
			n++
			if vf.FieldRef.FieldPath == "" {
				errs = append(errs, field.Required(vp.Child("fieldRef", "fieldPath"), ""))
			}
		}
		if vf.ResourceFieldRef != nil {
			n++
			if vf.ResourceFieldRef.Resource == "" {
				errs = append(errs, field.Required(vp.Child("resourceFieldRef", "resource"), ""))
			}
		}
		if vf.ConfigMapKeyRef != nil {
			n++
			errs = append(errs, validateKeyRef(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vp.Child("configMapKeyRef"))...)
		}
		if vf.SecretKeyRef != nil {
			n++
			errs = append(errs, validateKeyRef(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vp.Child("secretKeyRef"))...)
		}
		if vf.FileKeyRef != nil {
			n++
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
		case ev.Value != "":
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validateKeyRef(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, messages(p.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		ip := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(ip.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(ip.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(ip.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, localRelativePath(m.SubPath, ip.Child("subPath"))...)
		}
	}
	return errs
}

// localRelativePath rejects absolute paths and paths that climb out with "..".
func localRelativePath(v string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(v) {
		errs = append(errs, field.Invalid(p, v, "must be a relative path"))
	}
	for _, part := range strings.Split(v, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(p, v, "must not contain '..'"))
			break
		}
	}
	return errs
}

func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	errs := resourceList(r.Limits, p.Child("limits"))
	errs = append(errs, resourceList(r.Requests, p.Child("requests"))...)
	for name, req := range r.Requests {
		limit, ok := r.Limits[name]
		if ok && req.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return errs
}

func validateProbe(pr *corev1.Probe, successMustBeOne bool, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validateHandler(&pr.ProbeHandler, p)
	errs = append(errs, nonNegative(int64(pr.InitialDelaySeconds), p.Child("initialDelaySeconds"))...)
	errs = append(errs, nonNegative(int64(pr.TimeoutSeconds), p.Child("timeoutSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.PeriodSeconds), p.Child("periodSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.SuccessThreshold), p.Child("successThreshold"))...)
	errs = append(errs, nonNegative(int64(pr.FailureThreshold), p.Child("failureThreshold"))...)
	if successMustBeOne && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if pr.TerminationGracePeriodSeconds != nil && *pr.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

func validateHandler(h *corev1.ProbeHandler, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if h.Exec != nil {
		n++
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if h.HTTPGet != nil {
		n++
		errs = append(errs, validatePortRef(h.HTTPGet.Port, p.Child("httpGet", "port"))...)
		if h.HTTPGet.Path == "" {
			errs = append(errs, field.Required(p.Child("httpGet", "path"), ""))
		}
	}
	if h.TCPSocket != nil {
		n++
		errs = append(errs, validatePortRef(h.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	if h.GRPC != nil {
		n++
		errs = append(errs, portNum(h.GRPC.Port, p.Child("grpc", "port"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	return errs
}
