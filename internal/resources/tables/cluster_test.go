package tables

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestClusterColumns(t *testing.T) {
	g := func(group, k string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: k} }
	tests := []struct {
		gk   schema.GroupKind
		want []string
	}{
		{g("", "ComponentStatus"), []string{"Name", "Status", "Message", "Error"}},
		{g("storage.k8s.io", "CSIDriver"), []string{"Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity", "TokenRequests", "RequiresRepublish", "Modes", "Age"}},
		{g("storage.k8s.io", "CSINode"), []string{"Name", "Drivers", "Age"}},
		{g("storage.k8s.io", "CSIStorageCapacity"), []string{"Name", "StorageClassName", "Capacity"}},
		{g("storage.k8s.io", "VolumeAttachment"), []string{"Name", "Attacher", "PV", "Node", "Attached", "Age"}},
		{g("storage.k8s.io", "VolumeAttributesClass"), []string{"Name", "DriverName", "Age"}},
		{g("node.k8s.io", "RuntimeClass"), []string{"Name", "Handler", "Age"}},
		{g("resource.k8s.io", "DeviceClass"), []string{"Name", "Age"}},
		{g("resource.k8s.io", "DeviceTaintRule"), []string{"Name", "Key", "Value", "Effect", "TimeAdded", "Age"}},
		{g("resource.k8s.io", "ResourceClaim"), []string{"Name", "State", "Age"}},
		{g("resource.k8s.io", "ResourceClaimTemplate"), []string{"Name", "Age"}},
		{g("resource.k8s.io", "ResourceSlice"), []string{"Name", "Node", "Driver", "Pool", "Age"}},
		{g("flowcontrol.apiserver.k8s.io", "FlowSchema"), []string{"Name", "PriorityLevel", "MatchingPrecedence", "DistinguisherMethod", "Age", "MissingPL"}},
		{g("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"), []string{"Name", "Type", "NominalConcurrencyShares", "Queues", "HandSize", "QueueLengthLimit", "Age"}},
		{g("networking.k8s.io", "ServiceCIDR"), []string{"Name", "CIDRs", "Age"}},
		{g("networking.k8s.io", "IPAddress"), []string{"Name", "ParentRef"}},
		{g("certificates.k8s.io", "ClusterTrustBundle"), []string{"Name", "SignerName"}},
		{g("storagemigration.k8s.io", "StorageVersionMigration"), []string{"Name", "Resource", "Status"}},
	}
	for _, tt := range tests {
		t.Run(tt.gk.String(), func(t *testing.T) {
			if got := names(Columns(tt.gk)); !equalStrings(got, tt.want) {
				t.Errorf("columns = %q; want %q", got, tt.want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClusterCells(t *testing.T) {
	cm := func(name string) metav1.ObjectMeta { return objMeta("", name, time.Hour) }
	deleting := cm("c")
	deleting.DeletionTimestamp = agoPtr(time.Minute)
	runCells(t, []cellCase{
		{"componentstatus healthy", &corev1.ComponentStatus{ObjectMeta: cm("etcd-0"), Conditions: []corev1.ComponentCondition{
			{Type: corev1.ComponentHealthy, Status: corev1.ConditionTrue, Message: "ok"}}}, []interface{}{"etcd-0", "Healthy", "ok", ""}},
		{"componentstatus unknown", &corev1.ComponentStatus{ObjectMeta: cm("scheduler")}, []interface{}{"scheduler", "Unknown", "", ""}},
		{"csidriver defaults", &storagev1.CSIDriver{ObjectMeta: cm("csi.example.com")},
			[]interface{}{"csi.example.com", true, false, false, "<unset>", false, "<none>", "60m"}},
		{"csidriver tokens", &storagev1.CSIDriver{ObjectMeta: cm("d"), Spec: storagev1.CSIDriverSpec{
			TokenRequests:        []storagev1.TokenRequest{{Audience: "a"}, {Audience: "b"}},
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}}},
			[]interface{}{"d", true, false, false, "a,b", false, "Persistent,Ephemeral", "60m"}},
		{"csinode", &storagev1.CSINode{ObjectMeta: cm("n"), Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "x"}}}}, []interface{}{"n", int64(1), "60m"}},
		{"csistoragecapacity", &storagev1.CSIStorageCapacity{ObjectMeta: cm("c"), StorageClassName: "fast", Capacity: ptr(resource.MustParse("10Gi"))},
			[]interface{}{"c", "fast", "10Gi"}},
		{"volumeattachment", &storagev1.VolumeAttachment{ObjectMeta: cm("va"), Spec: storagev1.VolumeAttachmentSpec{Attacher: "csi.example.com", NodeName: "n1",
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr("pv1")}}, Status: storagev1.VolumeAttachmentStatus{Attached: true}},
			[]interface{}{"va", "csi.example.com", "pv1", "n1", true, "60m"}},
		{"runtimeclass", &nodev1.RuntimeClass{ObjectMeta: cm("gvisor"), Handler: "runsc"}, []interface{}{"gvisor", "runsc", "60m"}},
		{"devicetaintrule", &resourcev1.DeviceTaintRule{ObjectMeta: cm("r"), Spec: resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{
			Key: "example.com/broken", Value: "yes", Effect: resourcev1.DeviceTaintEffectNoExecute, TimeAdded: agoPtr(time.Minute)}}},
			[]interface{}{"r", "example.com/broken", "yes", "NoExecute", "60s", "60m"}},
		{"claim pending", &resourcev1.ResourceClaim{ObjectMeta: cm("c")}, []interface{}{"c", "pending", "60m"}},
		{"claim deleted", &resourcev1.ResourceClaim{ObjectMeta: deleting}, []interface{}{"c", "deleted", "60m"}},
		{"claim reserved", &resourcev1.ResourceClaim{ObjectMeta: cm("c"), Status: resourcev1.ResourceClaimStatus{
			Allocation: &resourcev1.AllocationResult{}, ReservedFor: []resourcev1.ResourceClaimConsumerReference{{Name: "p"}}}},
			[]interface{}{"c", "allocated,reserved", "60m"}},
		{"slice", &resourcev1.ResourceSlice{ObjectMeta: cm("s"), Spec: resourcev1.ResourceSliceSpec{NodeName: ptr("n1"), Driver: "gpu.example.com",
			Pool: resourcev1.ResourcePool{Name: "p"}}}, []interface{}{"s", "n1", "gpu.example.com", "p", "60m"}},
		{"flowschema", &flowcontrolv1.FlowSchema{ObjectMeta: cm("fs"), Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "global-default"}, MatchingPrecedence: 9900,
			DistinguisherMethod: &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType}},
			Status: flowcontrolv1.FlowSchemaStatus{Conditions: []flowcontrolv1.FlowSchemaCondition{{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: flowcontrolv1.ConditionFalse}}}},
			[]interface{}{"fs", "global-default", int64(9900), "ByUser", "60m", "False"}},
		{"prioritylevel exempt", &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: cm("exempt"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementExempt}},
			[]interface{}{"exempt", "Exempt", "<none>", "<none>", "<none>", "<none>", "60m"}},
		{"prioritylevel queuing", &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: cm("p"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited, Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{NominalConcurrencyShares: ptr(int32(30)),
				LimitResponse: flowcontrolv1.LimitResponse{Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 64, HandSize: 6, QueueLengthLimit: 50}}}}},
			[]interface{}{"p", "Limited", int64(30), int64(64), int64(6), int64(50), "60m"}},
		{"servicecidr", &networkingv1.ServiceCIDR{ObjectMeta: cm("kubernetes"), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.43.0.0/16", "fd00::/108"}}},
			[]interface{}{"kubernetes", "10.43.0.0/16,fd00::/108", "60m"}},
		{"ipaddress", &networkingv1.IPAddress{ObjectMeta: cm("10.43.0.1"), Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{
			Resource: "services", Namespace: "default", Name: "kubernetes"}}}, []interface{}{"10.43.0.1", "services/default/kubernetes"}},
		{"ctb", &certificatesv1.ClusterTrustBundle{ObjectMeta: cm("b")}, []interface{}{"b", "<none>"}},
		{"svm", &storagemigrationv1.StorageVersionMigration{ObjectMeta: cm("m"), Spec: storagemigrationv1.StorageVersionMigrationSpec{
			Resource: metav1.GroupResource{Group: "apps", Resource: "deployments"}}, Status: storagemigrationv1.StorageVersionMigrationStatus{
			Conditions: []metav1.Condition{{Type: string(storagemigrationv1.MigrationSucceeded), Status: metav1.ConditionTrue}}}},
			[]interface{}{"m", "deployments.apps", "Succeeded"}},
	})
}
