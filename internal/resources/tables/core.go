package tables

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	// nodeUnreachablePodReason is the status reason the node lifecycle
	// controller sets on pods of a node that stopped reporting.
	nodeUnreachablePodReason = "NodeLost"

	labelNodeRolePrefix = "node-role.kubernetes.io/"
	labelNodeRole       = "kubernetes.io/role"

	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

	loadBalancerWidth = 16
)

var (
	podSucceededConditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	podFailedConditions    = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodFailed), Message: "The pod failed."}}
)

// podRow computes the pod row. STATUS is the most specific thing known
// about the pod: the phase or status reason, overridden by a scheduling
// gate, by the first init container not done (Init:N/M, Init:<reason>), by
// the last main container's waiting or terminated reason, and finally by
// Terminating (or Unknown for pods of a lost node) while being deleted.
func podRow(pod *corev1.Pod, now time.Time) metav1.TableRow {
	var row metav1.TableRow
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		row.Conditions = podSucceededConditions
	case corev1.PodFailed:
		row.Conditions = podFailedConditions
	}

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	total := len(pod.Spec.Containers)
	sidecars := make(map[string]bool)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}

	var (
		ready, restarts, sidecarRestarts int
		lastRestart, lastSidecarRestart  time.Time
		initializing                     bool
	)
	later := func(cur time.Time, st corev1.ContainerStatus) time.Time {
		if t := st.LastTerminationState.Terminated; t != nil && cur.Before(t.FinishedAt.Time) {
			return t.FinishedAt.Time
		}
		return cur
	}
	for i, st := range pod.Status.InitContainerStatuses {
		restarts += int(st.RestartCount)
		lastRestart = later(lastRestart, st)
		if sidecars[st.Name] {
			sidecarRestarts += int(st.RestartCount)
			lastSidecarRestart = later(lastSidecarRestart, st)
		}
		term, wait := st.State.Terminated, st.State.Waiting
		if term != nil && term.ExitCode == 0 {
			continue
		}
		if sidecars[st.Name] && st.Started != nil && *st.Started {
			if st.Ready {
				ready++
			}
			continue
		}
		switch {
		case term != nil && term.Reason != "":
			reason = "Init:" + term.Reason
		case term != nil && term.Signal != 0:
			reason = fmt.Sprintf("Init:Signal:%d", term.Signal)
		case term != nil:
			reason = fmt.Sprintf("Init:ExitCode:%d", term.ExitCode)
		case wait != nil && wait.Reason != "" && wait.Reason != "PodInitializing":
			reason = "Init:" + wait.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podCondition(pod, corev1.PodInitialized) {
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			st := pod.Status.ContainerStatuses[i]
			restarts += int(st.RestartCount)
			lastRestart = later(lastRestart, st)
			term, wait := st.State.Terminated, st.State.Waiting
			switch {
			case wait != nil && wait.Reason != "":
				reason = wait.Reason
			case term != nil && term.Reason != "":
				reason = term.Reason
			case term != nil && term.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", term.Signal)
			case term != nil:
				reason = fmt.Sprintf("ExitCode:%d", term.ExitCode)
			case st.Ready && st.State.Running != nil:
				running = true
				ready++
			}
		}
		// A pod whose last container completed but which still has a
		// running one is not Completed.
		if reason == "Completed" && running {
			if podCondition(pod, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		switch {
		case pod.Status.Reason == nodeUnreachablePodReason:
			reason = "Unknown"
		case !terminal:
			reason = "Terminating"
		}
	}

	restartCell := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartCell = fmt.Sprintf("%d (%s ago)", restarts, since(metav1.NewTime(lastRestart), now))
	}

	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		trueGates := 0
		for _, g := range pod.Spec.ReadinessGates {
			if podCondition(pod, g.ConditionType) {
				trueGates++
			}
		}
		gates = fmt.Sprintf("%d/%d", trueGates, n)
	}

	row.Cells = []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", ready, total),
		reason,
		restartCell,
		since(pod.CreationTimestamp, now),
		orNone(podIP),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		gates,
	}
	return row
}

// podCondition reports whether the pod's first condition of type t is True.
func podCondition(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podTemplateCells(o *corev1.PodTemplate) []interface{} {
	names, images := containerCells(o.Template.Spec.Containers)
	return []interface{}{o.Name, names, images, labels.FormatLabels(o.Template.Labels)}
}

func replicationControllerCells(o *corev1.ReplicationController, now time.Time) []interface{} {
	var desired int64
	if o.Spec.Replicas != nil {
		desired = int64(*o.Spec.Replicas)
	}
	var containers []corev1.Container
	if o.Spec.Template != nil {
		containers = o.Spec.Template.Spec.Containers
	}
	names, images := containerCells(containers)
	return []interface{}{
		o.Name, desired, int64(o.Status.Replicas), int64(o.Status.ReadyReplicas), since(o.CreationTimestamp, now),
		names, images, labels.FormatLabels(o.Spec.Selector),
	}
}

func serviceCells(o *corev1.Service, now time.Time) []interface{} {
	clusterIP := "<none>"
	switch {
	case len(o.Spec.ClusterIPs) > 0:
		clusterIP = o.Spec.ClusterIPs[0]
	case o.Spec.ClusterIP != "":
		clusterIP = o.Spec.ClusterIP
	}
	ports := make([]string, len(o.Spec.Ports))
	for i, p := range o.Spec.Ports {
		if p.NodePort > 0 {
			ports[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			ports[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	portCell := strings.Join(ports, ",")
	if portCell == "" {
		portCell = "<none>"
	}
	return []interface{}{
		o.Name, string(o.Spec.Type), clusterIP, serviceExternalIP(o), portCell, since(o.CreationTimestamp, now),
		labels.FormatLabels(o.Spec.Selector),
	}
}

// serviceExternalIP renders EXTERNAL-IP: the external IPs, and for load
// balancers the ingress points too (<pending> until there are any).
func serviceExternalIP(o *corev1.Service) string {
	switch o.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(o.Spec.ExternalIPs) > 0 {
			return strings.Join(o.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range o.Status.LoadBalancer.Ingress {
			ips = append(ips, orElse(in.IP, in.Hostname))
		}
		lb := sortedUnique(ips)
		if len(o.Spec.ExternalIPs) > 0 {
			return strings.Join(append(lb, o.Spec.ExternalIPs...), ",")
		}
		if len(lb) > 0 {
			return strings.Join(lb, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return o.Spec.ExternalName
	}
	return "<unknown>"
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sortedUnique sorts ss, dropping empty strings and duplicates.
func sortedUnique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// formatEndpoints lists up to three ip:port pairs (bare IPs for port-less
// subsets) and how many more there are.
func formatEndpoints(o *corev1.Endpoints) string {
	if len(o.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < max {
			list = append(list, s)
		}
		count++
	}
	for _, ss := range o.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", s, count-max)
	}
	return s
}

func nodeCells(o *corev1.Node, now time.Time) []interface{} {
	var status []string
	for _, c := range o.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			status = []string{string(c.Type)}
		} else {
			status = []string{"Not" + string(c.Type)}
		}
	}
	if len(status) == 0 {
		status = []string{"Unknown"}
	}
	if o.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	var roles []string
	for k, v := range o.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if r := strings.TrimPrefix(k, labelNodeRolePrefix); r != "" {
				roles = append(roles, r)
			}
		case k == labelNodeRole && v != "":
			roles = append(roles, v)
		}
	}
	roleCell := strings.Join(sortedUnique(roles), ",")
	if roleCell == "" {
		roleCell = "<none>"
	}

	info := o.Status.NodeInfo
	return []interface{}{
		o.Name, strings.Join(status, ","), roleCell, since(o.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(o, corev1.NodeInternalIP), nodeAddress(o, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
	}
}

func nodeAddress(o *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range o.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// eventCells renders a core Event. Events written through events.k8s.io
// have no first/last timestamps or count: the event time and the series
// stand in for them, and a singleton counts once.
func eventCells(o *corev1.Event, now time.Time) []interface{} {
	first := since(o.FirstTimestamp, now)
	if o.FirstTimestamp.IsZero() {
		first = sinceMicro(o.EventTime, now)
	}
	last := since(o.LastTimestamp, now)
	if o.LastTimestamp.IsZero() {
		last = first
	}
	count := o.Count
	if o.Series != nil {
		last = sinceMicro(o.Series.LastObservedTime, now)
		count = o.Series.Count
	} else if count == 0 {
		count = 1
	}

	target := strings.ToLower(o.InvolvedObject.Kind)
	if o.InvolvedObject.Name != "" {
		target += "/" + o.InvolvedObject.Name
	}
	source := orElse(o.Source.Component, o.ReportingController)
	if host := orElse(o.Source.Host, o.ReportingInstance); host != "" {
		source += ", " + host
	}
	return []interface{}{
		last, o.Type, o.Reason, target, o.InvolvedObject.FieldPath, source,
		strings.TrimSpace(o.Message), first, int64(count), o.Name,
	}
}

// coreEvent maps an events.k8s.io Event onto the core Event it is stored as.
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Related:             e.Related,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

// accessModes renders access modes in upstream's fixed order.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := make(map[corev1.PersistentVolumeAccessMode]bool, len(modes))
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func persistentVolumeCells(o *corev1.PersistentVolume, now time.Time) []interface{} {
	claim := ""
	if o.Spec.ClaimRef != nil {
		claim = o.Spec.ClaimRef.Namespace + "/" + o.Spec.ClaimRef.Name
	}
	size := o.Spec.Capacity[corev1.ResourceStorage]
	phase := string(o.Status.Phase)
	if o.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class, ok := o.Annotations[betaStorageClassAnnotation]
	if !ok {
		class = o.Spec.StorageClassName
	}
	vac := "<unset>"
	if o.Spec.VolumeAttributesClassName != nil {
		vac = *o.Spec.VolumeAttributesClassName
	}
	mode := "<unset>"
	if o.Spec.VolumeMode != nil {
		mode = string(*o.Spec.VolumeMode)
	}
	return []interface{}{
		o.Name, size.String(), accessModes(o.Spec.AccessModes), string(o.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, class, vac, o.Status.Reason, since(o.CreationTimestamp, now), mode,
	}
}

func persistentVolumeClaimCells(o *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
	phase := string(o.Status.Phase)
	if o.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if o.Spec.VolumeName != "" {
		q := o.Status.Capacity[corev1.ResourceStorage]
		capacity, modes = q.String(), accessModes(o.Status.AccessModes)
	}
	class, ok := o.Annotations[betaStorageClassAnnotation]
	if !ok && o.Spec.StorageClassName != nil {
		class = *o.Spec.StorageClassName
	}
	vac := "<unset>"
	if o.Spec.VolumeAttributesClassName != nil {
		vac = *o.Spec.VolumeAttributesClassName
	}
	mode := "<unset>"
	if o.Spec.VolumeMode != nil {
		mode = string(*o.Spec.VolumeMode)
	}
	return []interface{}{
		o.Name, phase, o.Spec.VolumeName, capacity, modes, class, vac, since(o.CreationTimestamp, now), mode,
	}
}

// resourceQuotaCells lists used/hard per resource, sorted by name, limits.*
// in LIMIT and everything else in REQUEST.
func resourceQuotaCells(o *corev1.ResourceQuota, now time.Time) []interface{} {
	names := make([]string, 0, len(o.Status.Hard))
	for n := range o.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, n := range names {
		used, hard := o.Status.Used[corev1.ResourceName(n)], o.Status.Hard[corev1.ResourceName(n)]
		s := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if pieces := strings.Split(n, "."); len(pieces) > 1 && pieces[0] == "limits" {
			limits = append(limits, s)
		} else {
			requests = append(requests, s)
		}
	}
	return []interface{}{o.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), since(o.CreationTimestamp, now)}
}
