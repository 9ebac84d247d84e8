package validation

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net/netip"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/resources/apfbootstrap"
)

// This file validates the cluster-infrastructure kinds: storage.k8s.io
// CSI objects, node.k8s.io, flowcontrol, the networking.k8s.io allocation
// kinds, ClusterTrustBundle and StorageVersionMigration.

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*storagev1.CSIDriver]{name: subdomain, create: validateCSIDriver,
		update: func(d, old *storagev1.CSIDriver) field.ErrorList {
			// Upstream names the path attachedRequired, not attachRequired.
			errs := immutable(d.Spec.AttachRequired, old.Spec.AttachRequired, field.NewPath("spec", "attachedRequired"))
			return append(errs, immutable(d.Spec.VolumeLifecycleModes, old.Spec.VolumeLifecycleModes, field.NewPath("spec", "volumeLifecycleModes"))...)
		}})
	register(typedRules[*storagev1.CSINode]{name: subdomain, create: validateCSINode, update: validateCSINodeUpdate, status: validateCSINodeStatus})
	register(typedRules[*storagev1.CSIStorageCapacity]{namespaced: true, name: subdomain, create: validateCSIStorageCapacity,
		update: func(c, old *storagev1.CSIStorageCapacity) field.ErrorList {
			var errs field.ErrorList
			if !equality.Semantic.DeepEqual(c.NodeTopology, old.NodeTopology) {
				errs = append(errs, field.Invalid(field.NewPath("nodeTopology"), c.NodeTopology, fieldImmutableMsg))
			}
			return append(errs, immutable(c.StorageClassName, old.StorageClassName, field.NewPath("storageClassName"))...)
		}})
	register(typedRules[*storagev1.VolumeAttachment]{name: subdomain, create: validateVolumeAttachment,
		update: func(v, old *storagev1.VolumeAttachment) field.ErrorList {
			return immutable(v.Spec, old.Spec, field.NewPath("spec"))
		},
		status: func(v, _ *storagev1.VolumeAttachment) field.ErrorList {
			return validateVolumeAttachmentStatus(&v.Status, field.NewPath("status"))
		}})
	register(typedRules[*storagev1.VolumeAttributesClass]{name: subdomain, create: validateVolumeAttributesClass,
		update: func(c, old *storagev1.VolumeAttributesClass) field.ErrorList {
			var errs field.ErrorList
			if c.DriverName != old.DriverName {
				errs = append(errs, field.Forbidden(field.NewPath("driverName"), "updates to driverName are forbidden."))
			}
			if !equalStringMaps(c.Parameters, old.Parameters) {
				errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
			}
			return errs
		}})
	register(typedRules[*nodev1.RuntimeClass]{name: subdomain, create: validateRuntimeClass,
		update: func(rc, old *nodev1.RuntimeClass) field.ErrorList {
			return immutable(rc.Handler, old.Handler, field.NewPath("handler"))
		}})
	register(typedRules[*flowcontrolv1.FlowSchema]{name: subdomain, create: validateFlowSchema,
		status: func(fs, _ *flowcontrolv1.FlowSchema) field.ErrorList {
			types := make([]string, len(fs.Status.Conditions))
			for i, c := range fs.Status.Conditions {
				types[i] = string(c.Type)
			}
			return conditionTypes(types, field.NewPath("status", "conditions"))
		}})
	register(typedRules[*flowcontrolv1.PriorityLevelConfiguration]{name: subdomain, create: validatePriorityLevel,
		status: func(pl, _ *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
			types := make([]string, len(pl.Status.Conditions))
			for i, c := range pl.Status.Conditions {
				types[i] = string(c.Type)
			}
			return conditionTypes(types, field.NewPath("status", "conditions"))
		}})
	register(typedRules[*networkingv1.ServiceCIDR]{name: subdomain,
		create: func(c *networkingv1.ServiceCIDR) field.ErrorList {
			return validateServiceCIDRs(c.Spec.CIDRs, field.NewPath("spec", "cidrs"))
		},
		update: validateServiceCIDRUpdate})
	register(typedRules[*networkingv1.IPAddress]{name: ipAddressName,
		create: func(ip *networkingv1.IPAddress) field.ErrorList {
			return validateParentRef(ip.Spec.ParentRef, field.NewPath("spec", "parentRef"))
		},
		update: func(ip, old *networkingv1.IPAddress) field.ErrorList {
			return immutable(ip.Spec.ParentRef, old.Spec.ParentRef, field.NewPath("spec", "parentRef"))
		}})
	// The name rule of a ClusterTrustBundle depends on its signer name, so
	// the create check applies it.
	register(typedRules[*certificatesv1.ClusterTrustBundle]{name: func(string, bool) []string { return nil },
		create: validateClusterTrustBundle,
		update: func(b, old *certificatesv1.ClusterTrustBundle) field.ErrorList {
			return immutable(b.Spec.SignerName, old.Spec.SignerName, field.NewPath("spec", "signerName"))
		}})
	register(typedRules[*storagemigrationv1.StorageVersionMigration]{name: subdomain, create: validateStorageVersionMigration,
		update: func(m, old *storagemigrationv1.StorageVersionMigration) field.ErrorList {
			return immutable(m.Spec, old.Spec, field.NewPath("spec"))
		},
		status: validateStorageVersionMigrationStatus})
}

const (
	csiNodeIDMaxLength            = 256
	maxAttachedVolumeMetadataSize = 256 * (1 << 10)
	maxVolumeErrorMessageSize     = 1024
	maxVACParameters              = 512
	maxVACParameterSize           = 256 * (1 << 10)
)

func validateCSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	p := field.NewPath("spec")
	s := d.Spec
	var errs field.ErrorList
	// Upstream requires the fields defaulting fills; a request that
	// reaches validation without them was not defaulted.
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"attachedRequired", s.AttachRequired != nil}, {"podInfoOnMount", s.PodInfoOnMount != nil},
		{"storageCapacity", s.StorageCapacity != nil}, {"seLinuxMount", s.SELinuxMount != nil},
		{"preventPodSchedulingIfMissing", s.PreventPodSchedulingIfMissing != nil},
	} {
		if !f.set {
			errs = append(errs, field.Required(p.Child(f.name), ""))
		}
	}
	if s.FSGroupPolicy != nil {
		errs = append(errs, enum(*s.FSGroupPolicy, []storagev1.FSGroupPolicy{storagev1.FileFSGroupPolicy, storagev1.NoneFSGroupPolicy, storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy}, p.Child("fsGroupPolicy"))...)
	}
	audiences := sets.New[string]()
	for i, t := range s.TokenRequests {
		tp := p.Child("tokenRequests").Index(i)
		if audiences.Has(t.Audience) {
			errs = append(errs, field.Duplicate(tp.Child("audience"), t.Audience))
			continue
		}
		audiences.Insert(t.Audience)
		if e := t.ExpirationSeconds; e != nil {
			if *e < 600 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration less than 10 minutes"))
			}
			if *e > 1<<32 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration larger than 2^32 seconds"))
			}
		}
	}
	for _, m := range s.VolumeLifecycleModes {
		if m != storagev1.VolumeLifecyclePersistent && m != storagev1.VolumeLifecycleEphemeral {
			errs = append(errs, field.NotSupported(p.Child("volumeLifecycleModes"), m, []string{string(storagev1.VolumeLifecyclePersistent), string(storagev1.VolumeLifecycleEphemeral)}))
		}
	}
	if n := s.NodeAllocatableUpdatePeriodSeconds; n != nil && *n < 10 {
		errs = append(errs, field.Invalid(p.Child("nodeAllocatableUpdatePeriodSeconds"), *n, "must be greater than or equal to 10 seconds"))
	}
	if s.ServiceAccountTokenInSecrets != nil && len(s.TokenRequests) == 0 {
		errs = append(errs, field.Invalid(p.Child("serviceAccountTokenInSecrets"), *s.ServiceAccountTokenInSecrets, "serviceAccountTokenInSecrets is set but no tokenRequests are specified"))
	}
	return errs
}

func validateCSINode(n *storagev1.CSINode) field.ErrorList {
	dp := field.NewPath("spec", "drivers")
	var errs field.ErrorList
	names := sets.New[string]()
	for i, d := range n.Spec.Drivers {
		ip := dp.Index(i)
		errs = append(errs, driverName(d.Name, ip.Child("name"))...)
		switch {
		case d.NodeID == "":
			errs = append(errs, field.Required(ip.Child("nodeID"), ""))
		case len(d.NodeID) > csiNodeIDMaxLength:
			errs = append(errs, field.Invalid(ip.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", csiNodeIDMaxLength)))
		}
		if a := d.Allocatable; a != nil && a.Count != nil {
			errs = append(errs, nonNegative(int64(*a.Count), ip.Child("allocatable", "count"))...)
		}
		if names.Has(d.Name) {
			errs = append(errs, field.Duplicate(ip.Child("name"), d.Name))
		}
		names.Insert(d.Name)
		keys := sets.New[string]()
		for _, k := range d.TopologyKeys {
			if k == "" {
				errs = append(errs, field.Required(ip, k))
			}
			if keys.Has(k) {
				errs = append(errs, field.Duplicate(ip, k))
			}
			keys.Insert(k)
			errs = append(errs, qualifiedName(k, ip)...)
		}
	}
	return errs
}

// validateCSINodeUpdate keeps each driver as registered; only its
// allocatable count may change (MutableCSINodeAllocatableCount is on by
// default).
func validateCSINodeUpdate(n, old *storagev1.CSINode) field.ErrorList {
	var errs field.ErrorList
	for _, od := range old.Spec.Drivers {
		for _, nd := range n.Spec.Drivers {
			if od.Name != nd.Name {
				continue
			}
			a, b := od.DeepCopy(), nd.DeepCopy()
			a.Allocatable, b.Allocatable = nil, nil
			errs = append(errs, immutable(b, a, field.NewPath("spec", "drivers"))...)
		}
	}
	return errs
}

func validateCSINodeStatus(n, _ *storagev1.CSINode) field.ErrorList {
	p := field.NewPath("status", "storageHealth")
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, h := range n.Status.StorageHealth {
		ip := p.Index(i)
		if seen.Has(h.Name) {
			errs = append(errs, field.Duplicate(ip, h.Name))
		}
		seen.Insert(h.Name)
		errs = append(errs, driverName(h.Name, ip.Child("name"))...)
		if len(h.HealthConditions) > 16 {
			errs = append(errs, field.TooMany(ip.Child("healthConditions"), len(h.HealthConditions), 16))
			continue
		}
		for j, c := range h.HealthConditions {
			cp := ip.Child("healthConditions").Index(j)
			errs = append(errs, enum(c.Status, []storagev1.StorageHealthStatusType{storagev1.StorageDegraded, storagev1.StorageUnreachable}, cp.Child("status"))...)
			if c.Reason == "" {
				errs = append(errs, field.Required(cp.Child("reason"), ""))
			} else {
				errs = append(errs, messages(cp.Child("reason"), c.Reason, metav1validation.IsValidConditionReason(c.Reason))...)
			}
			if len(c.Message) > 1024 {
				errs = append(errs, field.TooLong(cp.Child("message"), c.Message, 1024))
			}
		}
	}
	return errs
}

func validateCSIStorageCapacity(c *storagev1.CSIStorageCapacity) field.ErrorList {
	errs := labelSelector(c.NodeTopology, field.NewPath("nodeTopology"))
	errs = append(errs, dnsSubdomain(c.StorageClassName, field.NewPath("storageClassName"))...)
	if c.Capacity != nil {
		errs = append(errs, nonNegativeQuantity(*c.Capacity, field.NewPath("capacity"))...)
	}
	return errs
}

func validateVolumeAttachment(v *storagev1.VolumeAttachment) field.ErrorList {
	p := field.NewPath("spec")
	errs := driverName(v.Spec.Attacher, p.Child("attacher"))
	sp := p.Child("source")
	src := v.Spec.Source
	switch {
	case src.InlineVolumeSpec == nil && src.PersistentVolumeName == nil:
		errs = append(errs, field.Required(sp, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.InlineVolumeSpec != nil && src.PersistentVolumeName != nil:
		errs = append(errs, field.Forbidden(sp, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.PersistentVolumeName != nil && *src.PersistentVolumeName == "":
		errs = append(errs, field.Required(sp.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
	case src.PersistentVolumeName != nil:
		errs = append(errs, messages(field.NewPath("spec.source.persistentVolumeName"), *src.PersistentVolumeName, apivalidation.NameIsDNSSubdomain(*src.PersistentVolumeName, false))...)
	}
	errs = append(errs, dnsSubdomain(v.Spec.NodeName, p.Child("nodeName"))...)
	return append(errs, validateVolumeAttachmentStatus(&v.Status, field.NewPath("status"))...)
}

func validateVolumeAttachmentStatus(s *storagev1.VolumeAttachmentStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range s.AttachmentMetadata {
		size += len(k) + len(v)
	}
	if size > maxAttachedVolumeMetadataSize {
		errs = append(errs, field.TooLong(p.Child("attachmentMetadata"), "", maxAttachedVolumeMetadataSize))
	}
	for name, e := range map[string]*storagev1.VolumeError{"attachError": s.AttachError, "detachError": s.DetachError} {
		if e == nil {
			continue
		}
		if len(e.Message) > maxVolumeErrorMessageSize {
			errs = append(errs, field.TooLong(p.Child(name, "message"), "", maxVolumeErrorMessageSize))
		}
		if e.ErrorCode != nil && *e.ErrorCode < 0 {
			errs = append(errs, field.Invalid(p.Child(name, "errorCode"), *e.ErrorCode, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
	}
	return errs
}

func validateVolumeAttributesClass(c *storagev1.VolumeAttributesClass) field.ErrorList {
	p := field.NewPath("driverName")
	var errs field.ErrorList
	if c.DriverName == "" {
		errs = append(errs, field.Required(p, ""))
	} else {
		errs = append(errs, qualifiedName(strings.ToLower(c.DriverName), p)...)
	}
	pp := field.NewPath("parameters")
	if len(c.Parameters) > maxVACParameters {
		return append(errs, field.TooLong(pp, "", maxVACParameters))
	}
	size := 0
	for k, v := range c.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(pp, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > maxVACParameterSize {
		errs = append(errs, field.TooLong(pp, "", maxVACParameterSize))
	}
	if len(c.Parameters) == 0 {
		errs = append(errs, field.Required(pp, "must contain at least one key/value pair"))
	}
	return errs
}

func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	hp := field.NewPath("handler")
	var errs field.ErrorList
	if rc.Handler == "" {
		errs = append(errs, field.Required(hp, ""))
	} else {
		errs = append(errs, dnsLabel(rc.Handler, hp)...)
	}
	if rc.Overhead != nil {
		op := field.NewPath("overhead", "podFixed")
		for name, q := range rc.Overhead.PodFixed {
			kp := op.Key(string(name))
			errs = append(errs, resourceName(name, kp)...)
			errs = append(errs, nonNegativeQuantity(q, kp)...)
		}
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		errs = append(errs, validateTolerations(s.Tolerations, sp.Child("tolerations"))...)
		seen := map[corev1.Toleration]bool{}
		for i, t := range s.Tolerations {
			k := corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect}
			if seen[k] {
				errs = append(errs, field.Duplicate(sp.Child("tolerations").Index(i), t))
			}
			seen[k] = true
		}
	}
	return errs
}

var flowVerbs = sets.New("get", "list", "create", "update", "delete", "deletecollection", "patch", "watch", "proxy")

const (
	flowSchemaMaxMatchingPrecedence = 10000
	plcMaxQueues                    = 10 * 1000 * 1000
	shuffleShardingMaxHashBits      = 60
)

func validateFlowSchema(fs *flowcontrolv1.FlowSchema) field.ErrorList {
	p := field.NewPath("spec")
	s := fs.Spec
	var errs field.ErrorList
	mp := p.Child("matchingPrecedence")
	if s.MatchingPrecedence <= 0 {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "must be a positive value"))
	}
	if s.MatchingPrecedence > flowSchemaMaxMatchingPrecedence {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, fmt.Sprintf("must not be greater than %v", flowSchemaMaxMatchingPrecedence)))
	}
	if s.MatchingPrecedence == 1 && fs.Name != "exempt" {
		errs = append(errs, field.Invalid(mp, s.MatchingPrecedence, "only the schema named 'exempt' may have matchingPrecedence 1"))
	}
	if d := s.DistinguisherMethod; d != nil {
		errs = append(errs, enum(d.Type, []flowcontrolv1.FlowDistinguisherMethodType{flowcontrolv1.FlowDistinguisherMethodByNamespaceType, flowcontrolv1.FlowDistinguisherMethodByUserType}, p.Child("distinguisherMethod", "type"))...)
	}
	plp := p.Child("priorityLevelConfiguration", "name")
	if s.PriorityLevelConfiguration.Name == "" {
		errs = append(errs, field.Required(plp, "must reference a priority level"))
	} else {
		errs = append(errs, dnsSubdomain(s.PriorityLevelConfiguration.Name, plp)...)
	}
	for i, r := range s.Rules {
		errs = append(errs, validateFlowRule(r, p.Child("rules").Index(i))...)
	}
	for _, m := range apfbootstrap.MandatoryFlowSchemas() {
		if m.Name == fs.Name && !equality.Semantic.DeepEqual(fs.Spec, m.Spec) {
			errs = append(errs, field.Invalid(p, fs.Spec, fmt.Sprintf("spec of '%s' must equal the fixed value", fs.Name)))
		}
	}
	return errs
}

func validateFlowRule(r flowcontrolv1.PolicyRulesWithSubjects, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.Subjects) == 0 {
		errs = append(errs, field.Required(p.Child("subjects"), "subjects must contain at least one value"))
	}
	for i, s := range r.Subjects {
		errs = append(errs, validateFlowSubject(s, p.Child("subjects").Index(i))...)
	}
	if len(r.ResourceRules) == 0 && len(r.NonResourceRules) == 0 {
		errs = append(errs, field.Required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
	}
	for i, rr := range r.ResourceRules {
		rp := p.Child("resourceRules").Index(i)
		errs = append(errs, flowVerbList(rr.Verbs, rp.Child("verbs"))...)
		errs = append(errs, wildcardList(rr.APIGroups, rp.Child("apiGroups"), "resource rules must supply at least one api group", "api groups")...)
		errs = append(errs, wildcardList(rr.Resources, rp.Child("resources"), "resource rules must supply at least one resource", "resources")...)
		np := rp.Child("namespaces")
		switch {
		case len(rr.Namespaces) == 0 && !rr.ClusterScope:
			errs = append(errs, field.Required(np, "resource rules that are not cluster scoped must supply at least one namespace"))
		case hasStar(rr.Namespaces):
			if len(rr.Namespaces) > 1 {
				errs = append(errs, field.Invalid(np, rr.Namespaces, "if '*' is present, must not specify other namespaces"))
			}
		default:
			for j, ns := range rr.Namespaces {
				for _, msg := range apivalidation.ValidateNamespaceName(ns, false) {
					errs = append(errs, field.Invalid(np.Index(j), ns, "each member of this list must be '*' or a DNS-1123 label; "+msg))
				}
			}
		}
	}
	for i, nr := range r.NonResourceRules {
		np := p.Child("nonResourceRules").Index(i)
		errs = append(errs, flowVerbList(nr.Verbs, np.Child("verbs"))...)
		up := np.Child("nonResourceURLs")
		switch {
		case len(nr.NonResourceURLs) == 0:
			errs = append(errs, field.Required(up, "nonResourceURLs must contain at least one value"))
		case hasStar(nr.NonResourceURLs):
			if len(nr.NonResourceURLs) > 1 {
				errs = append(errs, field.Invalid(up, nr.NonResourceURLs, "if '*' is present, must not specify other non-resource URLs"))
			}
		default:
			for j, u := range nr.NonResourceURLs {
				if msg := nonResourceURLProblem(u); msg != "" {
					errs = append(errs, field.Invalid(up.Index(j), u, msg))
				}
			}
		}
	}
	return errs
}

func validateFlowSubject(s flowcontrolv1.Subject, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	forbid := func(present bool, name, kind string) {
		if present {
			errs = append(errs, field.Forbidden(p.Child(name), fmt.Sprintf("%s is forbidden when subject kind is not '%s'", name, kind)))
		}
	}
	switch s.Kind {
	case flowcontrolv1.SubjectKindServiceAccount:
		sp := p.Child("serviceAccount")
		if sa := s.ServiceAccount; sa == nil {
			errs = append(errs, field.Required(sp, "serviceAccount is required when subject kind is 'ServiceAccount'"))
		} else {
			if sa.Name == "" {
				errs = append(errs, field.Required(sp.Child("name"), ""))
			} else if sa.Name != flowcontrolv1.NameAll {
				errs = append(errs, messages(sp.Child("name"), sa.Name, apivalidation.ValidateServiceAccountName(sa.Name, false))...)
			}
			if sa.Namespace == "" {
				errs = append(errs, field.Required(sp.Child("namespace"), "must specify namespace for service account"))
			} else {
				errs = append(errs, messages(sp.Child("namespace"), sa.Namespace, apivalidation.ValidateNamespaceName(sa.Namespace, false))...)
			}
		}
		forbid(s.User != nil, "user", "User")
		forbid(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindUser:
		if s.User == nil {
			errs = append(errs, field.Required(p.Child("user"), "user is required when subject kind is 'User'"))
		} else if s.User.Name == "" {
			errs = append(errs, field.Required(p.Child("user", "name"), ""))
		}
		forbid(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbid(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindGroup:
		if s.Group == nil {
			errs = append(errs, field.Required(p.Child("group"), "group is required when subject kind is 'Group'"))
		} else if s.Group.Name == "" {
			errs = append(errs, field.Required(p.Child("group", "name"), ""))
		}
		forbid(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbid(s.User != nil, "user", "User")
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{"Group", "ServiceAccount", "User"}))
	}
	return errs
}

func hasStar(list []string) bool {
	for _, s := range list {
		if s == "*" {
			return true
		}
	}
	return false
}

func flowVerbList(verbs []string, p *field.Path) field.ErrorList {
	switch {
	case len(verbs) == 0:
		return field.ErrorList{field.Required(p, "verbs must contain at least one value")}
	case hasStar(verbs):
		if len(verbs) > 1 {
			return field.ErrorList{field.Invalid(p, verbs, "if '*' is present, must not specify other verbs")}
		}
	case !flowVerbs.HasAll(verbs...):
		return field.ErrorList{field.NotSupported(p, verbs, sets.List(flowVerbs))}
	}
	return nil
}

func wildcardList(list []string, p *field.Path, required, what string) field.ErrorList {
	switch {
	case len(list) == 0:
		return field.ErrorList{field.Required(p, required)}
	case len(list) > 1 && hasStar(list):
		return field.ErrorList{field.Invalid(p, list, "if '*' is present, must not specify other "+what)}
	}
	return nil
}

// nonResourceURLProblem is upstream's rule for a non-resource URL: "/" or
// a slash-started path without spaces or "//", a "*" only as a final
// "/*".
func nonResourceURLProblem(u string) string {
	switch {
	case u == "":
		return "must not be empty"
	case u == "/":
		return ""
	case !strings.HasPrefix(u, "/"):
		return "must start with slash"
	case strings.Contains(u, " "):
		return "must not contain white-space"
	case strings.Contains(u, "//"):
		return "must not contain double slash"
	}
	if n := strings.Count(u, "*"); n > 1 || n == 1 && !strings.HasSuffix(u, "/*") {
		return "wildcard can only do suffix matching"
	}
	return ""
}

func conditionTypes(types []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, t := range types {
		if seen.Has(t) {
			errs = append(errs, field.Duplicate(p.Index(i).Child("type"), t))
		}
		seen.Insert(t)
		if t == "" {
			errs = append(errs, field.Required(p.Index(i).Child("type"), ""))
		}
	}
	return errs
}

const preserveZeroSharesAnnotation = "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares"

func validatePriorityLevel(pl *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	p := field.NewPath("spec")
	s := pl.Spec
	var errs field.ErrorList
	if _, ok := pl.Annotations[preserveZeroSharesAnnotation]; ok {
		errs = append(errs, field.Forbidden(metadataPath.Child("annotations"), fmt.Sprintf("annotation '%s' is forbidden", preserveZeroSharesAnnotation)))
	}
	if (pl.Name == apfbootstrap.Exempt) != (s.Type == flowcontrolv1.PriorityLevelEnablementExempt) {
		errs = append(errs, field.Invalid(p.Child("type"), s.Type, "must be 'Exempt' if and only if `name` is 'exempt'"))
	}
	switch s.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if s.Limited != nil {
			errs = append(errs, field.Forbidden(p.Child("limited"), "must be nil if the type is not Limited"))
		}
		if e := s.Exempt; e != nil {
			if e.NominalConcurrencyShares != nil && *e.NominalConcurrencyShares < 0 {
				errs = append(errs, field.Invalid(p.Child("exempt", "nominalConcurrencyShares"), *e.NominalConcurrencyShares, "must be a non-negative integer"))
			}
			errs = append(errs, percent(e.LendablePercent, p.Child("exempt", "lendablePercent"))...)
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if s.Exempt != nil {
			errs = append(errs, field.Forbidden(p.Child("exempt"), "must be nil if the type is Limited"))
		}
		if s.Limited == nil {
			errs = append(errs, field.Required(p.Child("limited"), "must not be empty when type is Limited"))
		} else {
			errs = append(errs, validateLimitedLevel(s.Limited, p.Child("limited"))...)
		}
	case "":
		errs = append(errs, field.Required(p.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), s.Type, []string{"Exempt", "Limited"}))
	}
	for _, m := range apfbootstrap.MandatoryPriorityLevels() {
		if m.Name != pl.Name {
			continue
		}
		have := pl.Spec.DeepCopy()
		msg := "spec of '%s' must equal the fixed value"
		if pl.Name == apfbootstrap.Exempt {
			// The exempt level's exempt section is the operator's to tune.
			have.Exempt = m.Spec.Exempt
			msg = "spec of '%s' except the 'spec.exempt' field must equal the fixed value"
		}
		if !equality.Semantic.DeepEqual(*have, m.Spec) {
			errs = append(errs, field.Invalid(p, pl.Spec, fmt.Sprintf(msg, pl.Name)))
		}
	}
	return errs
}

func percent(v *int32, p *field.Path) field.ErrorList {
	if v != nil && (*v < 0 || *v > 100) {
		return field.ErrorList{field.Invalid(p, *v, "must be between 0 and 100, inclusive")}
	}
	return nil
}

func validateLimitedLevel(l *flowcontrolv1.LimitedPriorityLevelConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if n := l.NominalConcurrencyShares; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(p.Child("nominalConcurrencyShares"), *n, "must be a non-negative integer"))
	}
	lp := p.Child("limitResponse")
	switch l.LimitResponse.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if l.LimitResponse.Queuing != nil {
			errs = append(errs, field.Forbidden(lp.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited"))
		}
	case flowcontrolv1.LimitResponseTypeQueue:
		if q := l.LimitResponse.Queuing; q == nil {
			errs = append(errs, field.Required(lp.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited"))
		} else {
			errs = append(errs, validateQueuing(q, lp.Child("queuing"))...)
		}
	default:
		errs = append(errs, field.NotSupported(lp.Child("type"), l.LimitResponse.Type, []string{"Queue", "Reject"}))
	}
	errs = append(errs, percent(l.LendablePercent, p.Child("lendablePercent"))...)
	if b := l.BorrowingLimitPercent; b != nil && *b < 0 {
		errs = append(errs, field.Invalid(p.Child("borrowingLimitPercent"), *b, "if specified, must be a non-negative integer"))
	}
	return errs
}

func validateQueuing(q *flowcontrolv1.QueuingConfiguration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.QueueLengthLimit <= 0 {
		errs = append(errs, field.Invalid(p.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
	}
	if q.Queues <= 0 {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, "must be positive"))
	} else if q.Queues > plcMaxQueues {
		errs = append(errs, field.Invalid(p.Child("queues"), q.Queues, fmt.Sprintf("must not be greater than %d", plcMaxQueues)))
	}
	switch {
	case q.HandSize <= 0:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize, "must be positive"))
	case q.HandSize > q.Queues:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize, fmt.Sprintf("should not be greater than queues (%d)", q.Queues)))
	case int(math.Ceil(math.Log2(float64(q.Queues))*float64(q.HandSize))) > shuffleShardingMaxHashBits:
		errs = append(errs, field.Invalid(p.Child("handSize"), q.HandSize,
			fmt.Sprintf("required entropy bits of deckSize %d and handSize %d should not be greater than %d", q.Queues, q.HandSize, shuffleShardingMaxHashBits)))
	}
	return errs
}

// validateServiceCIDRs checks one CIDR or one of each family.
func validateServiceCIDRs(cidrs []string, p *field.Path) field.ErrorList {
	switch {
	case len(cidrs) == 0:
		return field.ErrorList{field.Required(p, "at least one CIDR required")}
	case len(cidrs) > 2:
		return field.ErrorList{field.Invalid(p, cidrs, "may only hold up to 2 values")}
	}
	var errs field.ErrorList
	for i, c := range cidrs {
		errs = append(errs, validation.IsValidCIDR(p.Index(i), c)...)
	}
	if len(cidrs) == 2 {
		a, errA := netip.ParsePrefix(cidrs[0])
		b, errB := netip.ParsePrefix(cidrs[1])
		if errA == nil && errB == nil && a.Addr().Is4() == b.Addr().Is4() {
			errs = append(errs, field.Invalid(p, cidrs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return errs
}

// validateServiceCIDRUpdate allows only adding a second family.
func validateServiceCIDRUpdate(c, old *networkingv1.ServiceCIDR) field.ErrorList {
	p := field.NewPath("spec", "cidrs")
	n, o := c.Spec.CIDRs, old.Spec.CIDRs
	var errs field.ErrorList
	switch {
	case len(n) == len(o):
		for i := range o {
			if n[i] != o[i] {
				errs = append(errs, field.Invalid(p.Index(i), n[i], fieldImmutableMsg))
			}
		}
	case len(o) == 1 && len(n) == 2:
		if n[0] != o[0] {
			errs = append(errs, field.Invalid(p.Index(0), n[0], fieldImmutableMsg))
		}
	default:
		errs = append(errs, field.Invalid(p, n, fieldImmutableMsg))
	}
	return errs
}

// ipAddressName requires the name to be an IP address in canonical form.
func ipAddressName(name string, _ bool) []string {
	var out []string
	for _, e := range validation.IsValidIP(&field.Path{}, name) {
		out = append(out, e.Detail)
	}
	return out
}

func validateParentRef(ref *networkingv1.ParentReference, p *field.Path) field.ErrorList {
	if ref == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if ref.Group != "" {
		errs = append(errs, dnsSubdomain(ref.Group, p.Child("group"))...)
	}
	for _, f := range []struct {
		name, value string
		required    bool
	}{{"resource", ref.Resource, true}, {"name", ref.Name, true}, {"namespace", ref.Namespace, false}} {
		switch {
		case f.value == "" && f.required:
			errs = append(errs, field.Required(p.Child(f.name), ""))
		case f.value != "":
			errs = append(errs, messages(p.Child(f.name), f.value, path.IsValidPathSegmentName(f.value))...)
		}
	}
	return errs
}

const maxTrustBundleSize = 1 << 20

func validateClusterTrustBundle(b *certificatesv1.ClusterTrustBundle) field.ErrorList {
	var errs field.ErrorList
	np := metadataPath.Child("name")
	if signer := b.Spec.SignerName; signer == "" {
		if strings.Contains(b.Name, ":") {
			errs = append(errs, field.Invalid(np, b.Name, "ClusterTrustBundle without signer name must not have \":\" in its name"))
		} else {
			errs = append(errs, messages(np, b.Name, apivalidation.NameIsDNSSubdomain(b.Name, false))...)
		}
	} else {
		prefix := strings.ReplaceAll(signer, "/", ":") + ":"
		if !strings.HasPrefix(b.Name, prefix) {
			errs = append(errs, field.Invalid(np, b.Name, fmt.Sprintf("ClusterTrustBundle for signerName %s must be named with prefix %s", signer, prefix)))
		} else {
			errs = append(errs, messages(np, b.Name, apivalidation.NameIsDNSSubdomain(strings.TrimPrefix(b.Name, prefix), false))...)
		}
		errs = append(errs, ctbSignerName(signer, field.NewPath("spec", "signerName"))...)
	}
	return append(errs, validateTrustBundle(b.Spec.TrustBundle, field.NewPath("spec", "trustBundle"))...)
}

// ctbSignerName is upstream's signer name rule: domain/path, the domain of
// at least two DNS labels.
func ctbSignerName(name string, p *field.Path) field.ErrorList {
	parts := strings.Split(name, "/")
	if len(parts) != 2 {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	if len(parts[0]) > validation.DNS1123SubdomainMaxLength {
		errs = append(errs, field.TooLong(p, "", validation.DNS1123SubdomainMaxLength))
	}
	labels := strings.Split(parts[0], ".")
	for _, l := range labels {
		if msgs := validation.IsDNS1123Label(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, parts[0], fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	if len(labels) < 2 {
		errs = append(errs, field.Invalid(p, parts[0], "should be a domain with at least two segments separated by dots"))
	}
	for _, l := range strings.Split(parts[1], ".") {
		if msgs := validation.IsDNS1123Subdomain(l); len(msgs) > 0 {
			for _, m := range msgs {
				errs = append(errs, field.Invalid(p, parts[1], fmt.Sprintf("validating label %q: %s", l, m)))
			}
			break
		}
	}
	if max := 2*validation.DNS1123SubdomainMaxLength + validation.DNS1123LabelMaxLength + 2; len(name) > max {
		errs = append(errs, field.TooLong(p, "", max))
	}
	return errs
}

// validateTrustBundle requires PEM CERTIFICATE blocks without headers, each
// a CA certificate, at least one and none twice.
func validateTrustBundle(in string, p *field.Path) field.ErrorList {
	if len(in) > maxTrustBundleSize {
		return field.ErrorList{field.TooLong(p, "", maxTrustBundleSize)}
	}
	var errs field.ErrorList
	seen := map[string][]int{}
	rest := []byte(in)
	for i := 0; ; i++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		var problem string
		switch cert, err := x509.ParseCertificate(b.Bytes); {
		case b.Type != "CERTIFICATE":
			problem = fmt.Sprintf("entry %d has bad block type: %v", i, b.Type)
		case len(b.Headers) != 0:
			problem = fmt.Sprintf("entry %d has PEM block headers", i)
		case err != nil:
			problem = fmt.Sprintf("entry %d does not parse as X.509", i)
		case !cert.IsCA:
			problem = fmt.Sprintf("entry %d does not have the CA bit set", i)
		case !cert.BasicConstraintsValid:
			problem = fmt.Sprintf("entry %d has invalid basic constraints", i)
		}
		if problem != "" {
			errs = append(errs, field.Invalid(p, "<value omitted>", problem))
			continue
		}
		seen[string(b.Bytes)] = append(seen[string(b.Bytes)], i)
	}
	if len(errs) > 0 {
		return errs
	}
	if len(seen) == 0 {
		errs = append(errs, field.Invalid(p, "<value omitted>", "at least one trust anchor must be provided"))
	}
	for _, idx := range seen {
		if len(idx) > 1 {
			errs = append(errs, field.Invalid(p, "<value omitted>", fmt.Sprintf("duplicate trust anchor (indices %v)", idx)))
		}
	}
	return errs
}

func validateStorageVersionMigration(m *storagemigrationv1.StorageVersionMigration) field.ErrorList {
	rp := field.NewPath("spec", "resource")
	var errs field.ErrorList
	if m.Spec.Resource.Resource == "" {
		errs = append(errs, field.Required(rp.Child("resource"), "resource is required to be set"))
	} else if msgs := validation.IsDNS1035Label(m.Spec.Resource.Resource); len(msgs) > 0 {
		errs = append(errs, field.Invalid(rp.Child("resource"), m.Spec.Resource.Resource, strings.Join(msgs, ",")))
	}
	if g := m.Spec.Resource.Group; g != "" {
		if msgs := validation.IsDNS1123Subdomain(g); len(msgs) > 0 {
			errs = append(errs, field.Invalid(rp.Child("group"), g, strings.Join(msgs, ",")))
		}
	}
	return errs
}

func validateStorageVersionMigrationStatus(m, old *storagemigrationv1.StorageVersionMigration) field.ErrorList {
	p := field.NewPath("status")
	errs := metav1validation.ValidateConditions(m.Status.Conditions, p.Child("conditions"))
	if o := old.Status.ResourceVersion; o != "" && o != m.Status.ResourceVersion {
		errs = append(errs, field.Invalid(p.Child("resourceVersion"), m.Status.ResourceVersion, fieldImmutableMsg))
	}
	isTrue := func(conds []metav1.Condition, t storagemigrationv1.MigrationConditionType) bool {
		return apimeta.IsStatusConditionTrue(conds, string(t))
	}
	succeeded, failed := isTrue(m.Status.Conditions, storagemigrationv1.MigrationSucceeded), isTrue(m.Status.Conditions, storagemigrationv1.MigrationFailed)
	cp := p.Child("conditions")
	if succeeded && failed {
		errs = append(errs, field.Invalid(cp, m.Status.Conditions, "Both success and failed conditions cannot be true at the same time"))
	}
	if isTrue(old.Status.Conditions, storagemigrationv1.MigrationSucceeded) && !succeeded {
		errs = append(errs, field.Invalid(cp, m.Status.Conditions, "Success condition cannot be set to false once it is true"))
	}
	if isTrue(old.Status.Conditions, storagemigrationv1.MigrationFailed) && !failed {
		errs = append(errs, field.Invalid(cp, m.Status.Conditions, "Failed condition cannot be set to false once it is true"))
	}
	return errs
}
