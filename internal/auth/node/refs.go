package node

import (
	corev1 "k8s.io/api/core/v1"
)

// allContainers calls fn for every container of p: init, regular and
// ephemeral.
func allContainers(p *corev1.Pod, fn func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource)) {
	for _, c := range p.Spec.InitContainers {
		fn(c.Env, c.EnvFrom)
	}
	for _, c := range p.Spec.Containers {
		fn(c.Env, c.EnvFrom)
	}
	for _, c := range p.Spec.EphemeralContainers {
		fn(c.Env, c.EnvFrom)
	}
}

// secretRefs visits the names of the secrets p references in its own
// namespace: image pull secrets, environment, and volumes.
func secretRefs(p *corev1.Pod, visit func(string)) {
	for _, s := range p.Spec.ImagePullSecrets {
		visit(s.Name)
	}
	allContainers(p, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range envFrom {
			if e.SecretRef != nil {
				visit(e.SecretRef.Name)
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				visit(e.ValueFrom.SecretKeyRef.Name)
			}
		}
	})
	ref := func(r *corev1.LocalObjectReference) {
		if r != nil {
			visit(r.Name)
		}
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.Secret != nil:
			visit(v.Secret.SecretName)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					visit(src.Secret.Name)
				}
			}
		case v.AzureFile != nil:
			visit(v.AzureFile.SecretName)
		case v.CephFS != nil:
			ref(v.CephFS.SecretRef)
		case v.Cinder != nil:
			ref(v.Cinder.SecretRef)
		case v.FlexVolume != nil:
			ref(v.FlexVolume.SecretRef)
		case v.RBD != nil:
			ref(v.RBD.SecretRef)
		case v.ScaleIO != nil:
			ref(v.ScaleIO.SecretRef)
		case v.ISCSI != nil:
			ref(v.ISCSI.SecretRef)
		case v.StorageOS != nil:
			ref(v.StorageOS.SecretRef)
		case v.CSI != nil:
			ref(v.CSI.NodePublishSecretRef)
		}
	}
}

// configMapRefs visits the names of the config maps p references:
// environment and volumes.
func configMapRefs(p *corev1.Pod, visit func(string)) {
	allContainers(p, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range envFrom {
			if e.ConfigMapRef != nil {
				visit(e.ConfigMapRef.Name)
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				visit(e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	})
	for _, v := range p.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			visit(v.ConfigMap.Name)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					visit(src.ConfigMap.Name)
				}
			}
		}
	}
}

// claimRefs visits the names of the claims p uses: persistentVolumeClaim
// volumes and the claims generic ephemeral volumes create (POD-VOLUME).
func claimRefs(p *corev1.Pod, visit func(string)) {
	for _, v := range p.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			visit(v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			visit(p.Name + "-" + v.Name)
		}
	}
}

// volumeSecretRefs visits the secrets (namespace, name) pv references.
// References without a namespace of their own default to the claim's.
func volumeSecretRefs(pv *corev1.PersistentVolume, visit func(namespace, name string)) {
	claimNS := ""
	if pv.Spec.ClaimRef != nil {
		claimNS = pv.Spec.ClaimRef.Namespace
	}
	ref := func(r *corev1.SecretReference) {
		if r == nil {
			return
		}
		ns := r.Namespace
		if ns == "" {
			ns = claimNS
		}
		visit(ns, r.Name)
	}
	src := pv.Spec.PersistentVolumeSource
	switch {
	case src.CSI != nil:
		ref(src.CSI.NodePublishSecretRef)
		ref(src.CSI.NodeStageSecretRef)
		ref(src.CSI.NodeExpandSecretRef)
		ref(src.CSI.ControllerPublishSecretRef)
		ref(src.CSI.ControllerExpandSecretRef)
	case src.AzureFile != nil:
		ns := claimNS
		if src.AzureFile.SecretNamespace != nil && *src.AzureFile.SecretNamespace != "" {
			ns = *src.AzureFile.SecretNamespace
		}
		visit(ns, src.AzureFile.SecretName)
	case src.CephFS != nil:
		ref(src.CephFS.SecretRef)
	case src.Cinder != nil:
		ref(src.Cinder.SecretRef)
	case src.FlexVolume != nil:
		ref(src.FlexVolume.SecretRef)
	case src.RBD != nil:
		ref(src.RBD.SecretRef)
	case src.ScaleIO != nil:
		ref(src.ScaleIO.SecretRef)
	case src.ISCSI != nil:
		ref(src.ISCSI.SecretRef)
	case src.StorageOS != nil && src.StorageOS.SecretRef != nil:
		visit(src.StorageOS.SecretRef.Namespace, src.StorageOS.SecretRef.Name)
	}
}
