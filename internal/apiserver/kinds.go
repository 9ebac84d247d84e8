package apiserver

import (
	"reflect"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/resources/defaults"
)

// prepareKindCreate sets the kind-specific fields the server owns on
// create: status starts empty for kinds with a status subresource, with
// the initial phase upstream gives pods, namespaces and volumes.
func prepareKindCreate(res *resource, obj runtime.Object) {
	if res.info.Has("status") && !(res.info.GVK.Group == "" && res.info.GVK.Kind == "Node") {
		clearField(obj, "Status")
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status.Phase = corev1.PodPending
		o.Status.QOSClass = qosClass(o)
	case *corev1.Namespace:
		o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		o.Status.Phase = corev1.NamespaceActive
	case *corev1.PersistentVolume:
		o.Status.Phase = corev1.VolumePending
	case *corev1.PersistentVolumeClaim:
		o.Status.Phase = corev1.ClaimPending
	case *batchv1.Job:
		// Needs the name and UID prepareCreate has just set.
		defaults.GenerateJobSelector(o)
	}
}

// prepareKindUpdate carries over kind-specific fields on update.
func prepareKindUpdate(res *resource, obj, cur runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		// spec.finalizers change only through the finalize subresource.
		o.Spec.Finalizers = cur.(*corev1.Namespace).Spec.Finalizers
	case *corev1.Service:
		keepAllocations(o, cur.(*corev1.Service))
	case *corev1.Pod:
		// Ephemeral containers change only through their subresource.
		o.Spec.EphemeralContainers = cur.(*corev1.Pod).Spec.EphemeralContainers
	}
}

// qosClass computes a pod's quality of service class as upstream defines
// it: Guaranteed when every container has equal cpu and memory requests
// and limits, BestEffort when none has any, Burstable otherwise.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	any, guaranteed := false, true
	for _, c := range containers {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq && !req.IsZero() || hasLim && !lim.IsZero() {
				any = true
			}
			if !hasLim || lim.IsZero() || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// namespaceHasFinalizers reports whether a namespace still waits for
// spec.finalizers (the namespace controller's cleanup).
func namespaceHasFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// clearField zeroes a top-level struct field (Status) of obj.
func clearField(obj runtime.Object, name string) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if f.IsValid() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyField copies a top-level struct field from src to dst (same type).
func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	if d.IsValid() {
		d.Set(reflect.ValueOf(src).Elem().FieldByName(name))
	}
}

// fieldEqual compares a top-level field of two objects semantically.
func fieldEqual(a, b runtime.Object, name string) bool {
	fa := reflect.ValueOf(a).Elem().FieldByName(name)
	fb := reflect.ValueOf(b).Elem().FieldByName(name)
	if !fa.IsValid() || !fb.IsValid() {
		return true
	}
	return equality.Semantic.DeepEqual(fa.Interface(), fb.Interface())
}

// reflectSet overwrites *dst with *src (same type).
func reflectSet(dst, src runtime.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

// keepAllocations carries a Service's cluster IP and node ports over an
// update that leaves them out (kubectl replace, apply), as upstream does;
// validation then refuses real changes to the immutable cluster IP. A type
// change first drops what the new type has no use for and the client left
// as it was (dropTypeDependent).
func keepAllocations(svc, old *corev1.Service) {
	dropTypeDependent(svc, old)
	if svc.Spec.Type != corev1.ServiceTypeExternalName && old.Spec.Type != corev1.ServiceTypeExternalName {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = old.Spec.IPFamilies
		}
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		}
	}
	if !needsNodePorts(svc) {
		return
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		for _, op := range old.Spec.Ports {
			if p.NodePort == 0 && op.NodePort != 0 && op.Port == p.Port && op.Protocol == p.Protocol {
				p.NodePort = op.NodePort
			}
		}
	}
	if svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// dropTypeDependent clears, on a type change, the fields the new type has
// no use for that the client left unchanged (it may have read them from
// the old object), as upstream's Service registry does: cluster IPs and IP
// families when leaving a type with a cluster IP for ExternalName, node
// ports, the health check node port, allocateLoadBalancerNodePorts,
// loadBalancerClass and externalTrafficPolicy when the new type does not
// take them. A value the client did change is kept, for validation to judge.
func dropTypeDependent(svc, old *corev1.Service) {
	if svc.Spec.Type == old.Spec.Type {
		return
	}
	if old.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.Type == corev1.ServiceTypeExternalName {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if equality.Semantic.DeepEqual(svc.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
		if equality.Semantic.DeepEqual(svc.Spec.InternalTrafficPolicy, old.Spec.InternalTrafficPolicy) {
			svc.Spec.InternalTrafficPolicy = nil
		}
	}
	if needsNodePorts(old) && !needsNodePorts(svc) && sameNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if old.Spec.HealthCheckNodePort != 0 && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort &&
		!(svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal) {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if equality.Semantic.DeepEqual(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if equality.Semantic.DeepEqual(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	externally := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer || len(s.Spec.ExternalIPs) > 0
	}
	if externally(old) && !externally(svc) && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
}

// sameNodePorts reports whether the two Services' ports carry the same
// node ports.
func sameNodePorts(a, b *corev1.Service) bool {
	return slices.EqualFunc(a.Spec.Ports, b.Spec.Ports, func(x, y corev1.ServicePort) bool { return x.NodePort == y.NodePort })
}

// fieldEqualExceptMeta reports whether two objects differ only in metadata
// and status.
func fieldEqualExceptMeta(a, b runtime.Object) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		switch va.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !equality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}
