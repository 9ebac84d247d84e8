package admission

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names and paths of the service account token mount, as upstream.
const (
	DefaultServiceAccountName = "default"
	TokenVolumePrefix         = "kube-api-access-"
	TokenMountPath            = "/var/run/secrets/kubernetes.io/serviceaccount"
	// TokenExpirationSeconds is upstream's bound token lifetime for the
	// projected volume (1h + 7s, which marks it as "warn only" when stale).
	TokenExpirationSeconds = 3607
	RootCAConfigMap        = "kube-root-ca.crt"
	// MirrorPodAnnotation marks a static pod's API mirror.
	MirrorPodAnnotation = "kubernetes.io/config.mirror"
)

// ServiceAccount gives every new pod a service account ("default" unless
// named), refuses pods whose account does not exist, mounts the projected
// API access volume into every container unless automounting is turned off
// on the pod or the account, and copies the account's image pull secrets.
// Mirror pods are never modified and may not reference accounts, secrets
// or token projections.
//
// Without ServiceAccounts the account is defaulted and mounted but its
// existence (and automount setting) is not checked.
type ServiceAccount struct {
	ServiceAccounts ServiceAccountGetter
	// RandSuffix generates the 5-character volume name suffix.
	RandSuffix func(n int) string
}

var (
	_ Mutator   = (*ServiceAccount)(nil)
	_ Validator = (*ServiceAccount)(nil)
)

func (*ServiceAccount) Name() string { return "ServiceAccount" }

func (p *ServiceAccount) Admit(ctx context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "pods", "") {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	if isMirrorPod(pod) {
		return p.Validate(ctx, req)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	sa, err := p.lookup(ctx, req, pod)
	if err != nil {
		return err
	}
	if automount(sa, pod) {
		p.mountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && sa != nil {
		for _, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s.Name})
		}
	}
	return p.Validate(ctx, req)
}

func (p *ServiceAccount) Validate(ctx context.Context, req *Request) error {
	if req.Operation != Create || !req.is("", "pods", "") {
		return nil
	}
	pod, ok := req.Object.(*corev1.Pod)
	if !ok {
		return unexpectedType(req.Object)
	}
	if isMirrorPod(pod) {
		return checkMirrorPod(req, pod)
	}
	if pod.Spec.ServiceAccountName == "" {
		return forbidden(req, fmt.Errorf("no service account specified for pod %s/%s", req.Attributes.Namespace, pod.Name))
	}
	_, err := p.lookup(ctx, req, pod)
	return err
}

// lookup returns the pod's service account, nil without a getter.
func (p *ServiceAccount) lookup(ctx context.Context, req *Request, pod *corev1.Pod) (*corev1.ServiceAccount, error) {
	if p.ServiceAccounts == nil {
		return nil, nil
	}
	sa, err := p.ServiceAccounts.GetServiceAccount(ctx, req.Attributes.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return nil, forbidden(req, fmt.Errorf("error looking up service account %s/%s: %v", req.Attributes.Namespace, pod.Spec.ServiceAccountName, err))
	}
	return sa, nil
}

func isMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[MirrorPodAnnotation]
	return ok
}

func checkMirrorPod(req *Request, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return forbidden(req, fmt.Errorf("a mirror pod may not reference service accounts"))
	}
	if podUsesSecrets(pod) {
		return forbidden(req, fmt.Errorf("a mirror pod may not reference secrets"))
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return forbidden(req, fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
			}
		}
	}
	return nil
}

// automount applies the pod's choice, else the account's, else true.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken mounts the API access volume in every container and init
// container that has nothing at TokenMountPath yet, adding the volume when
// some container needs it and the pod has none.
func (p *ServiceAccount) mountToken(pod *corev1.Pod) {
	volName := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, TokenVolumePrefix) {
			volName = v.Name
			break
		}
	}
	hasVolume := volName != ""
	if !hasVolume {
		rs := p.RandSuffix
		if rs == nil {
			rs = randSuffix
		}
		volName = TokenVolumePrefix + rs(5)
	}
	mount := corev1.VolumeMount{Name: volName, ReadOnly: true, MountPath: TokenMountPath}
	needed := false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !mountsPath(&cs[i], TokenMountPath) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if needed && !hasVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name:         volName,
			VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()},
		})
	}
}

func mountsPath(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// TokenVolumeSource is the projected volume holding a bound token, the
// cluster CA bundle and the pod's namespace.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	mode := corev1.ProjectedVolumeSourceDefaultMode
	exp := int64(TokenExpirationSeconds)
	return &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: RootCAConfigMap},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{
				Items: []corev1.DownwardAPIVolumeFile{{
					Path:     "namespace",
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
				}},
			}},
		},
	}
}

// podUsesSecrets reports whether the pod references any Secret: volumes,
// projections, env, envFrom, image pull secrets.
func podUsesSecrets(pod *corev1.Pod) bool {
	if len(pod.Spec.ImagePullSecrets) > 0 {
		return true
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			return true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					return true
				}
			}
		case v.CSI != nil && v.CSI.NodePublishSecretRef != nil,
			v.CephFS != nil && v.CephFS.SecretRef != nil,
			v.RBD != nil && v.RBD.SecretRef != nil,
			v.ISCSI != nil && v.ISCSI.SecretRef != nil,
			v.FlexVolume != nil && v.FlexVolume.SecretRef != nil,
			v.AzureFile != nil,
			v.ScaleIO != nil,
			v.StorageOS != nil && v.StorageOS.SecretRef != nil,
			v.Cinder != nil && v.Cinder.SecretRef != nil:
			return true
		}
	}
	return anyContainerEnv(pod, func(e corev1.EnvVar) bool {
		return e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
	}, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil })
}

// podUsesConfigMaps reports whether the pod references any ConfigMap.
func podUsesConfigMaps(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil {
			return true
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					return true
				}
			}
		}
	}
	return anyContainerEnv(pod, func(e corev1.EnvVar) bool {
		return e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil
	}, func(e corev1.EnvFromSource) bool { return e.ConfigMapRef != nil })
}

func anyContainerEnv(pod *corev1.Pod, env func(corev1.EnvVar) bool, envFrom func(corev1.EnvFromSource) bool) bool {
	check := func(envs []corev1.EnvVar, froms []corev1.EnvFromSource) bool {
		for _, e := range envs {
			if env(e) {
				return true
			}
		}
		for _, e := range froms {
			if envFrom(e) {
				return true
			}
		}
		return false
	}
	for _, c := range pod.Spec.InitContainers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	return false
}
