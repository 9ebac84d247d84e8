package validation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/resources/apfbootstrap"
)

func csiDriver(mut func(*storagev1.CSIDriver)) *storagev1.CSIDriver {
	d := &storagev1.CSIDriver{ObjectMeta: com("csi.example.com")}
	if mut != nil {
		mut(d)
	}
	return defaulted(d)
}

func volumeAttachment(mut func(*storagev1.VolumeAttachment)) *storagev1.VolumeAttachment {
	v := &storagev1.VolumeAttachment{ObjectMeta: com("va"), Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "csi.example.com", NodeName: "node-1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr("pv-1")},
	}}
	if mut != nil {
		mut(v)
	}
	return v
}

func deviceClaim(reqs ...resourcev1.DeviceRequest) *resourcev1.ResourceClaim {
	return defaulted(&resourcev1.ResourceClaim{ObjectMeta: om("claim"), Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: reqs}}})
}

func exact(name, class string) resourcev1.DeviceRequest {
	return resourcev1.DeviceRequest{Name: name, Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: class}}
}

func resourceSlice(mut func(*resourcev1.ResourceSlice)) *resourcev1.ResourceSlice {
	s := &resourcev1.ResourceSlice{ObjectMeta: com("node-1-gpu"), Spec: resourcev1.ResourceSliceSpec{
		Driver: "gpu.example.com", NodeName: ptr("node-1"),
		Pool:    resourcev1.ResourcePool{Name: "node-1", ResourceSliceCount: 1},
		Devices: []resourcev1.Device{{Name: "gpu-0", Attributes: map[resourcev1.QualifiedName]resourcev1.DeviceAttribute{"model": {StringValue: ptr("a100")}}}},
	}}
	if mut != nil {
		mut(s)
	}
	return defaulted(s)
}

func flowSchema(mut func(*flowcontrolv1.FlowSchema)) *flowcontrolv1.FlowSchema {
	fs := &flowcontrolv1.FlowSchema{ObjectMeta: com("mine"), Spec: flowcontrolv1.FlowSchemaSpec{
		PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"},
		Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
			Subjects:      []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "alice"}}},
			ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, Namespaces: []string{"*"}}},
		}},
	}}
	if mut != nil {
		mut(fs)
	}
	return defaulted(fs)
}

func priorityLevel(mut func(*flowcontrolv1.PriorityLevelConfiguration)) *flowcontrolv1.PriorityLevelConfiguration {
	pl := &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: com("mine"), Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
		Type: flowcontrolv1.PriorityLevelEnablementLimited,
		Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{LimitResponse: flowcontrolv1.LimitResponse{
			Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{},
		}},
	}}
	if mut != nil {
		mut(pl)
	}
	return defaulted(pl)
}

// caPEM is a self-signed CA certificate; notCA a leaf.
func testCert(t *testing.T, isCA bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0),
		IsCA: isCA, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestValidateClusterKinds(t *testing.T) {
	ca, leaf := testCert(t, true), testCert(t, false)
	bundle := func(name, signer, pem string) *certificatesv1.ClusterTrustBundle {
		return &certificatesv1.ClusterTrustBundle{ObjectMeta: com(name), Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: pem}}
	}
	tests := []struct {
		name string
		obj  runtime.Object
		want []want
	}{
		// storage.k8s.io/v1
		{"csidriver valid", csiDriver(nil), nil},
		{"csidriver undefaulted", &storagev1.CSIDriver{ObjectMeta: com("csi.example.com")}, []want{
			{"spec.attachedRequired", field.ErrorTypeRequired}, {"spec.podInfoOnMount", field.ErrorTypeRequired},
			{"spec.storageCapacity", field.ErrorTypeRequired}, {"spec.seLinuxMount", field.ErrorTypeRequired},
			{"spec.preventPodSchedulingIfMissing", field.ErrorTypeRequired},
		}},
		{"csidriver short token", csiDriver(func(d *storagev1.CSIDriver) {
			d.Spec.TokenRequests = []storagev1.TokenRequest{{Audience: "a", ExpirationSeconds: ptr(int64(60))}, {Audience: "a"}}
		}), []want{{"spec.tokenRequests[0].expirationSeconds", field.ErrorTypeInvalid}, {"spec.tokenRequests[1].audience", field.ErrorTypeDuplicate}}},
		{"csidriver bad mode", csiDriver(func(d *storagev1.CSIDriver) {
			d.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{"Forever"}
		}), []want{{"spec.volumeLifecycleModes", field.ErrorTypeNotSupported}}},
		{"csinode valid", &storagev1.CSINode{ObjectMeta: com("node-1"), Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "csi.example.com", NodeID: "n1", TopologyKeys: []string{"topology.example.com/zone"}}}}}, nil},
		{"csinode driver problems", &storagev1.CSINode{ObjectMeta: com("node-1"), Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
			{Name: "csi.example.com"}, {Name: "csi.example.com", NodeID: strings.Repeat("x", 257)},
		}}}, []want{{"spec.drivers[0].nodeID", field.ErrorTypeRequired}, {"spec.drivers[1].nodeID", field.ErrorTypeInvalid}, {"spec.drivers[1].name", field.ErrorTypeDuplicate}}},
		{"csistoragecapacity negative", &storagev1.CSIStorageCapacity{ObjectMeta: om("cap"), StorageClassName: "fast", Capacity: ptr(resource.MustParse("-1Gi"))},
			[]want{{"capacity", field.ErrorTypeInvalid}}},
		{"volumeattachment valid", volumeAttachment(nil), nil},
		{"volumeattachment no source", volumeAttachment(func(v *storagev1.VolumeAttachment) { v.Spec.Source = storagev1.VolumeAttachmentSource{} }),
			[]want{{"spec.source", field.ErrorTypeRequired}}},
		{"volumeattachment attacher and node", volumeAttachment(func(v *storagev1.VolumeAttachment) { v.Spec.Attacher, v.Spec.NodeName = "", "Node_1" }),
			[]want{{"spec.attacher", field.ErrorTypeRequired}, {"spec.nodeName", field.ErrorTypeInvalid}}},
		{"vac needs parameters", &storagev1.VolumeAttributesClass{ObjectMeta: com("gold"), DriverName: "csi.example.com"},
			[]want{{"parameters", field.ErrorTypeRequired}}},

		// node.k8s.io/v1
		{"runtimeclass valid", &nodev1.RuntimeClass{ObjectMeta: com("gvisor"), Handler: "runsc"}, nil},
		{"runtimeclass handler", &nodev1.RuntimeClass{ObjectMeta: com("gvisor"), Handler: "Run_SC"}, []want{{"handler", field.ErrorTypeInvalid}}},
		{"runtimeclass no handler", &nodev1.RuntimeClass{ObjectMeta: com("gvisor")}, []want{{"handler", field.ErrorTypeRequired}}},
		{"runtimeclass overhead", &nodev1.RuntimeClass{ObjectMeta: com("gvisor"), Handler: "runsc", Overhead: &nodev1.Overhead{
			PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}}}, []want{{"overhead.podFixed[cpu]", field.ErrorTypeInvalid}}},

		// resource.k8s.io/v1
		{"deviceclass valid", &resourcev1.DeviceClass{ObjectMeta: com("gpu.example.com"), Spec: resourcev1.DeviceClassSpec{
			Selectors: []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{Expression: `device.driver == "gpu.example.com"`}}}}}, nil},
		{"deviceclass selector without cel", &resourcev1.DeviceClass{ObjectMeta: com("gpu"), Spec: resourcev1.DeviceClassSpec{
			Selectors: []resourcev1.DeviceSelector{{}}}}, []want{{"spec.selectors[0].cel", field.ErrorTypeRequired}}},
		{"deviceclass opaque config", &resourcev1.DeviceClass{ObjectMeta: com("gpu"), Spec: resourcev1.DeviceClassSpec{
			Config: []resourcev1.DeviceClassConfiguration{{DeviceConfiguration: resourcev1.DeviceConfiguration{Opaque: &resourcev1.OpaqueDeviceConfiguration{
				Driver: "gpu.example.com", Parameters: runtime.RawExtension{Raw: []byte(`[1]`)}}}}}}}, []want{{"spec.config[0].opaque.parameters", field.ErrorTypeInvalid}}},
		{"devicetaintrule valid", defaulted(&resourcev1.DeviceTaintRule{ObjectMeta: com("broken"), Spec: resourcev1.DeviceTaintRuleSpec{
			DeviceSelector: &resourcev1.DeviceTaintSelector{Driver: ptr("gpu.example.com"), Device: ptr("gpu-0")},
			Taint:          resourcev1.DeviceTaint{Key: "example.com/broken", Effect: resourcev1.DeviceTaintEffectNoSchedule}}}), nil},
		{"devicetaintrule problems", &resourcev1.DeviceTaintRule{ObjectMeta: com("broken"), Spec: resourcev1.DeviceTaintRuleSpec{
			DeviceSelector: &resourcev1.DeviceTaintSelector{Device: ptr("Bad_Device")}, Taint: resourcev1.DeviceTaint{Effect: "Sometimes"}}},
			[]want{{"spec.deviceSelector.device", field.ErrorTypeInvalid}, {"spec.taint.key", field.ErrorTypeInvalid}, {"spec.taint.effect", field.ErrorTypeNotSupported}}},
		{"claim valid", deviceClaim(exact("gpu", "gpu.example.com")), nil},
		{"claim defaults count", deviceClaim(exact("gpu", "gpu.example.com")), nil},
		{"claim no request type", deviceClaim(resourcev1.DeviceRequest{Name: "gpu"}), []want{{"spec.devices.requests[0]", field.ErrorTypeRequired}}},
		{"claim duplicate and bad names", deviceClaim(exact("gpu", "gpu.example.com"), exact("gpu", ""), exact("Bad_Name", "c")), []want{
			{"spec.devices.requests[1]", field.ErrorTypeDuplicate}, {"spec.devices.requests[1].exactly.deviceClassName", field.ErrorTypeRequired},
			{"spec.devices.requests[2].name", field.ErrorTypeInvalid},
		}},
		{"claim all with count", deviceClaim(resourcev1.DeviceRequest{Name: "gpu", Exactly: &resourcev1.ExactDeviceRequest{
			DeviceClassName: "c", AllocationMode: resourcev1.DeviceAllocationModeAll, Count: 2}}), []want{{"spec.devices.requests[0].exactly.count", field.ErrorTypeInvalid}}},
		{"claim constraint names unknown request", func() runtime.Object {
			c := deviceClaim(exact("gpu", "c"))
			c.Spec.Devices.Constraints = []resourcev1.DeviceConstraint{{Requests: []string{"nic"}, MatchAttribute: ptr(resourcev1.FullyQualifiedName("model"))}}
			return c
		}(), []want{{"spec.devices.constraints[0].requests[0]", field.ErrorTypeInvalid}, {"spec.devices.constraints[0].matchAttribute", field.ErrorTypeInvalid}}},
		{"claim template", &resourcev1.ResourceClaimTemplate{ObjectMeta: om("t"), Spec: resourcev1.ResourceClaimTemplateSpec{
			Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "gpu"}}}}}},
			[]want{{"spec.spec.devices.requests[0]", field.ErrorTypeRequired}}},
		{"slice valid", resourceSlice(nil), nil},
		{"slice node fields", resourceSlice(func(s *resourcev1.ResourceSlice) { s.Spec.AllNodes = ptr(true) }), []want{{"spec", field.ErrorTypeInvalid}}},
		{"slice no node field", resourceSlice(func(s *resourcev1.ResourceSlice) { s.Spec.NodeName = nil }), []want{{"spec", field.ErrorTypeRequired}}},
		{"slice pool and driver", resourceSlice(func(s *resourcev1.ResourceSlice) { s.Spec.Driver, s.Spec.Pool = "", resourcev1.ResourcePool{} }), []want{
			{"spec.driver", field.ErrorTypeRequired}, {"spec.pool.name", field.ErrorTypeRequired}, {"spec.pool.resourceSliceCount", field.ErrorTypeInvalid},
		}},
		{"slice device attribute", resourceSlice(func(s *resourcev1.ResourceSlice) {
			s.Spec.Devices[0].Attributes["model"] = resourcev1.DeviceAttribute{}
		}), []want{{"spec.devices[0].attributes[model]", field.ErrorTypeInvalid}}},

		// flowcontrol.apiserver.k8s.io/v1
		{"flowschema valid", flowSchema(nil), nil},
		{"flowschema precedence 1 reserved", flowSchema(func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 1 }),
			[]want{{"spec.matchingPrecedence", field.ErrorTypeInvalid}}},
		{"flowschema rule problems", flowSchema(func(fs *flowcontrolv1.FlowSchema) {
			fs.Spec.PriorityLevelConfiguration.Name = ""
			fs.Spec.Rules[0].Subjects[0].Kind = flowcontrolv1.SubjectKindGroup
			fs.Spec.Rules[0].ResourceRules[0].Verbs = []string{"*", "get"}
			fs.Spec.Rules[0].ResourceRules[0].Namespaces = nil
		}), []want{
			{"spec.priorityLevelConfiguration.name", field.ErrorTypeRequired}, {"spec.rules[0].subjects[0].group", field.ErrorTypeRequired},
			{"spec.rules[0].subjects[0].user", field.ErrorTypeForbidden}, {"spec.rules[0].resourceRules[0].verbs", field.ErrorTypeInvalid},
			{"spec.rules[0].resourceRules[0].namespaces", field.ErrorTypeRequired},
		}},
		{"flowschema mandatory fixed", func() runtime.Object {
			fs := apfbootstrap.MandatoryFlowSchemas()[1]
			fs.Spec.MatchingPrecedence = 9999
			return defaulted(fs)
		}(), []want{{"spec", field.ErrorTypeInvalid}}},
		{"flowschema mandatory as shipped", defaulted(apfbootstrap.MandatoryFlowSchemas()[0]), nil},
		{"prioritylevel valid", priorityLevel(nil), nil},
		{"prioritylevel hand size", priorityLevel(func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec.Limited.LimitResponse.Queuing.HandSize = 100
		}), []want{{"spec.limited.limitResponse.queuing.handSize", field.ErrorTypeInvalid}}},
		{"prioritylevel exempt name", priorityLevel(func(pl *flowcontrolv1.PriorityLevelConfiguration) { pl.Name = "exempt" }),
			[]want{{"spec.type", field.ErrorTypeInvalid}, {"spec", field.ErrorTypeInvalid}}},
		{"prioritylevel lendable", priorityLevel(func(pl *flowcontrolv1.PriorityLevelConfiguration) { pl.Spec.Limited.LendablePercent = ptr(int32(101)) }),
			[]want{{"spec.limited.lendablePercent", field.ErrorTypeInvalid}}},
		{"prioritylevel suggested as shipped", defaulted(apfbootstrap.SuggestedPriorityLevels()[0]), nil},

		// networking.k8s.io/v1
		{"servicecidr valid", &networkingv1.ServiceCIDR{ObjectMeta: com("extra"), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.44.0.0/16", "fd00::/108"}}}, nil},
		{"servicecidr same family", &networkingv1.ServiceCIDR{ObjectMeta: com("extra"), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.44.0.0/16", "10.45.0.0/16"}}},
			[]want{{"spec.cidrs", field.ErrorTypeInvalid}}},
		{"servicecidr none", &networkingv1.ServiceCIDR{ObjectMeta: com("extra")}, []want{{"spec.cidrs", field.ErrorTypeRequired}}},
		{"ipaddress valid", &networkingv1.IPAddress{ObjectMeta: com("10.43.0.5"), Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}}}, nil},
		{"ipaddress name and parent", &networkingv1.IPAddress{ObjectMeta: com("not-an-ip"), Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Name: "web"}}},
			[]want{{"metadata.name", field.ErrorTypeInvalid}, {"spec.parentRef.resource", field.ErrorTypeRequired}}},

		// certificates.k8s.io/v1 ClusterTrustBundle
		{"ctb valid", bundle("my-bundle", "", ca), nil},
		{"ctb signer prefix", bundle("my-bundle", "example.com/signer", ca), []want{{"metadata.name", field.ErrorTypeInvalid}}},
		{"ctb signer valid", bundle("example.com:signer:my-bundle", "example.com/signer", ca), nil},
		{"ctb not a CA", bundle("my-bundle", "", leaf), []want{{"spec.trustBundle", field.ErrorTypeInvalid}}},
		{"ctb empty", bundle("my-bundle", "", ""), []want{{"spec.trustBundle", field.ErrorTypeInvalid}}},

		// storagemigration.k8s.io/v1
		{"svm valid", &storagemigrationv1.StorageVersionMigration{ObjectMeta: com("m"), Spec: storagemigrationv1.StorageVersionMigrationSpec{
			Resource: metav1.GroupResource{Group: "apps", Resource: "deployments"}}}, nil},
		{"svm resource", &storagemigrationv1.StorageVersionMigration{ObjectMeta: com("m")}, []want{{"spec.resource.resource", field.ErrorTypeRequired}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, ValidateCreate(tt.obj), tt.want) })
	}
}

func TestValidateClusterKindUpdates(t *testing.T) {
	withCIDRs := func(cidrs ...string) *networkingv1.ServiceCIDR {
		return &networkingv1.ServiceCIDR{ObjectMeta: com("extra"), Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
	}
	claim := deviceClaim(exact("gpu", "c"))
	changed := claim.DeepCopy()
	changed.Spec.Devices.Requests[0].Exactly.DeviceClassName = "d"
	tests := []struct {
		name     string
		obj, old runtime.Object
		want     []want
	}{
		{"servicecidr add second family", withCIDRs("10.44.0.0/16", "fd00::/108"), withCIDRs("10.44.0.0/16"), nil},
		{"servicecidr change", withCIDRs("10.45.0.0/16"), withCIDRs("10.44.0.0/16"), []want{{"spec.cidrs[0]", field.ErrorTypeInvalid}}},
		{"claim spec immutable", changed, claim, []want{{"spec", field.ErrorTypeInvalid}}},
		{"runtimeclass handler immutable", &nodev1.RuntimeClass{ObjectMeta: com("r"), Handler: "b"}, &nodev1.RuntimeClass{ObjectMeta: com("r"), Handler: "a"},
			[]want{{"handler", field.ErrorTypeInvalid}}},
		{"volumeattachment spec immutable", volumeAttachment(func(v *storagev1.VolumeAttachment) { v.Spec.NodeName = "node-2" }), volumeAttachment(nil),
			[]want{{"spec", field.ErrorTypeInvalid}}},
		{"slice driver immutable", resourceSlice(func(s *resourcev1.ResourceSlice) { s.Spec.Driver = "other.example.com" }), resourceSlice(nil),
			[]want{{"spec.driver", field.ErrorTypeInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, ValidateUpdate(tt.obj, tt.old), tt.want) })
	}
}

func TestValidateClusterKindStatus(t *testing.T) {
	claim := deviceClaim(exact("gpu", "c"))
	reserved := claim.DeepCopy()
	reserved.Status.ReservedFor = []resourcev1.ResourceClaimConsumerReference{{Resource: "pods", Name: "p", UID: "1"}}
	allocated := claim.DeepCopy()
	allocated.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{Results: []resourcev1.DeviceRequestAllocationResult{
		{Request: "nic", Driver: "gpu.example.com", Pool: "node-1", Device: "gpu-0"}}}}
	tests := []struct {
		name     string
		obj, old runtime.Object
		want     []want
	}{
		{"claim reserved without allocation", reserved, claim, []want{{"status.reservedFor", field.ErrorTypeForbidden}}},
		{"claim allocation names unknown request", allocated, claim, []want{{"status.allocation.devices.results[0].request", field.ErrorTypeInvalid}}},
		{"volumeattachment negative error code", volumeAttachment(func(v *storagev1.VolumeAttachment) {
			v.Status.AttachError = &storagev1.VolumeError{ErrorCode: ptr(int32(-1))}
		}), volumeAttachment(nil), []want{{"status.attachError.errorCode", field.ErrorTypeInvalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, ValidateStatusUpdate(tt.obj, tt.old), tt.want) })
	}
}
