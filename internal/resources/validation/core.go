package validation

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func init() {
	subdomain := apivalidation.NameIsDNSSubdomain
	register(typedRules[*corev1.ConfigMap]{namespaced: true, name: subdomain, create: validateConfigMap, update: validateConfigMapUpdate})
	register(typedRules[*corev1.Secret]{namespaced: true, name: subdomain, create: validateSecret, update: validateSecretUpdate})
	register(typedRules[*corev1.ServiceAccount]{namespaced: true, name: apivalidation.ValidateServiceAccountName})
	register(typedRules[*corev1.Namespace]{name: apivalidation.ValidateNamespaceName, create: validateNamespace,
		status: func(ns, _ *corev1.Namespace) field.ErrorList {
			return optionalEnum(ns.Status.Phase, []corev1.NamespacePhase{corev1.NamespaceActive, corev1.NamespaceTerminating}, field.NewPath("status", "phase"))
		}})
	register(typedRules[*corev1.Node]{name: subdomain, create: validateNode, update: validateNodeUpdate, status: validateNodeStatus})
	register(typedRules[*corev1.PersistentVolume]{name: subdomain, create: validatePV, update: validatePVUpdate,
		status: func(pv, _ *corev1.PersistentVolume) field.ErrorList {
			return optionalEnum(pv.Status.Phase, []corev1.PersistentVolumePhase{corev1.VolumePending, corev1.VolumeAvailable, corev1.VolumeBound, corev1.VolumeReleased, corev1.VolumeFailed}, field.NewPath("status", "phase"))
		}})
	register(typedRules[*corev1.PersistentVolumeClaim]{namespaced: true, name: subdomain, create: validatePVC, update: validatePVCUpdate, status: validatePVCStatus})
	register(typedRules[*corev1.ResourceQuota]{namespaced: true, name: subdomain, create: validateResourceQuota,
		status: func(q, _ *corev1.ResourceQuota) field.ErrorList {
			p := field.NewPath("status")
			return append(quotaList(q.Status.Hard, p.Child("hard")), quotaList(q.Status.Used, p.Child("used"))...)
		}})
	register(typedRules[*corev1.LimitRange]{namespaced: true, name: subdomain, create: validateLimitRange})
	register(typedRules[*corev1.ReplicationController]{namespaced: true, name: subdomain, create: validateRC,
		status: func(rc, _ *corev1.ReplicationController) field.ErrorList {
			s, p := rc.Status, field.NewPath("status")
			return replicaCounts(p, map[string]int32{"replicas": s.Replicas, "fullyLabeledReplicas": s.FullyLabeledReplicas,
				"readyReplicas": s.ReadyReplicas, "availableReplicas": s.AvailableReplicas}, s.ObservedGeneration)
		}})
	register(typedRules[*corev1.Endpoints]{namespaced: true, name: subdomain, create: validateEndpoints})
	register(typedRules[*corev1.Event]{namespaced: true, name: subdomain, create: validateCoreEvent})
}

// maxDataSize bounds the data of a ConfigMap or Secret (1 MiB).
const maxDataSize = corev1.MaxSecretSize

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for key, v := range cm.Data {
		kp := field.NewPath("data").Key(key)
		errs = append(errs, messages(kp, key, validation.IsConfigMapKey(key))...)
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(kp, key, "duplicate of key present in binaryData"))
		}
		size += len(v)
	}
	for key, v := range cm.BinaryData {
		kp := field.NewPath("binaryData").Key(key)
		errs = append(errs, messages(kp, key, validation.IsConfigMapKey(key))...)
		size += len(v)
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", maxDataSize))
	}
	return errs
}

const immutableDataMsg = "field is immutable when `immutable` is set"

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	return validateImmutableData(old.Immutable, cm.Immutable,
		!equality.Semantic.DeepEqual(cm.Data, old.Data), !equality.Semantic.DeepEqual(cm.BinaryData, old.BinaryData), "binaryData")
}

// validateImmutableData enforces `immutable: true` on ConfigMaps and
// Secrets: the flag cannot be cleared and the data cannot change.
func validateImmutableData(oldFlag, newFlag *bool, dataChanged, otherChanged bool, other string) field.ErrorList {
	if oldFlag == nil || !*oldFlag {
		return nil
	}
	var errs field.ErrorList
	if newFlag == nil || !*newFlag {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableDataMsg))
	}
	if dataChanged {
		errs = append(errs, field.Forbidden(field.NewPath("data"), immutableDataMsg))
	}
	if otherChanged {
		errs = append(errs, field.Forbidden(field.NewPath(other), immutableDataMsg))
	}
	return errs
}

// requiredSecretKeys are the data keys each built-in secret type needs.
var requiredSecretKeys = map[corev1.SecretType][]string{
	corev1.SecretTypeDockercfg:        {corev1.DockerConfigKey},
	corev1.SecretTypeDockerConfigJson: {corev1.DockerConfigJsonKey},
	corev1.SecretTypeSSHAuth:          {corev1.SSHAuthPrivateKey},
	corev1.SecretTypeTLS:              {corev1.TLSCertKey, corev1.TLSPrivateKeyKey},
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dp := field.NewPath("data")
	size := 0
	for key, v := range s.Data {
		errs = append(errs, messages(dp.Key(key), key, validation.IsConfigMapKey(key))...)
		size += len(v)
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(dp, "", maxDataSize))
	}
	for _, key := range requiredSecretKeys[s.Type] {
		if _, ok := s.Data[key]; !ok {
			errs = append(errs, field.Required(dp.Key(key), ""))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(metadataPath.Child("annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, pw := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !pw {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""))
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case "":
		errs = append(errs, field.Required(field.NewPath("type"), ""))
	}
	return errs
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := immutable(s.Type, old.Type, field.NewPath("type"))
	return append(errs, validateImmutableData(old.Immutable, s.Immutable, !equality.Semantic.DeepEqual(s.Data, old.Data), false, "")...)
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "finalizers")
	for _, f := range ns.Spec.Finalizers {
		errs = append(errs, qualifiedName(string(f), p)...)
	}
	errs = append(errs, validateFinalizerNames(finalizerStrings(ns.Spec.Finalizers), p)...)
	return errs
}

func finalizerStrings(fs []corev1.FinalizerName) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func validateNode(n *corev1.Node) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if n.Spec.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(p.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		errs = append(errs, field.Invalid(p.Child("podCIDRs").Index(0), n.Spec.PodCIDRs[0], "must match `podCIDR`"))
	}
	if len(n.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.Invalid(p.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(p.Child("podCIDRs").Index(i), c)...)
	}
	errs = append(errs, validateTaints(n.Spec.Taints, p.Child("taints"))...)
	return errs
}

func validateTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, t := range taints {
		ip := p.Index(i)
		if t.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		} else {
			errs = append(errs, qualifiedName(t.Key, ip.Child("key"))...)
		}
		if t.Value != "" {
			errs = append(errs, messages(ip.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		}
		errs = append(errs, enum(t.Effect, supportedTaintEffects, ip.Child("effect"))...)
		key := t.Key + ":" + string(t.Effect)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(ip, key))
		}
		seen.Insert(key)
	}
	return errs
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if old.Spec.PodCIDR != "" && n.Spec.PodCIDR != old.Spec.PodCIDR {
		errs = append(errs, field.Forbidden(p.Child("podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if len(old.Spec.PodCIDRs) > 0 && !reflect.DeepEqual(n.Spec.PodCIDRs, old.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(p.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && n.Spec.ProviderID != old.Spec.ProviderID {
		errs = append(errs, field.Forbidden(p.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

func validateNodeStatus(n, _ *corev1.Node) field.ErrorList {
	p := field.NewPath("status")
	errs := resourceList(n.Status.Capacity, p.Child("capacity"))
	errs = append(errs, resourceList(n.Status.Allocatable, p.Child("allocatable"))...)
	for i, a := range n.Status.Addresses {
		if a.Address == "" {
			errs = append(errs, field.Required(p.Child("addresses").Index(i).Child("address"), ""))
		}
	}
	return errs
}

var (
	supportedAccessModes    = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}
	supportedReclaimPolicys = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
	supportedVolumeModes    = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, "at least 1 access mode is required")}
	}
	var errs field.ErrorList
	for _, m := range modes {
		errs = append(errs, enum(m, supportedAccessModes, p)...)
	}
	if len(modes) > 1 && sets.New(modes...).Has(corev1.ReadWriteOncePod) {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validatePV(pv *corev1.PersistentVolume) field.ErrorList {
	p := field.NewPath("spec")
	errs := validateAccessModes(pv.Spec.AccessModes, p.Child("accessModes"))
	cp := p.Child("capacity")
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(cp, ""))
	} else if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok || len(pv.Spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(cp, sets.List(sets.KeySet(pv.Spec.Capacity)), []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for name, q := range pv.Spec.Capacity {
		errs = append(errs, nonNegativeQuantity(q, cp.Key(string(name)))...)
	}
	errs = append(errs, optionalEnum(pv.Spec.PersistentVolumeReclaimPolicy, supportedReclaimPolicys, p.Child("persistentVolumeReclaimPolicy"))...)
	if pv.Spec.VolumeMode != nil {
		errs = append(errs, enum(*pv.Spec.VolumeMode, supportedVolumeModes, p.Child("volumeMode"))...)
	}
	if pv.Spec.StorageClassName != "" {
		errs = append(errs, dnsSubdomain(pv.Spec.StorageClassName, p.Child("storageClassName"))...)
	}
	src := &pv.Spec.PersistentVolumeSource
	set := volumeSourceNames(src)
	switch len(set) {
	case 0:
		errs = append(errs, field.Required(p, "must specify a volume type"))
	case 1:
	default:
		for _, name := range set[1:] {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
		}
	}
	switch {
	case src.HostPath != nil:
		if src.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		}
	case src.Local != nil:
		if src.Local.Path == "" {
			errs = append(errs, field.Required(p.Child("local", "path"), ""))
		}
		if pv.Spec.NodeAffinity == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	case src.NFS != nil:
		if src.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("nfs", "server"), ""))
		}
		if src.NFS.Path == "" {
			errs = append(errs, field.Required(p.Child("nfs", "path"), ""))
		}
	case src.CSI != nil:
		if src.CSI.Driver == "" {
			errs = append(errs, field.Required(p.Child("csi", "driver"), ""))
		}
		if src.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(p.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

func validatePVUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(p.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, p.Child("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		errs = append(errs, immutable(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, p.Child("nodeAffinity"))...)
	}
	return errs
}

func validatePVC(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePVCSpec(&pvc.Spec, field.NewPath("spec"))
}

func validatePVCSpec(spec *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	errs := validateAccessModes(spec.AccessModes, p.Child("accessModes"))
	if spec.Selector != nil {
		errs = append(errs, labelSelector(spec.Selector, p.Child("selector"))...)
	}
	rp := p.Child("resources", "requests")
	storage, ok := spec.Resources.Requests[corev1.ResourceStorage]
	switch {
	case !ok:
		errs = append(errs, field.Required(p.Child("resources").Key(string(corev1.ResourceStorage)), ""))
	case storage.Sign() <= 0:
		errs = append(errs, field.Invalid(rp.Key(string(corev1.ResourceStorage)), storage.String(), notPositiveMsg))
	}
	errs = append(errs, validateResources(&corev1.ResourceRequirements{Limits: spec.Resources.Limits, Requests: spec.Resources.Requests}, p.Child("resources"))...)
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		errs = append(errs, dnsSubdomain(*spec.StorageClassName, p.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil {
		errs = append(errs, enum(*spec.VolumeMode, supportedVolumeModes, p.Child("volumeMode"))...)
	}
	return errs
}

// validatePVCUpdate keeps a claim's spec fixed except for the volume name
// (set once, by binding) and, for bound claims, the requested resources,
// which may not drop below the provisioned capacity.
func validatePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	mutable := old.Spec.DeepCopy()
	if old.Spec.VolumeName == "" {
		mutable.VolumeName = pvc.Spec.VolumeName
	}
	bound := old.Status.Phase == corev1.ClaimBound
	if bound {
		mutable.Resources.Requests = pvc.Spec.Resources.Requests
		mutable.VolumeAttributesClassName = pvc.Spec.VolumeAttributesClassName
	}
	if !equality.Semantic.DeepEqual(mutable, &pvc.Spec) {
		errs = append(errs, field.Forbidden(p, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	if bound {
		newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if capacity, ok := old.Status.Capacity[corev1.ResourceStorage]; ok && newSize.Cmp(capacity) < 0 {
			errs = append(errs, field.Forbidden(p.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
		}
	}
	return errs
}

func validatePVCStatus(pvc, _ *corev1.PersistentVolumeClaim) field.ErrorList {
	p := field.NewPath("status")
	errs := optionalEnum(pvc.Status.Phase, []corev1.PersistentVolumeClaimPhase{corev1.ClaimPending, corev1.ClaimBound, corev1.ClaimLost}, p.Child("phase"))
	for name, q := range pvc.Status.Capacity {
		errs = append(errs, nonNegativeQuantity(q, p.Child("capacity").Key(string(name)))...)
	}
	return errs
}

var supportedQuotaScopes = []corev1.ResourceQuotaScope{
	corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeBestEffort,
	corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
	corev1.ResourceQuotaScopeVolumeAttributesClass,
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	p := field.NewPath("spec")
	errs := quotaList(q.Spec.Hard, p.Child("hard"))
	for i, s := range q.Spec.Scopes {
		errs = append(errs, enum(s, supportedQuotaScopes, p.Child("scopes").Index(i))...)
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		for i, m := range sel.MatchExpressions {
			errs = append(errs, enum(m.ScopeName, supportedQuotaScopes, p.Child("scopeSelector", "matchExpressions").Index(i).Child("scopeName"))...)
		}
	}
	return errs
}

// quotaList checks a quota's resource list: quota names (pods,
// requests.cpu, count/deployments.apps, ...) are qualified names, not
// compute resource names, and no quantity is negative.
func quotaList(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, v := range list {
		kp := p.Key(string(name))
		errs = append(errs, qualifiedName(string(name), kp)...)
		errs = append(errs, nonNegativeQuantity(v, kp)...)
	}
	return errs
}

var supportedLimitTypes = []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}

func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		ip := field.NewPath("spec", "limits").Index(i)
		errs = append(errs, enum(item.Type, supportedLimitTypes, ip.Child("type"))...)
		for _, l := range []struct {
			name string
			list corev1.ResourceList
		}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
			errs = append(errs, resourceList(l.list, ip.Child(l.name))...)
		}
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		errs = append(errs, limitOrder(item, ip)...)
	}
	return errs
}

// limitOrder checks min <= defaultRequest <= default <= max per resource.
func limitOrder(item *corev1.LimitRangeItem, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	greater := func(a, b resource.Quantity) bool { return a.Cmp(b) > 0 }
	for name, min := range item.Min {
		if max, ok := item.Max[name]; ok && greater(min, max) {
			errs = append(errs, field.Invalid(p.Child("min").Key(string(name)), min.String(), fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
		}
		if def, ok := item.Default[name]; ok && greater(min, def) {
			errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), def.String(), fmt.Sprintf("min value %s is greater than default value %s", min.String(), def.String())))
		}
		if req, ok := item.DefaultRequest[name]; ok && greater(min, req) {
			errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), req.String(), fmt.Sprintf("min value %s is greater than default request value %s", min.String(), req.String())))
		}
	}
	for name, def := range item.Default {
		if max, ok := item.Max[name]; ok && greater(def, max) {
			errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), def.String(), fmt.Sprintf("default value %s is greater than max value %s", def.String(), max.String())))
		}
		if req, ok := item.DefaultRequest[name]; ok && greater(req, def) {
			errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), req.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", req.String(), def.String())))
		}
	}
	one := resource.MustParse("1")
	for name, ratio := range item.MaxLimitRequestRatio {
		if ratio.Cmp(one) < 0 {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(string(name)), ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
		}
	}
	return errs
}

func validateRC(rc *corev1.ReplicationController) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(p.Child("selector"), ""))
	} else {
		errs = append(errs, validateLabelsMap(rc.Spec.Selector, p.Child("selector"))...)
	}
	errs = append(errs, nonNegative32(rc.Spec.Replicas, p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(rc.Spec.MinReadySeconds), p.Child("minReadySeconds"))...)
	tp := p.Child("template")
	if rc.Spec.Template == nil {
		return append(errs, field.Required(tp, ""))
	}
	if len(rc.Spec.Selector) > 0 && !selectorSubset(rc.Spec.Selector, rc.Spec.Template.Labels) {
		errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), rc.Spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validatePodTemplateSpec(rc.Spec.Template, nil, tp)...)
	errs = append(errs, restartAlways(rc.Spec.Template.Spec.RestartPolicy, tp)...)
	return errs
}

func selectorSubset(sel, lbls map[string]string) bool {
	for k, v := range sel {
		if lbls[k] != v {
			return false
		}
	}
	return true
}

// restartAlways requires a long-running workload's pods to restart Always.
func restartAlways(policy corev1.RestartPolicy, templatePath *field.Path) field.ErrorList {
	if policy != corev1.RestartPolicyAlways {
		return field.ErrorList{field.NotSupported(templatePath.Child("spec", "restartPolicy"), policy, []corev1.RestartPolicy{corev1.RestartPolicyAlways})}
	}
	return nil
}

// replicaCounts checks that status counters are not negative.
func replicaCounts(p *field.Path, counts map[string]int32, observedGeneration int64) field.ErrorList {
	var errs field.ErrorList
	for name, v := range counts {
		errs = append(errs, nonNegative(int64(v), p.Child(name))...)
	}
	return append(errs, nonNegative(observedGeneration, p.Child("observedGeneration"))...)
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range ep.Subsets {
		ip := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(ip, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(a, ip.Child("addresses").Index(j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(a, ip.Child("notReadyAddresses").Index(j))...)
		}
		if len(ss.Ports) == 0 {
			errs = append(errs, field.Required(ip.Child("ports"), ""))
		}
		for j, port := range ss.Ports {
			pp := ip.Child("ports").Index(j)
			if port.Name == "" && len(ss.Ports) > 1 {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dnsLabel(port.Name, pp.Child("name"))...)
			}
			errs = append(errs, portNum(port.Port, pp.Child("port"))...)
			errs = append(errs, enum(port.Protocol, supportedProtocols, pp.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dnsLabel(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, dnsSubdomain(*a.NodeName, p.Child("nodeName"))...)
	}
	return errs
}

var supportedEventTypes = []string{corev1.EventTypeNormal, corev1.EventTypeWarning}

func validateCoreEvent(ev *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if ns := ev.InvolvedObject.Namespace; ns != "" && ns != ev.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), ns, "does not match event.namespace"))
	}
	if ev.Type != "" {
		errs = append(errs, enum(ev.Type, supportedEventTypes, field.NewPath("type"))...)
	}
	if ev.ReportingController != "" {
		errs = append(errs, qualifiedName(ev.ReportingController, field.NewPath("reportingComponent"))...)
	}
	for _, f := range []struct {
		name, value string
	}{{"action", ev.Action}, {"reason", ev.Reason}, {"reportingInstance", ev.ReportingInstance}} {
		if len(f.value) > 128 {
			errs = append(errs, field.TooLong(field.NewPath(f.name), "", 128))
		}
	}
	if len(ev.Message) > 4096 {
		errs = append(errs, field.TooLong(field.NewPath("message"), "", 4096))
	}
	return errs
}

// validateLabelsMap validates a map used as an equality selector.
func validateLabelsMap(m map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, v := range m {
		errs = append(errs, qualifiedName(k, p)...)
		errs = append(errs, messages(p, v, validation.IsValidLabelValue(v))...)
	}
	return errs
}
