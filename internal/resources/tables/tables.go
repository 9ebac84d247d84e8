package tables

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Columns returns the table columns the API server sends for objects of the
// given kind. Kinds without a dedicated printer (Role, ClusterRole,
// LimitRange, unknown kinds) get the default Name and Created At columns.
// The returned slice is new on every call; the caller may modify it.
func Columns(gk schema.GroupKind) []metav1.TableColumnDefinition {
	if f, ok := columnSets[gk]; ok {
		return f()
	}
	return defaultColumns()
}

// Cells returns the cells of obj's row, in the order of the columns Columns
// returns for obj's kind. Ages are computed against now.
func Cells(obj runtime.Object, now time.Time) ([]interface{}, error) {
	row, err := Row(obj, now)
	if err != nil {
		return nil, err
	}
	return row.Cells, nil
}

// Row returns obj's table row: its cells and, for finished pods, the row
// conditions upstream attaches. Row.Object is left empty; the caller fills
// it according to the request's includeObject policy.
func Row(obj runtime.Object, now time.Time) (metav1.TableRow, error) {
	cells := func(c ...interface{}) (metav1.TableRow, error) {
		return metav1.TableRow{Cells: c}, nil
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return podRow(o, now), nil
	case *corev1.PodTemplate:
		return cells(podTemplateCells(o)...)
	case *corev1.ReplicationController:
		return cells(replicationControllerCells(o, now)...)
	case *corev1.Service:
		return cells(serviceCells(o, now)...)
	case *corev1.Endpoints:
		return cells(o.Name, formatEndpoints(o), since(o.CreationTimestamp, now))
	case *corev1.Node:
		return cells(nodeCells(o, now)...)
	case *corev1.Event:
		return cells(eventCells(o, now)...)
	case *eventsv1.Event:
		return cells(eventCells(coreEvent(o), now)...)
	case *corev1.Namespace:
		return cells(o.Name, string(o.Status.Phase), since(o.CreationTimestamp, now))
	case *corev1.Secret:
		return cells(o.Name, string(o.Type), int64(len(o.Data)), since(o.CreationTimestamp, now))
	case *corev1.ServiceAccount:
		return cells(o.Name, int64(len(o.Secrets)), since(o.CreationTimestamp, now))
	case *corev1.PersistentVolume:
		return cells(persistentVolumeCells(o, now)...)
	case *corev1.PersistentVolumeClaim:
		return cells(persistentVolumeClaimCells(o, now)...)
	case *corev1.ConfigMap:
		return cells(o.Name, int64(len(o.Data)+len(o.BinaryData)), since(o.CreationTimestamp, now))
	case *corev1.ResourceQuota:
		return cells(resourceQuotaCells(o, now)...)

	case *appsv1.ReplicaSet:
		return cells(replicaSetCells(o, now)...)
	case *appsv1.DaemonSet:
		return cells(daemonSetCells(o, now)...)
	case *appsv1.Deployment:
		return cells(deploymentCells(o, now)...)
	case *appsv1.StatefulSet:
		return cells(statefulSetCells(o, now)...)
	case *appsv1.ControllerRevision:
		c, err := controllerRevisionCells(o, now)
		if err != nil {
			return metav1.TableRow{}, err
		}
		return cells(c...)

	case *batchv1.Job:
		return cells(jobCells(o, now)...)
	case *batchv1.CronJob:
		return cells(cronJobCells(o, now)...)

	case *autoscalingv2.HorizontalPodAutoscaler:
		return cells(hpaCells(o, now)...)
	case *autoscalingv1.HorizontalPodAutoscaler:
		return cells(hpaCells(hpaV2(o), now)...)

	case *policyv1.PodDisruptionBudget:
		return cells(pdbCells(o, now)...)

	case *networkingv1.Ingress:
		return cells(ingressCells(o, now)...)
	case *networkingv1.IngressClass:
		return cells(ingressClassCells(o, now)...)
	case *networkingv1.NetworkPolicy:
		return cells(o.Name, metav1.FormatLabelSelector(&o.Spec.PodSelector), since(o.CreationTimestamp, now))

	case *discoveryv1.EndpointSlice:
		return cells(o.Name, string(o.AddressType), formatSlicePorts(o.Ports), formatSliceEndpoints(o.Endpoints), since(o.CreationTimestamp, now))

	case *coordinationv1.Lease:
		holder := ""
		if o.Spec.HolderIdentity != nil {
			holder = *o.Spec.HolderIdentity
		}
		return cells(o.Name, holder, since(o.CreationTimestamp, now))

	case *rbacv1.RoleBinding:
		return cells(bindingCells(o.ObjectMeta, o.RoleRef, o.Subjects, now)...)
	case *rbacv1.ClusterRoleBinding:
		return cells(bindingCells(o.ObjectMeta, o.RoleRef, o.Subjects, now)...)

	case *schedulingv1.PriorityClass:
		return cells(priorityClassCells(o, now)...)
	case *certificatesv1.CertificateSigningRequest:
		return cells(csrCells(o, now)...)

	case *storagev1.StorageClass:
		return cells(storageClassCells(o, now)...)
	}
	if c, ok := clusterRow(obj, now); ok {
		return cells(c...)
	}
	return defaultRow(obj)
}

// Table builds a whole table for objs, all of kind gk: the columns (unless
// noHeaders) and one row per object. Row objects are left empty.
func Table(gk schema.GroupKind, objs []runtime.Object, now time.Time, noHeaders bool) (*metav1.Table, error) {
	t := &metav1.Table{Rows: make([]metav1.TableRow, 0, len(objs))}
	if !noHeaders {
		t.ColumnDefinitions = Columns(gk)
	}
	for _, obj := range objs {
		row, err := Row(obj, now)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// defaultRow renders the default table's cells: the name and the creation
// time in RFC 3339, UTC.
func defaultRow(obj runtime.Object) (metav1.TableRow, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return metav1.TableRow{}, fmt.Errorf("tables: %T has no object metadata: %w", obj, err)
	}
	return metav1.TableRow{Cells: []interface{}{
		m.GetName(),
		m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339),
	}}, nil
}

// since renders the age of t at now the way kubectl shows ages.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// sinceMicro is since for MicroTime stamps.
func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells joins the names and the images of containers with commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// boolPtr renders an optional bool as True, False or <unset>.
func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	default:
		return "False"
	}
}

// moreList joins up to max items and appends " + N more..." for the rest;
// an empty list reads "<unset>".
func moreList(list []string, total, max int) string {
	s := strings.Join(list, ",")
	if total > max {
		return fmt.Sprintf("%s + %d more...", s, total-max)
	}
	if s == "" {
		return "<unset>"
	}
	return s
}
