package validation

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePortRef checks a port given by number or by name.
func validatePortRef(port intstr.IntOrString, p *field.Path) field.ErrorList {
	if port.Type == intstr.String {
		return messages(p, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return portNum(port.IntVal, p)
}

// validateVolumes validates a pod's volumes and returns the set of names.
func validateVolumes(vols []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range vols {
		v := &vols[i]
		ip := p.Index(i)
		np := ip.Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(np, ""))
		case len(validation.IsDNS1123Label(v.Name)) != 0:
			errs = append(errs, dnsLabel(v.Name, np)...)
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(np, v.Name))
		default:
			names.Insert(v.Name)
		}
		errs = append(errs, validateVolumeSource(&v.VolumeSource, ip)...)
	}
	return names, errs
}

// volumeSourceNames lists the JSON names of the VolumeSource fields that
// are set.
func volumeSourceNames(s any) []string {
	var set []string
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			set = append(set, name)
		}
	}
	return set
}

func validateVolumeSource(s *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := volumeSourceNames(s)
	switch len(set) {
	case 0:
		return field.ErrorList{field.Required(p, "must specify a volume type")}
	case 1:
	default:
		for _, name := range set[1:] {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
		}
	}
	switch {
	case s.HostPath != nil:
		if s.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		}
		if s.HostPath.Type != nil {
			errs = append(errs, optionalEnum(*s.HostPath.Type, supportedHostPathTypes, p.Child("hostPath", "type"))...)
		}
	case s.EmptyDir != nil:
		if s.EmptyDir.SizeLimit != nil {
			errs = append(errs, nonNegativeQuantity(*s.EmptyDir.SizeLimit, p.Child("emptyDir", "sizeLimit"))...)
		}
	case s.ConfigMap != nil:
		cp := p.Child("configMap")
		if s.ConfigMap.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		}
		errs = append(errs, validateMode(s.ConfigMap.DefaultMode, cp.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, cp.Child("items"))...)
	case s.Secret != nil:
		sp := p.Child("secret")
		if s.Secret.SecretName == "" {
			errs = append(errs, field.Required(sp.Child("secretName"), ""))
		}
		errs = append(errs, validateMode(s.Secret.DefaultMode, sp.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(s.Secret.Items, sp.Child("items"))...)
	case s.PersistentVolumeClaim != nil:
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case s.DownwardAPI != nil:
		errs = append(errs, validateMode(s.DownwardAPI.DefaultMode, p.Child("downwardAPI", "defaultMode"))...)
	case s.Projected != nil:
		errs = append(errs, validateMode(s.Projected.DefaultMode, p.Child("projected", "defaultMode"))...)
	case s.NFS != nil:
		if s.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("nfs", "server"), ""))
		}
		if s.NFS.Path == "" {
			errs = append(errs, field.Required(p.Child("nfs", "path"), ""))
		}
	case s.CSI != nil:
		if s.CSI.Driver == "" {
			errs = append(errs, field.Required(p.Child("csi", "driver"), ""))
		}
	case s.Image != nil:
		if s.Image.Reference == "" {
			errs = append(errs, field.Required(p.Child("image", "reference"), ""))
		}
	}
	return errs
}

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev,
}

const maxFileMode = 0o777

func validateMode(mode *int32, p *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > maxFileMode) {
		return field.ErrorList{field.Invalid(p, *mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

func validateKeyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		ip := p.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		if it.Path == "" {
			errs = append(errs, field.Required(ip.Child("path"), ""))
		} else {
			errs = append(errs, localRelativePath(it.Path, ip.Child("path"))...)
		}
		errs = append(errs, validateMode(it.Mode, ip.Child("mode"))...)
	}
	return errs
}
