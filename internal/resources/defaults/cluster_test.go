package defaults

import (
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

func TestDefaultClusterKinds(t *testing.T) {
	t.Run("csidriver", func(t *testing.T) {
		d := &storagev1.CSIDriver{}
		Default(d)
		want := storagev1.CSIDriverSpec{
			AttachRequired: ptrTo(true), PodInfoOnMount: ptrTo(false), StorageCapacity: ptrTo(false),
			FSGroupPolicy:        ptrTo(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
			RequiresRepublish:    ptrTo(false), SELinuxMount: ptrTo(false), PreventPodSchedulingIfMissing: ptrTo(false),
		}
		if !equality.Semantic.DeepEqual(d.Spec, want) {
			t.Errorf("got %+v; want %+v", d.Spec, want)
		}
	})
	t.Run("resourceclaim", func(t *testing.T) {
		c := &resourcev1.ResourceClaim{Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{
			{Name: "a", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: "c", Tolerations: []resourcev1.DeviceToleration{{Key: "k"}}}},
			{Name: "b", FirstAvailable: []resourcev1.DeviceSubRequest{{Name: "x", DeviceClassName: "c", AllocationMode: resourcev1.DeviceAllocationModeAll}}},
		}}}}
		Default(c)
		e := c.Spec.Devices.Requests[0].Exactly
		if e.AllocationMode != resourcev1.DeviceAllocationModeExactCount || e.Count != 1 || e.Tolerations[0].Operator != resourcev1.DeviceTolerationOpEqual {
			t.Errorf("exact request = %+v; want ExactCount, 1, Equal", e)
		}
		if s := c.Spec.Devices.Requests[1].FirstAvailable[0]; s.Count != 0 {
			t.Errorf("All subrequest count = %d; want 0", s.Count)
		}
	})
	t.Run("flowcontrol", func(t *testing.T) {
		fs := &flowcontrolv1.FlowSchema{}
		Default(fs)
		if fs.Spec.MatchingPrecedence != 1000 {
			t.Errorf("matchingPrecedence = %d; want 1000", fs.Spec.MatchingPrecedence)
		}
		pl := &flowcontrolv1.PriorityLevelConfiguration{Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{LimitResponse: flowcontrolv1.LimitResponse{Queuing: &flowcontrolv1.QueuingConfiguration{}}},
		}}
		Default(pl)
		l := pl.Spec.Limited
		if *l.NominalConcurrencyShares != 30 || *l.LendablePercent != 0 || *l.LimitResponse.Queuing != (flowcontrolv1.QueuingConfiguration{Queues: 64, HandSize: 8, QueueLengthLimit: 50}) {
			t.Errorf("limited = %+v, queuing %+v", l, l.LimitResponse.Queuing)
		}
	})
}
