package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// DefaultSchedulerName is the scheduler a pod gets when it names none.
	DefaultSchedulerName = "default-scheduler"
	// DefaultTerminationGracePeriodSeconds is a pod's default grace period.
	DefaultTerminationGracePeriodSeconds int64 = 30
	// DefaultVolumeMode is the file mode (0644) projected files get.
	DefaultVolumeMode int32 = 0o644
	// DefaultServiceAccountTokenExpirationSeconds is the default lifetime of
	// a projected service account token.
	DefaultServiceAccountTokenExpirationSeconds int64 = 3600
)

// defaultPod applies the defaults of a Pod: those of its spec plus the
// pod-only ones (service links, requests copied from limits).
func defaultPod(pod *corev1.Pod) {
	defaultPodSpec(&pod.Spec)
	setDefault(&pod.Spec.EnableServiceLinks, corev1.DefaultEnableServiceLinks)
	// A container that sets a limit but no request for a resource requests
	// its limit.
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			requestsFromLimits(&cs[i].Resources)
		}
	}
	if pod.Spec.Resources != nil {
		requestsFromLimits(pod.Spec.Resources)
	}
}

func requestsFromLimits(r *corev1.ResourceRequirements) {
	if len(r.Limits) == 0 {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// defaultPodTemplateSpec applies the spec defaults to a pod template, as
// upstream does for every workload's template.
func defaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	defaultPodSpec(&t.Spec)
}

func defaultPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	setDefault(&spec.TerminationGracePeriodSeconds, DefaultTerminationGracePeriodSeconds)
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i], spec.HostNetwork)
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i], spec.HostNetwork)
	}
	for i := range spec.EphemeralContainers {
		defaultContainer((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), false)
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
}

func defaultContainer(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		// On the host network a container port is a host port.
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			defaultFieldRef(vf.FieldRef)
		}
	}
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if l := c.Lifecycle; l != nil {
		defaultHandler(l.PostStart)
		defaultHandler(l.PreStop)
	}
}

// pullPolicyFor returns Always for images tagged latest or not tagged at
// all (and not pinned by digest), IfNotPresent otherwise.
func pullPolicyFor(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of an image reference: "latest" when neither a
// tag nor a digest is given, "" when only a digest is.
func imageTag(image string) string {
	ref, _, hasDigest := strings.Cut(image, "@")
	name := ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		name = ref[i+1:]
	}
	if _, tag, ok := strings.Cut(name, ":"); ok {
		return tag
	}
	if hasDigest {
		return ""
	}
	return "latest"
}

func defaultFieldRef(f *corev1.ObjectFieldSelector) {
	if f.APIVersion == "" {
		f.APIVersion = "v1"
	}
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
}

func defaultHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		defaultHTTPGet(h.HTTPGet)
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultVolume(v *corev1.Volume) {
	s := &v.VolumeSource
	if isZeroVolumeSource(s) {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	switch {
	case s.ConfigMap != nil:
		setDefault(&s.ConfigMap.DefaultMode, DefaultVolumeMode)
	case s.Secret != nil:
		setDefault(&s.Secret.DefaultMode, DefaultVolumeMode)
	case s.DownwardAPI != nil:
		setDefault(&s.DownwardAPI.DefaultMode, DefaultVolumeMode)
		defaultDownwardAPIItems(s.DownwardAPI.Items)
	case s.Projected != nil:
		setDefault(&s.Projected.DefaultMode, DefaultVolumeMode)
		for i := range s.Projected.Sources {
			ps := &s.Projected.Sources[i]
			if ps.DownwardAPI != nil {
				defaultDownwardAPIItems(ps.DownwardAPI.Items)
			}
			if ps.ServiceAccountToken != nil {
				setDefault(&ps.ServiceAccountToken.ExpirationSeconds, DefaultServiceAccountTokenExpirationSeconds)
			}
		}
	case s.HostPath != nil:
		setDefault(&s.HostPath.Type, corev1.HostPathUnset)
	case s.ISCSI != nil:
		if s.ISCSI.ISCSIInterface == "" {
			s.ISCSI.ISCSIInterface = "default"
		}
	case s.RBD != nil:
		defaultRBD(&s.RBD.RBDPool, &s.RBD.RadosUser, &s.RBD.Keyring)
	case s.AzureDisk != nil:
		defaultAzureDisk(s.AzureDisk)
	case s.Ephemeral != nil:
		if t := s.Ephemeral.VolumeClaimTemplate; t != nil {
			defaultPVCSpec(&t.Spec)
		}
	}
}

func defaultDownwardAPIItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if items[i].FieldRef != nil {
			defaultFieldRef(items[i].FieldRef)
		}
	}
}

func defaultRBD(pool, user, keyring *string) {
	if *pool == "" {
		*pool = "rbd"
	}
	if *user == "" {
		*user = "admin"
	}
	if *keyring == "" {
		*keyring = "/etc/ceph/keyring"
	}
}

func defaultAzureDisk(a *corev1.AzureDiskVolumeSource) {
	setDefault(&a.CachingMode, corev1.AzureDataDiskCachingReadWrite)
	setDefault(&a.Kind, corev1.AzureSharedBlobDisk)
	setDefault(&a.FSType, "ext4")
	setDefault(&a.ReadOnly, false)
}

// isZeroVolumeSource reports whether no source is set at all.
func isZeroVolumeSource(s *corev1.VolumeSource) bool {
	return *s == (corev1.VolumeSource{})
}

// defaultServicePortTarget sets a service port's target to the port itself
// when it names none.
func defaultServicePortTarget(p *corev1.ServicePort) {
	if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 ||
		p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == "" {
		p.TargetPort = intstr.FromInt32(p.Port)
	}
}
