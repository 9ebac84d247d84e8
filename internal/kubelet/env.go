package kubelet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// containerEnv resolves c's environment in upstream's order: the service
// variables, then envFrom sources, then env entries (later ones win;
// $(VAR) references see earlier ones). podIPs are the pod's addresses
// (status.podIP and status.podIPs), which its status may not have yet.
func (k *Kubelet) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	svcVars, err := k.serviceEnv(ctx, pod)
	if err != nil {
		return nil, err
	}
	for _, e := range svcVars {
		set(e.Name, e.Value)
	}
	for _, src := range c.EnvFrom {
		var data map[string]string
		switch {
		case src.ConfigMapRef != nil:
			cm, err := k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, src.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && src.ConfigMapRef.Optional != nil && *src.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", src.ConfigMapRef.Name)
			}
			data = cm.Data
		case src.SecretRef != nil:
			s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, src.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && src.SecretRef.Optional != nil && *src.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", src.SecretRef.Name)
			}
			data = map[string]string{}
			for key, v := range s.Data {
				data[key] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for key := range data {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			set(src.Prefix+key, data[key])
		}
	}
	vars := map[string]string{}
	for _, e := range out {
		vars[e.Name] = e.Value
	}
	for _, e := range c.Env {
		value := expandVars(e.Value, vars)
		if vf := e.ValueFrom; vf != nil {
			v, skip, err := k.envValueFrom(ctx, pod, c, vf, podIPs)
			if err != nil {
				return nil, err
			}
			if skip {
				continue
			}
			value = v
		}
		set(e.Name, value)
		vars[e.Name] = value
	}
	return out, nil
}

// envValueFrom resolves one valueFrom; skip is true for a missing optional
// key.
func (k *Kubelet) envValueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, podIPs []string) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		switch vf.FieldRef.FieldPath {
		case "status.podIP":
			if len(podIPs) == 0 {
				return "", false, nil
			}
			return podIPs[0], false, nil
		case "status.podIPs":
			return strings.Join(podIPs, ","), false, nil
		}
		v, err := podFieldValue(pod, vf.FieldRef.FieldPath, k.cfg.NodeIP.String())
		return v, false, err
	case vf.ResourceFieldRef != nil:
		v, err := resourceFieldValue(pod, c, vf.ResourceFieldRef, k.allocatable())
		return v, false, err
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		// Only data: upstream does not read binaryData into variables.
		if v, ok := cm.Data[ref.Key]; ok {
			return v, false, nil
		}
		if optional {
			return "", true, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), false, nil
		}
		if optional {
			return "", true, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
	}
	return "", false, nil
}

// podFieldValue resolves a downward API field path.
func podFieldValue(pod *corev1.Pod, path, hostIP string) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript parses `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// formatMap renders labels or annotations as the downward API does:
// key="value" lines, sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resourceFieldValue resolves limits.cpu, requests.memory and friends for
// a container, in units of the divisor (rounded up). An unset CPU, memory
// or ephemeral-storage limit is the node's allocatable, as upstream.
func resourceFieldValue(pod *corev1.Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector, allocatable corev1.ResourceList) (string, error) {
	if ref.ContainerName != "" {
		if found := findContainer(pod, ref.ContainerName); found != nil {
			c = found
		}
	}
	if c == nil {
		return "", fmt.Errorf("no container for resource field %q", ref.Resource)
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	var q resource.Quantity
	var has bool
	switch kind {
	case "limits":
		q, has = c.Resources.Limits[corev1.ResourceName(name)]
	case "requests":
		q, has = c.Resources.Requests[corev1.ResourceName(name)]
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if (!has || q.IsZero()) && kind == "limits" {
		q = allocatable[corev1.ResourceName(name)]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// serviceEnv returns the Docker-link-style variables of the Services the
// pod sees: those of its namespace (unless enableServiceLinks is false)
// and always the API server's "kubernetes" Service of "default".
func (k *Kubelet) serviceEnv(ctx context.Context, pod *corev1.Pod) ([]corev1.EnvVar, error) {
	var svcs []corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := k.client.CoreV1().Services(pod.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.Everything().String()})
		if err != nil {
			k.log.Warn("listing services for environment variables", "namespace", pod.Namespace, "err", err)
			return nil, errors.New("failed to list services when setting up env vars")
		}
		svcs = append(svcs, list.Items...)
	}
	if pod.Namespace != metav1.NamespaceDefault || (pod.Spec.EnableServiceLinks != nil && !*pod.Spec.EnableServiceLinks) {
		if s, err := k.client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
			svcs = append(svcs, *s)
		}
	}
	// Stable: a "kubernetes" Service of the pod's own namespace, listed
	// first, wins over the API server's, as upstream.
	sort.SliceStable(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	var out []corev1.EnvVar
	seen := map[string]bool{}
	for _, s := range svcs {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 || seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		add := func(name, value string) { out = append(out, corev1.EnvVar{Name: name, Value: value}) }
		add(prefix+"_SERVICE_HOST", ip)
		first := s.Spec.Ports[0]
		add(prefix+"_SERVICE_PORT", strconv.Itoa(int(first.Port)))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				add(prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
			}
		}
		proto := strings.ToLower(string(first.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		add(prefix+"_PORT", fmt.Sprintf("%s://%s:%d", proto, hostPort(ip), first.Port))
		for _, p := range s.Spec.Ports {
			pr := string(p.Protocol)
			if pr == "" {
				pr = "TCP"
			}
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(pr))
			add(base, fmt.Sprintf("%s://%s:%d", strings.ToLower(pr), hostPort(ip), p.Port))
			add(base+"_PROTO", strings.ToLower(pr))
			add(base+"_PORT", strconv.Itoa(int(p.Port)))
			add(base+"_ADDR", ip)
		}
	}
	return out, nil
}

// hostPort brackets IPv6 addresses for a URL.
func hostPort(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}
