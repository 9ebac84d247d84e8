package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func numCPU() int { return goruntime.NumCPU() }

// Volume directories under the pod's directory, named by plugin as
// upstream names them so tools that look there find them.
const (
	emptyDirPlugin  = "kubernetes.io~empty-dir"
	configMapPlugin = "kubernetes.io~configmap"
	secretPlugin    = "kubernetes.io~secret"
	downwardPlugin  = "kubernetes.io~downward-api"
	projectedPlugin = "kubernetes.io~projected"
)

// volumePath is where volume v of the pod lives on the host.
func (w *podWorker) volumePath(pod *corev1.Pod, v *corev1.Volume) (string, bool) {
	dir := filepath.Join(w.k.podDir(pod.UID), "volumes")
	switch {
	case v.EmptyDir != nil:
		return filepath.Join(dir, emptyDirPlugin, v.Name), true
	case v.HostPath != nil:
		return v.HostPath.Path, true
	case v.ConfigMap != nil:
		return filepath.Join(dir, configMapPlugin, v.Name), true
	case v.Secret != nil:
		return filepath.Join(dir, secretPlugin, v.Name), true
	case v.DownwardAPI != nil:
		return filepath.Join(dir, downwardPlugin, v.Name), true
	case v.Projected != nil:
		return filepath.Join(dir, projectedPlugin, v.Name), true
	case v.PersistentVolumeClaim != nil:
		path, ok := w.claimPaths[v.Name] // resolved by setUpVolume (pvc.go)
		return path, ok
	}
	return "", false
}

// podHasRefreshedVolumes reports whether the pod has volumes whose content
// follows API objects (and so is rewritten periodically).
func podHasRefreshedVolumes(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil {
			return true
		}
	}
	return false
}

// setUpVolumes prepares every volume of the pod and the pod's /etc/hosts.
// It is idempotent; contents of API-backed volumes are rewritten when
// they changed.
func (w *podWorker) setUpVolumes(ctx context.Context, pod *corev1.Pod) error {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if err := w.setUpVolume(ctx, pod, v); err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
	}
	return w.writeEtcHosts(pod)
}

func (w *podWorker) setUpVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) error {
	if v.PersistentVolumeClaim != nil {
		path, err := w.resolveClaim(ctx, pod, v.PersistentVolumeClaim)
		if err != nil {
			return err
		}
		w.claimPaths[v.Name] = path
		return nil
	}
	path, ok := w.volumePath(pod, v)
	if !ok {
		return fmt.Errorf("volume type not supported by this node")
	}
	switch {
	case v.EmptyDir != nil:
		// 0777 once, at creation (past the umask), as upstream: a later
		// resync must not undo a chmod from inside the pod, nor clear the
		// sticky bit of a tmpfs root.
		if _, err := os.Stat(path); os.IsNotExist(err) {
			if err := os.MkdirAll(path, 0o777); err != nil {
				return err
			}
			if err := os.Chmod(path, 0o777); err != nil {
				return err
			}
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory && !isMountPoint(path) {
			// No mode option: the tmpfs root keeps its 1777, as upstream's.
			var allocatable int64
			if q, ok := w.k.allocatable()[corev1.ResourceMemory]; ok {
				allocatable = q.Value()
			}
			var opts string
			if size := emptyDirMemorySize(allocatable, pod, v.EmptyDir); size > 0 {
				opts = "size=" + strconv.FormatInt(size, 10)
			}
			if err := syscall.Mount("tmpfs", path, "tmpfs", 0, opts); err != nil {
				return fmt.Errorf("mounting tmpfs: %w", err)
			}
		}
		return nil
	case v.HostPath != nil:
		return checkHostPath(v.HostPath)
	case v.ConfigMap != nil:
		files, err := w.configMapFiles(ctx, pod, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode)
		if err != nil {
			return err
		}
		return writeAtomic(path, files)
	case v.Secret != nil:
		files, err := w.secretFiles(ctx, pod, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode)
		if err != nil {
			return err
		}
		return writeAtomic(path, files)
	case v.DownwardAPI != nil:
		files, err := w.downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		if err != nil {
			return err
		}
		return writeAtomic(path, files)
	case v.Projected != nil:
		files := map[string]fileContent{}
		for _, src := range v.Projected.Sources {
			var part map[string]fileContent
			var err error
			switch {
			case src.ConfigMap != nil:
				part, err = w.configMapFiles(ctx, pod, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, v.Projected.DefaultMode)
			case src.Secret != nil:
				part, err = w.secretFiles(ctx, pod, src.Secret.Name, src.Secret.Items, src.Secret.Optional, v.Projected.DefaultMode)
			case src.DownwardAPI != nil:
				part, err = w.downwardFiles(pod, src.DownwardAPI.Items, v.Projected.DefaultMode)
			case src.ServiceAccountToken != nil:
				part, err = w.tokenFile(ctx, pod, src.ServiceAccountToken, v.Projected.DefaultMode)
			}
			if err != nil {
				return err
			}
			for name, f := range part {
				files[name] = f
			}
		}
		return writeAtomic(path, files)
	}
	return nil
}

// emptyDirMemorySize is the size of a memory-backed emptyDir's tmpfs, as
// upstream sizes it: the node's allocatable memory, or the pod's memory
// limit when it has one and it is smaller, or the volume's sizeLimit when
// set and smaller still.
func emptyDirMemorySize(allocatable int64, pod *corev1.Pod, ed *corev1.EmptyDirVolumeSource) int64 {
	size := allocatable
	if limit := podMemoryLimit(pod); limit > 0 && (size <= 0 || limit <= size) {
		size = limit
	}
	if ed.SizeLimit != nil {
		if limit := ed.SizeLimit.Value(); limit > 0 && (size <= 0 || limit <= size) {
			size = limit
		}
	}
	return size
}

// podMemoryLimit is the memory limit upstream gives the pod's cgroup: the
// containers' limits added up as podRequests adds requests (app
// containers and sidecars, or the largest init container step, plus the
// overhead), and 0 (none) unless every container declares one.
func podMemoryLimit(pod *corev1.Pod) int64 {
	limits := pod.DeepCopy()
	for _, c := range allContainers(limits) {
		q, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0
		}
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: q}
	}
	limits.Spec.Overhead = corev1.ResourceList{}
	if q, ok := pod.Spec.Overhead[corev1.ResourceMemory]; ok {
		limits.Spec.Overhead[corev1.ResourceMemory] = q
	}
	total := podRequests(limits)[corev1.ResourceMemory]
	return total.Value()
}

// checkHostPath applies the hostPath volume's type check, creating the
// path for the *OrCreate types.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(h.Path, 0o755)
		}
		if err == nil && !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
		return err
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if err == nil && fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", h.Path)
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s does not exist", h.Path)
	}
	mode := fi.Mode()
	ok := map[corev1.HostPathType]bool{
		corev1.HostPathDirectory: mode.IsDir(),
		corev1.HostPathFile:      mode.IsRegular(),
		corev1.HostPathSocket:    mode&os.ModeSocket != 0,
		corev1.HostPathCharDev:   mode&os.ModeCharDevice != 0,
		corev1.HostPathBlockDev:  mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0,
	}[t]
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, t)
	}
	return nil
}

// fileContent is one file of an API-backed volume.
type fileContent struct {
	data []byte
	mode os.FileMode
}

func modeOr(m *int32, def int32) os.FileMode {
	if m != nil {
		return os.FileMode(*m)
	}
	return os.FileMode(def)
}

func (w *podWorker) configMapFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, optional *bool, defMode *int32) (map[string]fileContent, error) {
	cm, err := w.k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, optional, defMode, "configmap", name)
}

func (w *podWorker) secretFiles(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, optional *bool, defMode *int32) (map[string]fileContent, error) {
	s, err := w.k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	return keyFiles(s.Data, items, optional, defMode, "secret", name)
}

// keyFiles maps data keys to files: all keys, or only the listed items.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, optional *bool, defMode *int32, kind, name string) (map[string]fileContent, error) {
	def := modeOr(defMode, corev1.ConfigMapVolumeSourceDefaultMode)
	out := map[string]fileContent{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileContent{data: v, mode: def}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, fmt.Errorf("configure %s %q: key %q not found", kind, name, it.Key)
		}
		out[it.Path] = fileContent{data: v, mode: modeOr(it.Mode, int32(def))}
	}
	return out, nil
}

func (w *podWorker) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defMode *int32) (map[string]fileContent, error) {
	def := modeOr(defMode, corev1.DownwardAPIVolumeSourceDefaultMode)
	out := map[string]fileContent{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podFieldValue(pod, it.FieldRef.FieldPath, w.k.cfg.NodeIP.String())
		case it.ResourceFieldRef != nil:
			v, err = resourceFieldValue(pod, nil, it.ResourceFieldRef, w.k.allocatable())
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = fileContent{data: []byte(v), mode: modeOr(it.Mode, int32(def))}
	}
	return out, nil
}

// tokenFile requests a bound service account token for the pod.
func (w *podWorker) tokenFile(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, defMode *int32) (map[string]fileContent, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	expiry := src.ExpirationSeconds
	if expiry == nil {
		expiry = ptr.To[int64](3600)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: expiry,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	resp, err := w.k.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to fetch token: %w", err)
	}
	mode := modeOr(defMode, corev1.ProjectedVolumeSourceDefaultMode)
	return map[string]fileContent{src.Path: {data: []byte(resp.Status.Token), mode: mode}}, nil
}

// writeAtomic makes dir hold exactly files, switching from the old set to
// the new one in one rename, so a container reading the (bind-mounted)
// directory never sees a mix: the files live in a timestamped directory,
// "..data" links to it, and each visible name links through "..data".
func writeAtomic(dir string, files map[string]fileContent) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if same(dir, files) {
		return nil
	}
	stamp := "..skiff_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	tsDir := filepath.Join(dir, stamp)
	if err := os.Mkdir(tsDir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name, f := range files {
		p := filepath.Join(tsDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode.Perm()); err != nil {
			return err
		}
		names = append(names, name)
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(stamp, tmpLink); err != nil {
		return err
	}
	oldTarget, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	// Top-level names link through ..data; stale ones go.
	want := map[string]bool{}
	for _, name := range names {
		top := strings.SplitN(name, "/", 2)[0]
		want[top] = true
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", top) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") {
			if strings.HasPrefix(n, "..skiff_") && n != stamp {
				_ = os.RemoveAll(filepath.Join(dir, n))
			}
			continue
		}
		if !want[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	_ = oldTarget
	return nil
}

// same reports whether dir already holds exactly files.
func same(dir string, files map[string]fileContent) bool {
	data := filepath.Join(dir, "..data")
	if _, err := os.Stat(data); err != nil {
		return false
	}
	count := 0
	err := filepath.Walk(data+"/", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		f, ok := files[rel]
		if !ok || fi.Mode().Perm() != f.mode.Perm() {
			return errors.New("differs")
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != string(f.data) {
			return errors.New("differs")
		}
		count++
		return nil
	})
	return err == nil && count == len(files)
}

// writeEtcHosts writes the pod's /etc/hosts (not for host-network pods,
// which see the host's).
func (w *podWorker) writeEtcHosts(pod *corev1.Pod) error {
	if pod.Spec.HostNetwork {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if pod.Status.PodIP != "" {
		fqdn := hostname
		if pod.Spec.Subdomain != "" {
			fqdn = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", hostname, pod.Spec.Subdomain, pod.Namespace, w.k.cfg.ClusterDomain, hostname)
		}
		fmt.Fprintf(&b, "%s\t%s\n", pod.Status.PodIP, fqdn)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	path := filepath.Join(w.k.podDir(pod.UID), "etc-hosts")
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return nil
	}
	// Rewrite in place: the file is bind-mounted, a rename would not show.
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// containerMounts returns the CRI mounts of c: its volume mounts, then
// /etc/hosts unless it mounts its own.
func (w *podWorker) containerMounts(pod *corev1.Pod, c *corev1.Container) ([]*runtimeapi.Mount, error) {
	vols := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	var out []*runtimeapi.Mount
	hasHosts := false
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", m.Name, c.Name)
		}
		host, ok := w.volumePath(pod, v)
		if !ok {
			return nil, fmt.Errorf("volume %q: type not supported by this node", m.Name)
		}
		if m.SubPath != "" {
			host = filepath.Join(host, m.SubPath)
			if v.EmptyDir != nil || v.HostPath != nil || v.PersistentVolumeClaim != nil {
				if err := os.MkdirAll(host, 0o777); err != nil {
					return nil, err
				}
			}
		}
		readOnly := m.ReadOnly || (v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly) || v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
		mount := &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: readOnly}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case corev1.MountPropagationBidirectional:
				mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, mount)
		if m.MountPath == "/etc/hosts" {
			hasHosts = true
		}
	}
	if !pod.Spec.HostNetwork && !hasHosts {
		out = append(out, &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: filepath.Join(w.k.podDir(pod.UID), "etc-hosts")})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].ContainerPath) < len(out[j].ContainerPath) })
	return out, nil
}

// tearDownVolumes unmounts the pod's memory-backed volumes and removes its
// directory (logs included).
func (w *podWorker) tearDownVolumes() error {
	dir := w.k.podDir(w.uid)
	emptyDirs, _ := os.ReadDir(filepath.Join(dir, "volumes", emptyDirPlugin))
	for _, e := range emptyDirs {
		p := filepath.Join(dir, "volumes", emptyDirPlugin, e.Name())
		if isMountPoint(p) {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
				return fmt.Errorf("unmounting %s: %w", p, err)
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.RemoveAll(w.k.podLogDir(w.namespace, w.name, w.uid))
}

// isMountPoint reports whether path is a mount point (its device differs
// from its parent's).
func isMountPoint(path string) bool {
	var st, parent syscall.Stat_t
	if syscall.Lstat(path, &st) != nil || syscall.Lstat(filepath.Dir(path), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
