package fieldsel

import (
	"fmt"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/resources"
)

const (
	metaName      = "metadata.name"
	metaNamespace = "metadata.namespace"
)

// conversion describes which field labels a request for one kind may use:
// upstream's field label conversion function for that kind.
type conversion struct {
	// labels maps every accepted label to its canonical form.
	labels map[string]string
	// reject formats the error for an unaccepted label.
	reject func(label string) string
}

func notSupported(label string) string { return "field label not supported: " + label }

// accept builds a conversion accepting labels as they are, plus aliases.
func accept(reject func(string) string, aliases map[string]string, ls ...string) conversion {
	c := conversion{labels: make(map[string]string, len(ls)+len(aliases)), reject: reject}
	for _, l := range ls {
		c.labels[l] = l
	}
	for from, to := range aliases {
		c.labels[from] = to
	}
	return c
}

// metaOnly is what a kind without a conversion of its own gets: the
// scheme's default, accepting metadata.name and metadata.namespace whatever
// the kind's scope.
var metaOnly = accept(func(label string) string {
	return fmt.Sprintf("%q is not a known field selector: only %q, %q", label, metaName, metaNamespace)
}, nil, metaName, metaNamespace)

var eventLabels = []string{
	"involvedObject.kind",
	"involvedObject.namespace",
	"involvedObject.name",
	"involvedObject.uid",
	"involvedObject.apiVersion",
	"involvedObject.resourceVersion",
	"involvedObject.fieldPath",
	"reason",
	"reportingComponent",
	"source",
	"type",
}

// conversions are the kinds whose API version registers a field label
// conversion upstream. Note what is absent: apps/v1 registers none, so a
// ReplicaSet request may not name status.replicas; Node and Namespace do
// not accept metadata.namespace.
var conversions = map[schema.GroupKind]conversion{
	{Kind: "Pod"}: accept(notSupported, map[string]string{"spec.host": "spec.nodeName"},
		metaName, metaNamespace, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
		"spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
		"status.podIPs", "status.nominatedNodeName"),
	{Kind: "Node"}:                  accept(notSupported, nil, metaName, "spec.unschedulable"),
	{Kind: "ReplicationController"}: accept(notSupported, nil, metaName, metaNamespace, "status.replicas"),
	{Kind: "Event"}:                 accept(notSupported, nil, append([]string{metaName, metaNamespace}, eventLabels...)...),
	{Kind: "Namespace"}:             accept(notSupported, nil, metaName, "status.phase"),
	{Kind: "Secret"}:                accept(notSupported, nil, metaName, metaNamespace, "type"),
	{Kind: "Service"}:               accept(notSupported, nil, metaName, metaNamespace, "spec.clusterIP", "spec.type"),
	{Group: "batch", Kind: "Job"}: accept(func(label string) string {
		return fmt.Sprintf("field label %q not supported for batchv1.Job", label)
	}, nil, metaName, metaNamespace, "status.successful"),
	// events.k8s.io names the core Event fields after its own schema and
	// converts them to the core labels the stored objects carry.
	{Group: "events.k8s.io", Kind: "Event"}: accept(notSupported, map[string]string{
		"regarding.kind":            "involvedObject.kind",
		"regarding.namespace":       "involvedObject.namespace",
		"regarding.name":            "involvedObject.name",
		"regarding.uid":             "involvedObject.uid",
		"regarding.apiVersion":      "involvedObject.apiVersion",
		"regarding.resourceVersion": "involvedObject.resourceVersion",
		"regarding.fieldPath":       "involvedObject.fieldPath",
		"reportingController":       "reportingComponent",
	}, metaName, metaNamespace, "reason", "type"),
}

func conversionFor(gk schema.GroupKind) conversion {
	if c, ok := conversions[gk]; ok {
		return c
	}
	return metaOnly
}

// Supported lists, sorted, every field label a selector for gk may name,
// canonical labels and accepted aliases alike.
func Supported(gk schema.GroupKind) []string {
	c := conversionFor(gk)
	out := make([]string, 0, len(c.labels))
	for l := range c.labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// ConvertSelector checks sel against the field labels gk accepts and
// returns it with every label in canonical form, ready to match the sets
// Fields returns. A label gk does not accept yields a BadRequest error with
// upstream's message. A nil selector is returned as is.
func ConvertSelector(gk schema.GroupKind, sel fields.Selector) (fields.Selector, error) {
	if sel == nil {
		return nil, nil
	}
	c := conversionFor(gk)
	out, err := sel.Transform(func(label, value string) (string, string, error) {
		canonical, ok := c.labels[label]
		if !ok {
			return "", "", fmt.Errorf("%s", c.reject(label))
		}
		return canonical, value, nil
	})
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return out, nil
}

// ValidateSelector reports, as a BadRequest error, the first field label in
// sel that a selector for gk may not name.
func ValidateSelector(gk schema.GroupKind, sel fields.Selector) error {
	_, err := ConvertSelector(gk, sel)
	return err
}

// Labels returns the object's labels as a set; nil for an object without
// metadata.
func Labels(obj runtime.Object) labels.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	return labels.Set(m.GetLabels())
}

// Attrs returns the labels and the selectable fields of obj: the storage
// layer's attribute function for every served kind.
func Attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("fieldsel: %T has no object metadata: %w", obj, err)
	}
	return labels.Set(m.GetLabels()), Fields(obj), nil
}

// namespaced records the scope of every served kind.
var namespaced = func() map[schema.GroupKind]bool {
	out := make(map[schema.GroupKind]bool)
	for _, info := range resources.All() {
		out[info.GVK.GroupKind()] = info.Namespaced
	}
	return out
}()

// Fields returns obj's selectable fields under their canonical labels:
// metadata.name, metadata.namespace for namespaced kinds, and the fields
// particular to the kind. Objects of kinds Skiff does not serve get the
// metadata fields, metadata.namespace when they have a namespace.
func Fields(obj runtime.Object) fields.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	set := fields.Set{metaName: m.GetName()}
	if kindNamespaced(obj, m.GetNamespace()) {
		set[metaNamespace] = m.GetNamespace()
	}

	switch o := obj.(type) {
	case *corev1.Pod:
		podIP := o.Status.PodIP
		if len(o.Status.PodIPs) > 0 {
			podIP = o.Status.PodIPs[0].IP
		}
		set["spec.nodeName"] = o.Spec.NodeName
		set["spec.restartPolicy"] = string(o.Spec.RestartPolicy)
		set["spec.schedulerName"] = o.Spec.SchedulerName
		set["spec.serviceAccountName"] = o.Spec.ServiceAccountName
		set["spec.hostNetwork"] = strconv.FormatBool(o.Spec.HostNetwork)
		set["status.phase"] = string(o.Status.Phase)
		set["status.podIP"] = podIP
		set["status.nominatedNodeName"] = o.Status.NominatedNodeName
	case *corev1.Node:
		set["spec.unschedulable"] = strconv.FormatBool(o.Spec.Unschedulable)
	case *corev1.Namespace:
		set["status.phase"] = string(o.Status.Phase)
		set["name"] = o.Name // upstream keeps this legacy key
	case *corev1.Secret:
		set["type"] = string(o.Type)
	case *corev1.Service:
		set["spec.clusterIP"] = o.Spec.ClusterIP
		set["spec.type"] = string(o.Spec.Type)
	case *corev1.ReplicationController:
		set["status.replicas"] = strconv.Itoa(int(o.Status.Replicas))
	case *corev1.PersistentVolume:
		set["name"] = o.Name // upstream keeps this legacy key
	case *corev1.PersistentVolumeClaim:
		set["name"] = o.Name // upstream keeps this legacy key
	case *corev1.Event:
		eventFields(set, o)
	case *eventsv1.Event:
		eventFields(set, &corev1.Event{
			InvolvedObject:      o.Regarding,
			Reason:              o.Reason,
			Source:              o.DeprecatedSource,
			Type:                o.Type,
			ReportingController: o.ReportingController,
		})
	case *appsv1.ReplicaSet:
		set["status.replicas"] = strconv.Itoa(int(o.Status.Replicas))
	case *batchv1.Job:
		set["status.successful"] = strconv.Itoa(int(o.Status.Succeeded))
	default:
		clusterFields(set, obj)
	}
	return set
}

func eventFields(set fields.Set, e *corev1.Event) {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	ref := e.InvolvedObject
	set["involvedObject.kind"] = ref.Kind
	set["involvedObject.namespace"] = ref.Namespace
	set["involvedObject.name"] = ref.Name
	set["involvedObject.uid"] = string(ref.UID)
	set["involvedObject.apiVersion"] = ref.APIVersion
	set["involvedObject.resourceVersion"] = ref.ResourceVersion
	set["involvedObject.fieldPath"] = ref.FieldPath
	set["reason"] = e.Reason
	set["reportingComponent"] = e.ReportingController
	set["source"] = source
	set["type"] = e.Type
}

// kindNamespaced reports whether obj's kind is namespaced, falling back to
// whether it has a namespace when the kind is not a served one.
func kindNamespaced(obj runtime.Object, ns string) bool {
	if gk, ok := groupKindOf(obj); ok {
		if n, ok := namespaced[gk]; ok {
			return n
		}
	}
	return ns != ""
}

// groupKindOf names obj's kind from its Go type, or from its TypeMeta for
// types the client-go scheme does not know (unstructured objects).
func groupKindOf(obj runtime.Object) (schema.GroupKind, bool) {
	if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
		return gvks[0].GroupKind(), true
	}
	if gvk := obj.GetObjectKind().GroupVersionKind(); gvk.Kind != "" {
		return gvk.GroupKind(), true
	}
	return schema.GroupKind{}, false
}
