package defaults

import (
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Upstream's flowcontrol.apiserver.k8s.io/v1 defaults.
const (
	flowSchemaMatchingPrecedence = 1000
	plcNominalConcurrencyShares  = 30
	plcHandSize                  = 8
	plcQueues                    = 64
	plcQueueLengthLimit          = 50
)

// defaultCluster defaults the cluster-infrastructure kinds (storage.k8s.io
// CSI objects, resource.k8s.io, flowcontrol). It reports false for any
// other kind. Kinds served without upstream defaults (CSINode,
// CSIStorageCapacity, VolumeAttributesClass, RuntimeClass, DeviceClass,
// ServiceCIDR, IPAddress, ClusterTrustBundle, StorageVersionMigration)
// fall through to defaultList, which leaves single objects alone.
func defaultCluster(obj runtime.Object, now time.Time) bool {
	switch o := obj.(type) {
	case *storagev1.CSIDriver:
		defaultCSIDriver(&o.Spec)
	case *storagev1.VolumeAttachment:
		// Only an inline volume spec has defaults, its source's.
	case *resourcev1.ResourceClaim:
		defaultDeviceRequests(o.Spec.Devices.Requests)
		if a := o.Status.Allocation; a != nil {
			for i := range a.Devices.Results {
				defaultTolerations(a.Devices.Results[i].Tolerations)
			}
		}
	case *resourcev1.ResourceClaimTemplate:
		defaultDeviceRequests(o.Spec.Spec.Devices.Requests)
	case *resourcev1.ResourceSlice:
		for i := range o.Spec.Devices {
			for j := range o.Spec.Devices[i].Taints {
				if t := &o.Spec.Devices[i].Taints[j]; t.TimeAdded == nil {
					t.TimeAdded = &metav1.Time{Time: now.Truncate(time.Second)}
				}
			}
		}
	case *resourcev1.DeviceTaintRule:
		if o.Spec.Taint.TimeAdded == nil {
			o.Spec.Taint.TimeAdded = &metav1.Time{Time: now.Truncate(time.Second)}
		}
	case *flowcontrolv1.FlowSchema:
		if o.Spec.MatchingPrecedence == 0 {
			o.Spec.MatchingPrecedence = flowSchemaMatchingPrecedence
		}
	case *flowcontrolv1.PriorityLevelConfiguration:
		defaultPriorityLevel(&o.Spec)
	default:
		return false
	}
	return true
}

func defaultCSIDriver(s *storagev1.CSIDriverSpec) {
	setDefault(&s.AttachRequired, true)
	setDefault(&s.PodInfoOnMount, false)
	setDefault(&s.StorageCapacity, false)
	setDefault(&s.FSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
	setDefault(&s.RequiresRepublish, false)
	// SELinuxMountReadWriteOncePod and VolumeLimitScaling are on by
	// default in v1.37.
	setDefault(&s.SELinuxMount, false)
	setDefault(&s.PreventPodSchedulingIfMissing, false)
}

func defaultDeviceRequests(reqs []resourcev1.DeviceRequest) {
	for i := range reqs {
		if e := reqs[i].Exactly; e != nil {
			defaultAllocationMode(&e.AllocationMode, &e.Count)
			defaultTolerations(e.Tolerations)
		}
		for j := range reqs[i].FirstAvailable {
			sub := &reqs[i].FirstAvailable[j]
			defaultAllocationMode(&sub.AllocationMode, &sub.Count)
			defaultTolerations(sub.Tolerations)
		}
	}
}

func defaultAllocationMode(mode *resourcev1.DeviceAllocationMode, count *int64) {
	if *mode == "" {
		*mode = resourcev1.DeviceAllocationModeExactCount
	}
	if *mode == resourcev1.DeviceAllocationModeExactCount && *count == 0 {
		*count = 1
	}
}

func defaultTolerations(ts []resourcev1.DeviceToleration) {
	for i := range ts {
		if ts[i].Operator == "" {
			ts[i].Operator = resourcev1.DeviceTolerationOpEqual
		}
	}
}

func defaultPriorityLevel(s *flowcontrolv1.PriorityLevelConfigurationSpec) {
	if e := s.Exempt; e != nil {
		setDefault(&e.NominalConcurrencyShares, 0)
		setDefault(&e.LendablePercent, 0)
	}
	if l := s.Limited; l != nil {
		setDefault(&l.NominalConcurrencyShares, plcNominalConcurrencyShares)
		setDefault(&l.LendablePercent, 0)
		if q := l.LimitResponse.Queuing; q != nil {
			if q.HandSize == 0 {
				q.HandSize = plcHandSize
			}
			if q.Queues == 0 {
				q.Queues = plcQueues
			}
			if q.QueueLengthLimit == 0 {
				q.QueueLengthLimit = plcQueueLengthLimit
			}
		}
	}
}
