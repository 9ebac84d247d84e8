package tables

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	defaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func ingressCells(o *networkingv1.Ingress, now time.Time) []interface{} {
	class := "<none>"
	if o.Spec.IngressClassName != nil {
		class = *o.Spec.IngressClassName
	}

	const max = 3
	var hosts []string
	more := false // a rule follows once three hosts are listed
	for _, r := range o.Spec.Rules {
		if len(hosts) == max {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	hostCell := "*"
	if len(hosts) > 0 {
		hostCell = strings.Join(hosts, ",")
		if more {
			hostCell = fmt.Sprintf("%s + %d more...", hostCell, len(o.Spec.Rules)-max)
		}
	}

	var addrs []string
	for _, in := range o.Status.LoadBalancer.Ingress {
		addrs = append(addrs, orElse(in.IP, in.Hostname))
	}
	ports := "80"
	if len(o.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []interface{}{o.Name, class, hostCell, strings.Join(sortedUnique(addrs), ","), ports, since(o.CreationTimestamp, now)}
}

func ingressClassCells(o *networkingv1.IngressClass, now time.Time) []interface{} {
	params := "<none>"
	if p := o.Spec.Parameters; p != nil {
		params = p.Kind
		if p.APIGroup != nil {
			params += "." + *p.APIGroup
		}
		params += "/" + p.Name
	}
	return []interface{}{o.Name, o.Spec.Controller, params, since(o.CreationTimestamp, now)}
}

func formatSlicePorts(ports []discoveryv1.EndpointPort) string {
	const max = 3
	var list []string
	for _, p := range ports {
		if len(list) == max {
			break
		}
		s := "*"
		switch {
		case p.Port != nil:
			s = strconv.Itoa(int(*p.Port))
		case p.Name != nil:
			s = *p.Name
		}
		list = append(list, s)
	}
	return moreList(list, len(ports), max)
}

func formatSliceEndpoints(endpoints []discoveryv1.Endpoint) string {
	const max = 3
	var list []string
	count := 0
	for _, e := range endpoints {
		for _, a := range e.Addresses {
			if len(list) < max {
				list = append(list, a)
			}
			count++
		}
	}
	return moreList(list, count, max)
}

// bindingCells renders a (cluster) role binding; subjects are split by kind,
// service accounts as namespace/name.
func bindingCells(m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, now time.Time) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		}
	}
	return []interface{}{
		m.Name, ref.Kind + "/" + ref.Name, since(m.CreationTimestamp, now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", "),
	}
}

func priorityClassCells(o *schedulingv1.PriorityClass, now time.Time) []interface{} {
	policy := ""
	if o.PreemptionPolicy != nil {
		policy = string(*o.PreemptionPolicy)
	}
	return []interface{}{o.Name, int64(o.Value), o.GlobalDefault, since(o.CreationTimestamp, now), policy}
}

func storageClassCells(o *storagev1.StorageClass, now time.Time) []interface{} {
	name := o.Name
	if o.Annotations[defaultStorageClassAnnotation] == "true" || o.Annotations[betaDefaultStorageClassAnnotation] == "true" {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if o.ReclaimPolicy != nil {
		reclaim = string(*o.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if o.VolumeBindingMode != nil {
		binding = string(*o.VolumeBindingMode)
	}
	expand := false
	if o.AllowVolumeExpansion != nil {
		expand = *o.AllowVolumeExpansion
	}
	return []interface{}{name, o.Provisioner, reclaim, binding, expand, since(o.CreationTimestamp, now)}
}
