package tables

import (
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// This file holds the printers of the cluster-infrastructure kinds:
// storage.k8s.io CSI objects, node.k8s.io, resource.k8s.io (DRA),
// flowcontrol, the networking.k8s.io allocation kinds, ClusterTrustBundle,
// StorageVersionMigration and ComponentStatus.

func init() {
	for k, f := range map[schema.GroupKind]func() []metav1.TableColumnDefinition{
		gk("", "ComponentStatus"):                                        componentStatusColumns,
		gk("storage.k8s.io", "CSINode"):                                  csiNodeColumns,
		gk("storage.k8s.io", "CSIDriver"):                                csiDriverColumns,
		gk("storage.k8s.io", "CSIStorageCapacity"):                       csiStorageCapacityColumns,
		gk("storage.k8s.io", "VolumeAttachment"):                         volumeAttachmentColumns,
		gk("storage.k8s.io", "VolumeAttributesClass"):                    volumeAttributesClassColumns,
		gk("node.k8s.io", "RuntimeClass"):                                runtimeClassColumns,
		gk("resource.k8s.io", "DeviceClass"):                             nameAgeColumns,
		gk("resource.k8s.io", "DeviceTaintRule"):                         deviceTaintRuleColumns,
		gk("resource.k8s.io", "ResourceClaim"):                           resourceClaimColumns,
		gk("resource.k8s.io", "ResourceClaimTemplate"):                   nameAgeColumns,
		gk("resource.k8s.io", "ResourceSlice"):                           resourceSliceColumns,
		gk("flowcontrol.apiserver.k8s.io", "FlowSchema"):                 flowSchemaColumns,
		gk("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): priorityLevelColumns,
		gk("networking.k8s.io", "ServiceCIDR"):                           serviceCIDRColumns,
		gk("networking.k8s.io", "IPAddress"):                             ipAddressColumns,
		gk("certificates.k8s.io", "ClusterTrustBundle"):                  clusterTrustBundleColumns,
		gk("storagemigration.k8s.io", "StorageVersionMigration"):         storageVersionMigrationColumns,
	} {
		columnSets[k] = f
	}
}

// clusterRow renders the kinds of this file; ok is false for any other.
func clusterRow(obj runtime.Object, now time.Time) (cells []interface{}, ok bool) {
	switch o := obj.(type) {
	case *corev1.ComponentStatus:
		return componentStatusCells(o), true
	case *storagev1.CSINode:
		return []interface{}{o.Name, int64(len(o.Spec.Drivers)), since(o.CreationTimestamp, now)}, true
	case *storagev1.CSIDriver:
		return csiDriverCells(o, now), true
	case *storagev1.CSIStorageCapacity:
		capacity := "<unset>"
		if o.Capacity != nil {
			capacity = o.Capacity.String()
		}
		return []interface{}{o.Name, o.StorageClassName, capacity}, true
	case *storagev1.VolumeAttachment:
		pv := ""
		if o.Spec.Source.PersistentVolumeName != nil {
			pv = *o.Spec.Source.PersistentVolumeName
		}
		return []interface{}{o.Name, o.Spec.Attacher, pv, o.Spec.NodeName, o.Status.Attached, since(o.CreationTimestamp, now)}, true
	case *storagev1.VolumeAttributesClass:
		return []interface{}{o.Name, o.DriverName, since(o.CreationTimestamp, now)}, true
	case *nodev1.RuntimeClass:
		return []interface{}{o.Name, o.Handler, since(o.CreationTimestamp, now)}, true
	case *resourcev1.DeviceClass:
		return []interface{}{o.Name, since(o.CreationTimestamp, now)}, true
	case *resourcev1.DeviceTaintRule:
		added := ""
		if t := o.Spec.Taint.TimeAdded; t != nil {
			added = since(*t, now)
		}
		t := o.Spec.Taint
		return []interface{}{o.Name, t.Key, t.Value, string(t.Effect), added, since(o.CreationTimestamp, now)}, true
	case *resourcev1.ResourceClaim:
		return []interface{}{o.Name, resourceClaimState(o), since(o.CreationTimestamp, now)}, true
	case *resourcev1.ResourceClaimTemplate:
		return []interface{}{o.Name, since(o.CreationTimestamp, now)}, true
	case *resourcev1.ResourceSlice:
		node := ""
		if o.Spec.NodeName != nil {
			node = *o.Spec.NodeName
		}
		return []interface{}{o.Name, node, o.Spec.Driver, o.Spec.Pool.Name, since(o.CreationTimestamp, now)}, true
	case *flowcontrolv1.FlowSchema:
		return flowSchemaCells(o, now), true
	case *flowcontrolv1.PriorityLevelConfiguration:
		return priorityLevelCells(o, now), true
	case *networkingv1.ServiceCIDR:
		return []interface{}{o.Name, strings.Join(o.Spec.CIDRs, ","), since(o.CreationTimestamp, now)}, true
	case *networkingv1.IPAddress:
		// Upstream's printer appends an age cell with no column for it;
		// a table's rows here always match its columns.
		return []interface{}{o.Name, ipAddressParent(o.Spec.ParentRef)}, true
	case *certificatesv1.ClusterTrustBundle:
		return []interface{}{o.Name, orElse(o.Spec.SignerName, "<none>")}, true
	case *storagemigrationv1.StorageVersionMigration:
		return []interface{}{o.Name, schema.GroupResource{Group: o.Spec.Resource.Group, Resource: o.Spec.Resource.Resource}.String(), migrationStatus(o)}, true
	}
	return nil, false
}

func nameAgeColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol(), ageCol()}
}

func componentStatusColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Status", "string", "Status of the component conditions", 0),
		col("Message", "string", "Message of the component conditions", 0),
		col("Error", "string", "Error of the component conditions", 0),
	}
}

func componentStatusCells(o *corev1.ComponentStatus) []interface{} {
	status, message, errText := "Unknown", "", ""
	for _, c := range o.Conditions {
		if c.Type != corev1.ComponentHealthy {
			continue
		}
		status = "Unhealthy"
		if c.Status == corev1.ConditionTrue {
			status = "Healthy"
		}
		message, errText = c.Message, c.Error
		break
	}
	return []interface{}{o.Name, status, message, errText}
}

func csiNodeColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node", 0),
		ageCol(),
	}
}

func csiDriverColumns() []metav1.TableColumnDefinition {
	spec := storagev1.CSIDriverSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("AttachRequired", "boolean", spec["attachRequired"], 0),
		col("PodInfoOnMount", "boolean", spec["podInfoOnMount"], 0),
		col("StorageCapacity", "boolean", spec["storageCapacity"], 0),
		col("TokenRequests", "string", spec["tokenRequests"], 0),
		col("RequiresRepublish", "boolean", spec["requiresRepublish"], 0),
		col("Modes", "string", spec["volumeLifecycleModes"], 0),
		ageCol(),
	}
}

func csiDriverCells(o *storagev1.CSIDriver, now time.Time) []interface{} {
	boolOr := func(b *bool, def bool) bool {
		if b == nil {
			return def
		}
		return *b
	}
	modes := make([]string, 0, len(o.Spec.VolumeLifecycleModes))
	for _, m := range o.Spec.VolumeLifecycleModes {
		modes = append(modes, string(m))
	}
	tokens := "<unset>"
	if o.Spec.TokenRequests != nil {
		aud := make([]string, 0, len(o.Spec.TokenRequests))
		for _, t := range o.Spec.TokenRequests {
			aud = append(aud, t.Audience)
		}
		tokens = strings.Join(aud, ",")
	}
	return []interface{}{
		o.Name, boolOr(o.Spec.AttachRequired, true), boolOr(o.Spec.PodInfoOnMount, false),
		boolOr(o.Spec.StorageCapacity, false), tokens, boolOr(o.Spec.RequiresRepublish, false),
		orElse(strings.Join(modes, ","), "<none>"), since(o.CreationTimestamp, now),
	}
}

func csiStorageCapacityColumns() []metav1.TableColumnDefinition {
	doc := storagev1.CSIStorageCapacity{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("StorageClassName", "string", doc["storageClassName"], 0),
		col("Capacity", "string", doc["capacity"], 0),
	}
}

func volumeAttachmentColumns() []metav1.TableColumnDefinition {
	attacher := col("Attacher", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"], 0)
	attacher.Format = "name"
	return []metav1.TableColumnDefinition{
		nameCol(),
		attacher,
		col("PV", "string", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"], 0),
		col("Node", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"], 0),
		col("Attached", "boolean", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"], 0),
		ageCol(),
	}
}

func volumeAttributesClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("DriverName", "string", storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"], 0),
		ageCol(),
	}
}

func runtimeClassColumns() []metav1.TableColumnDefinition {
	// Upstream describes the column with ObjectMeta's (absent) "handler"
	// documentation, which is empty.
	return []metav1.TableColumnDefinition{nameCol(), col("Handler", "string", metaDoc["handler"], 0), ageCol()}
}

func deviceTaintRuleColumns() []metav1.TableColumnDefinition {
	taint := resourcev1.DeviceTaint{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Key", "string", taint["key"], 0),
		col("Value", "string", taint["value"], 0),
		col("Effect", "string", taint["effect"], 0),
		col("TimeAdded", "string", taint["timeAdded"], 0),
		ageCol(),
	}
}

func resourceClaimColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("State", "string", "A summary of the current state (allocated, pending, reserved, etc.).", 0),
		ageCol(),
	}
}

// resourceClaimState summarizes a claim: deleted, pending, allocated,
// reserved, comma-separated.
func resourceClaimState(o *resourcev1.ResourceClaim) string {
	var states []string
	if o.DeletionTimestamp != nil {
		states = append(states, "deleted")
	}
	switch {
	case o.Status.Allocation != nil:
		states = append(states, "allocated")
		if len(o.Status.ReservedFor) > 0 {
			states = append(states, "reserved")
		}
	case o.DeletionTimestamp == nil:
		states = append(states, "pending")
	}
	return strings.Join(states, ",")
}

func resourceSliceColumns() []metav1.TableColumnDefinition {
	spec := resourcev1.ResourceSliceSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Node", "string", spec["nodeName"], 0),
		col("Driver", "string", spec["driver"], 0),
		col("Pool", "string", resourcev1.ResourcePool{}.SwaggerDoc()["name"], 0),
		ageCol(),
	}
}

func flowSchemaColumns() []metav1.TableColumnDefinition {
	spec := flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("PriorityLevel", "string", flowcontrolv1.PriorityLevelConfigurationReference{}.SwaggerDoc()["name"], 0),
		col("MatchingPrecedence", "string", spec["matchingPrecedence"], 0),
		col("DistinguisherMethod", "string", spec["distinguisherMethod"], 0),
		ageCol(),
		col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration", 0),
	}
}

func flowSchemaCells(o *flowcontrolv1.FlowSchema, now time.Time) []interface{} {
	method := "<none>"
	if o.Spec.DistinguisherMethod != nil {
		method = string(o.Spec.DistinguisherMethod.Type)
	}
	missing := "?"
	for _, c := range o.Status.Conditions {
		if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
			missing = string(c.Status)
			break
		}
	}
	return []interface{}{o.Name, o.Spec.PriorityLevelConfiguration.Name, int64(o.Spec.MatchingPrecedence), method, since(o.CreationTimestamp, now), missing}
}

func priorityLevelColumns() []metav1.TableColumnDefinition {
	q := flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("Type", "string", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"], 0),
		col("NominalConcurrencyShares", "string", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"], 0),
		col("Queues", "string", q["queues"], 0),
		col("HandSize", "string", q["handSize"], 0),
		col("QueueLengthLimit", "string", q["queueLengthLimit"], 0),
		ageCol(),
	}
}

func priorityLevelCells(o *flowcontrolv1.PriorityLevelConfiguration, now time.Time) []interface{} {
	var shares, queues, handSize, queueLength interface{} = "<none>", "<none>", "<none>", "<none>"
	if l := o.Spec.Limited; l != nil {
		if l.NominalConcurrencyShares != nil {
			shares = int64(*l.NominalConcurrencyShares)
		}
		if q := l.LimitResponse.Queuing; q != nil {
			queues, handSize, queueLength = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
		}
	}
	return []interface{}{o.Name, string(o.Spec.Type), shares, queues, handSize, queueLength, since(o.CreationTimestamp, now)}
}

func serviceCIDRColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameCol(),
		col("CIDRs", "string", networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"], 0),
		ageCol(),
	}
}

func ipAddressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol(), col("ParentRef", "string", networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"], 0)}
}

// ipAddressParent renders a parent reference as resource.group/ns/name.
func ipAddressParent(ref *networkingv1.ParentReference) string {
	if ref == nil {
		return "<none>"
	}
	s := strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
	if ref.Namespace != "" {
		s += "/" + ref.Namespace
	}
	return s + "/" + ref.Name
}

func clusterTrustBundleColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameCol(), col("SignerName", "string", certificatesv1.ClusterTrustBundleSpec{}.SwaggerDoc()["signerName"], 0)}
}

func storageVersionMigrationColumns() []metav1.TableColumnDefinition {
	name := nameCol()
	name.Format = "" // upstream's migration table does not mark its name column
	return []metav1.TableColumnDefinition{
		name,
		col("Resource", "string", "GroupResource to migrate", 0),
		col("Status", "string", "Status of the migration", 0),
	}
}

// migrationStatus is the last true Running, Failed or Succeeded condition.
func migrationStatus(o *storagemigrationv1.StorageVersionMigration) string {
	status := "Unknown"
	for _, c := range o.Status.Conditions {
		if c.Status != metav1.ConditionTrue {
			continue
		}
		switch c.Type {
		case string(storagemigrationv1.MigrationRunning), string(storagemigrationv1.MigrationFailed), string(storagemigrationv1.MigrationSucceeded):
			status = c.Type
		}
	}
	return status
}
