package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// annotationTerminationLog records, on a CRI container, the host file
// mounted at its terminationMessagePath.
const annotationTerminationLog = "io.skiff.termination-log"

// Image pull states, as upstream reports them in container status.
const (
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCreateConfigError = "CreateContainerConfigError"
	reasonCreateError       = "CreateContainerError"
	reasonRunError          = "RunContainerError"
)

// errWaiting is a container start failure already recorded as a waiting
// reason; the worker retries after the returned delay.
var errWaiting = errors.New("kubelet: container waiting")

// createSandbox runs a new sandbox for the pod (its network namespace
// with an address from CNI, or the host's).
func (w *podWorker) createSandbox(ctx context.Context, pod *corev1.Pod, state *podRuntime) (*runtimeapi.PodSandbox, error) {
	attempt := uint32(0)
	for _, s := range state.sandboxes {
		attempt = max(attempt, s.GetMetadata().GetAttempt()+1)
	}
	cfg, err := w.sandboxConfig(pod, attempt)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{w.k.podDir(pod.UID), cfg.LogDirectory} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
	}
	resp, err := w.k.cfg.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandbox{Id: resp.PodSandboxId, Metadata: cfg.Metadata, State: runtimeapi.PodSandboxState_SANDBOX_READY}, nil
}

// sandboxConfig is the CRI sandbox configuration of the pod; container
// creation passes the same one.
func (w *podWorker) sandboxConfig(pod *corev1.Pod, attempt uint32) (*runtimeapi.PodSandboxConfig, error) {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if pod.Spec.HostNetwork {
		hostname = ""
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	var ports []*runtimeapi.PortMapping
	for _, c := range allContainers(pod) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			ports = append(ports, &runtimeapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	dns, err := w.dnsConfig(pod)
	if err != nil {
		return nil, err
	}
	var sysctls map[string]string
	var supGroups []int64
	var runAsUser, runAsGroup *runtimeapi.Int64Value
	if sc := pod.Spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			if sysctls == nil {
				sysctls = map[string]string{}
			}
			sysctls[s.Name] = s.Value
		}
		if sc.FSGroup != nil {
			supGroups = append(supGroups, *sc.FSGroup)
		}
		supGroups = append(supGroups, sc.SupplementalGroups...)
		if sc.RunAsUser != nil {
			runAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			runAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
	}
	privileged := false
	for _, c := range allContainers(pod) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			privileged = true
		}
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: w.k.podLogDir(pod.Namespace, pod.Name, pod.UID),
		DnsConfig:    dns,
		PortMappings: ports,
		Labels:       w.labels(pod, ""),
		Annotations:  annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: w.k.cgroupParent(pod),
			Sysctls:      sysctls,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions:   namespaceOptions(pod),
				RunAsUser:          runAsUser,
				RunAsGroup:         runAsGroup,
				SupplementalGroups: supGroups,
				Privileged:         privileged,
				Seccomp:            &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
			},
		},
	}, nil
}

// labels are the CRI labels of the pod's sandbox (container "") or of one
// of its containers.
func (w *podWorker) labels(pod *corev1.Pod, container string) map[string]string {
	l := map[string]string{
		labelPodUID:       string(pod.UID),
		labelPodName:      pod.Name,
		labelPodNamespace: pod.Namespace,
		labelManagedBy:    managedByValue,
	}
	if container != "" {
		l[labelContainer] = container
	}
	return l
}

// cgroupParent is the pod's cgroup: under the QoS class's cgroup as
// upstream lays them out (Guaranteed pods directly under the root).
func (k *Kubelet) cgroupParent(pod *corev1.Pod) string {
	root := strings.TrimSuffix(k.cfg.CgroupRoot, "/")
	switch qosClass(pod) {
	case corev1.PodQOSBurstable:
		root += "/burstable"
	case corev1.PodQOSBestEffort:
		root += "/besteffort"
	}
	return root + "/pod" + string(pod.UID)
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	o := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		o.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		o.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		o.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		o.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return o
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

// dnsConfig is the pod's resolv.conf, as upstream's kubelet forms it.
func (w *podWorker) dnsConfig(pod *corev1.Pod) (*runtimeapi.DNSConfig, error) {
	host := hostResolvConf(hostResolvConfPaths)
	nodeRef := &corev1.ObjectReference{Kind: "Node", Name: w.k.cfg.NodeName, UID: types.UID(w.k.cfg.NodeName)}
	return podDNSConfig(pod, w.k.cfg.ClusterDNS, w.k.cfg.ClusterDomain, host, w.k.recorder, nodeRef), nil
}

// hostResolvConfPaths are the host's resolver configurations in order of
// preference: upstream's kubelet --resolv-conf default, then, as k3s does
// for systemd-resolved hosts, the file behind its 127.0.0.53 stub, which a
// pod cannot reach.
var hostResolvConfPaths = []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}

// hostResolvConf is the first of paths whose nameservers are not all on
// loopback (a pod has a loopback of its own), or the first if none is.
func hostResolvConf(paths []string) *runtimeapi.DNSConfig {
	first := parseResolvConf(paths[0])
	for _, p := range paths {
		cfg := parseResolvConf(p)
		if slices.ContainsFunc(cfg.Servers, func(s string) bool {
			ip := net.ParseIP(s)
			return ip != nil && !ip.IsLoopback()
		}) {
			return cfg
		}
	}
	return first
}

// podDNSConfig forms a pod's resolv.conf as upstream's kubelet
// (pkg/kubelet/network/dns): ClusterFirst (off the host network) and
// ClusterFirstWithHostNet use the cluster DNS and its search domains
// followed by the host's, with ndots:5; Default (and ClusterFirst on the
// host network) uses the host's; None starts empty. ClusterFirst without
// a cluster DNS records MissingClusterDNS on the node and the pod and falls
// back to Default. The pod's dnsConfig is appended (duplicates dropped, its
// options overriding), then the result cut to resolver limits, recording
// DNSConfigForming when anything is dropped.
func podDNSConfig(pod *corev1.Pod, clusterDNS []string, domain string, host *runtimeapi.DNSConfig,
	rec record.EventRecorder, nodeRef *corev1.ObjectReference) *runtimeapi.DNSConfig {
	cluster := false
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
		host = &runtimeapi.DNSConfig{}
	case corev1.DNSClusterFirstWithHostNet:
		cluster = true
	case corev1.DNSDefault:
	default: // ClusterFirst, and unset as the API server defaults it
		cluster = !pod.Spec.HostNetwork
	}
	cfg := &runtimeapi.DNSConfig{Servers: host.Servers, Searches: host.Searches, Options: host.Options}
	if cluster && len(clusterDNS) == 0 {
		msg := fmt.Sprintf("kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.",
			corev1.DNSClusterFirst, corev1.DNSDefault)
		rec.Event(nodeRef, corev1.EventTypeWarning, "MissingClusterDNS", msg)
		rec.Eventf(pod, corev1.EventTypeWarning, "MissingClusterDNS", "pod: %q. %s",
			fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID), msg)
		cluster = false
	}
	if cluster {
		cfg.Servers = slices.Clone(clusterDNS)
		if domain != "" {
			cfg.Searches = omitDuplicates(append([]string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}, host.Searches...))
		}
		cfg.Options = []string{"ndots:5"}
	}
	if pc := pod.Spec.DNSConfig; pc != nil {
		cfg.Servers = omitDuplicates(append(slices.Clone(cfg.Servers), pc.Nameservers...))
		cfg.Searches = omitDuplicates(append(slices.Clone(cfg.Searches), pc.Searches...))
		cfg.Options = mergeDNSOptions(cfg.Options, pc.Options)
	}
	return fitDNSLimits(cfg, pod, rec)
}

func omitDuplicates(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// mergeDNSOptions sets the pod's options over existing ones by name
// ("ndots:2" replaces "ndots:5"); upstream's order is a map's, ours keeps
// the existing order and appends new names.
func mergeDNSOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, o := range existing {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range pod {
		set(o.Name, ptr.Deref(o.Value, ""))
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if v := values[n]; v != "" {
			out = append(out, n+":"+v)
		} else {
			out = append(out, n)
		}
	}
	return out
}

// Resolver limits, upstream's (ExpandedDNSConfig, on by default).
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
	maxDNSSearchPathLen   = 253 // glibc aborts on longer search paths
)

// fitDNSLimits cuts cfg to the resolver limits, as upstream's kubelet.
func fitDNSLimits(cfg *runtimeapi.DNSConfig, pod *corev1.Pod, rec record.EventRecorder) *runtimeapi.DNSConfig {
	if len(cfg.Servers) > maxDNSNameservers {
		cfg.Servers = cfg.Servers[:maxDNSNameservers]
		rec.Event(pod, corev1.EventTypeWarning, "DNSConfigForming",
			"Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "+strings.Join(cfg.Servers, " "))
	}
	search, cut := cfg.Searches, false
	if len(search) > maxDNSSearchPaths {
		search, cut = search[:maxDNSSearchPaths], true
	}
	kept := search[:0:0]
	for _, s := range search {
		if len(s) > maxDNSSearchPathLen {
			cut = true
			continue
		}
		kept = append(kept, s)
	}
	for len(kept) > 0 && len(strings.Join(kept, " ")) > maxDNSSearchListChars {
		kept, cut = kept[:len(kept)-1], true
	}
	if cut {
		rec.Event(pod, corev1.EventTypeWarning, "DNSConfigForming",
			"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: "+strings.Join(kept, " "))
	}
	if len(cfg.Searches) > 0 {
		cfg.Searches = kept
	}
	return cfg
}

// parseResolvConf reads a resolv.conf as upstream's kubelet: nameserver
// lines accumulate, the last search line and the last options line win
// ("domain" is ignored). An unreadable file has nothing.
func parseResolvConf(path string) *runtimeapi.DNSConfig {
	cfg := &runtimeapi.DNSConfig{}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) >= 2 {
				cfg.Servers = append(cfg.Servers, f[1])
			}
		case "search":
			cfg.Searches = []string{}
			for _, s := range f[1:] {
				cfg.Searches = append(cfg.Searches, strings.TrimSuffix(s, "."))
			}
		case "options":
			cfg.Options = f[1:]
		}
	}
	return cfg
}

// startContainer makes sure c's image is present, then creates and starts
// it as the given attempt; target, when set, is the runtime ID of the
// container whose process namespace it joins (an ephemeral container's
// target). Failures become waiting reasons; the return is when to try
// again (0: only on a change).
func (w *podWorker) startContainer(ctx context.Context, pod *corev1.Pod, sandbox *runtimeapi.PodSandbox, c *corev1.Container, attempt uint32, target string) time.Duration {
	imageRef, delay := w.ensureImage(ctx, pod, c)
	if imageRef == "" {
		return delay
	}
	sbCfg, err := w.sandboxConfig(pod, sandbox.GetMetadata().GetAttempt())
	if err != nil {
		return w.fail(pod, c, reasonCreateConfigError, err)
	}
	cfg, err := w.containerConfig(ctx, pod, c, attempt, imageRef, w.podIPs(ctx, pod, sandbox.Id))
	if err != nil {
		return w.fail(pod, c, reasonCreateConfigError, err)
	}
	if target != "" {
		ns := cfg.Linux.SecurityContext.NamespaceOptions
		ns.Pid, ns.TargetId = runtimeapi.NamespaceMode_TARGET, target
	}
	created, err := w.k.cfg.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: sandbox.Id, Config: cfg, SandboxConfig: sbCfg,
	})
	if err != nil {
		return w.fail(pod, c, reasonCreateError, err)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if _, err := w.k.cfg.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		// The runtime records the failed start as an exit (StartError);
		// the next pass restarts it with back-off.
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.log.Warn("starting a container", "container", c.Name, "err", err)
		return retryDelay
	}
	delete(w.waiting, c.Name)
	w.noteStarted(created.ContainerId, c)
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	w.startProbes(pod, c, created.ContainerId)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if err := w.runHook(ctx, pod, c, created.ContainerId, c.Lifecycle.PostStart, 0); err != nil {
			w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			w.stopContainer(ctx, created.ContainerId, gracePeriod(pod))
		}
	}
	return 0
}

// fail records a container start failure as its waiting reason.
func (w *podWorker) fail(pod *corev1.Pod, c *corev1.Container, reason string, err error) time.Duration {
	w.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
	w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
	return retryDelay
}

// ensureImage applies the pull policy: it returns the image reference to
// create from, or "" and when to try again, having recorded the waiting
// reason (ErrImageNeverPull, ErrImagePull, then ImagePullBackOff until
// the back-off since the failed pull has passed) and upstream's events.
func (w *podWorker) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (string, time.Duration) {
	spec := &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image}
	present := ""
	if st, err := w.k.cfg.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: spec}); err == nil && st.Image != nil {
		present = st.Image.Id
	}
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
	}
	if present != "" && policy != corev1.PullAlways {
		return present, 0
	}
	if policy == corev1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.k.recorder.Event(pod, corev1.EventTypeWarning, reasonErrImageNeverPull, msg)
		w.pullFailed(pod, c, reasonErrImageNeverPull, msg)
		return "", 0
	}
	key := "pull/" + c.Name
	now := w.k.clock.Now()
	if held, at := w.backoff.sinceUpdate(key, now); held {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		w.k.recorder.Event(pod, corev1.EventTypeNormal, "BackOff", msg)
		// As upstream, the waiting message carries the last pull's
		// error, which the waiting state holds until now.
		switch prev := w.waiting[c.Name]; prev.Reason {
		case reasonErrImagePull:
			msg = fmt.Sprintf("%s: %s: %s", msg, prev.Reason, prev.Message)
		case reasonImagePullBackOff:
			msg = prev.Message
		}
		w.pullFailed(pod, c, reasonImagePullBackOff, msg)
		return "", at.Sub(now)
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	var resp *runtimeapi.PullImageResponse
	var err error
	for _, auth := range append(w.pullAuths(ctx, pod, c.Image), nil) {
		if resp, err = w.k.cfg.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec, Auth: auth}); err == nil {
			break
		}
	}
	if err != nil {
		// A present image with policy Always does not run when the
		// registry cannot be reached: the pull error stands, as upstream.
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		w.backoff.next(key, w.k.clock.Now())
		w.pullFailed(pod, c, reasonErrImagePull, err.Error())
		_, at := w.backoff.sinceUpdate(key, w.k.clock.Now())
		return "", at.Sub(now)
	}
	w.backoff.reset(key)
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, w.k.clock.Since(now).Round(time.Millisecond))
	return resp.ImageRef, 0
}

// pullFailed records why c's image is not there as its waiting state,
// and the "Error: REASON" event upstream records for it.
func (w *podWorker) pullFailed(pod *corev1.Pod, c *corev1.Container, reason, msg string) {
	w.waiting[c.Name] = corev1.ContainerStateWaiting{Reason: reason, Message: msg}
	w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
}

// podIPs are the pod's addresses for the downward API as upstream takes
// them: the node's on the host network, else the sandbox's. The pod's
// status has none yet when its first containers start.
func (w *podWorker) podIPs(ctx context.Context, pod *corev1.Pod, sandboxID string) []string {
	if pod.Spec.HostNetwork {
		return []string{w.k.cfg.NodeIP.String()}
	}
	resp, err := w.k.cfg.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID})
	if n := resp.GetStatus().GetNetwork(); err == nil && n.GetIp() != "" {
		ips := []string{n.Ip}
		for _, ip := range n.AdditionalIps {
			ips = append(ips, ip.Ip)
		}
		return ips
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	return ips
}

// containerConfig is the CRI configuration of c; podIPs are the pod's
// addresses for its environment.
func (w *podWorker) containerConfig(ctx context.Context, pod *corev1.Pod, c *corev1.Container, attempt uint32, imageRef string, podIPs []string) (*runtimeapi.ContainerConfig, error) {
	env, err := w.k.containerEnv(ctx, pod, c, podIPs)
	if err != nil {
		return nil, err
	}
	uid, username, err := w.imageUser(ctx, imageRef)
	if err != nil {
		return nil, err
	}
	if err := verifyRunAsNonRoot(pod, c, uid, username); err != nil {
		return nil, err
	}
	mounts, err := w.containerMounts(pod, c)
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{}
	if !pod.Spec.HostNetwork || c.TerminationMessagePath != "" {
		path := c.TerminationMessagePath
		if path == "" {
			path = corev1.TerminationMessagePathDefault
		}
		host := filepath.Join(w.k.podDir(pod.UID), "containers", c.Name, strconv.Itoa(int(attempt))+".termination-log")
		if err := os.MkdirAll(filepath.Dir(host), 0o750); err != nil {
			return nil, err
		}
		if err := os.WriteFile(host, nil, 0o666); err != nil {
			return nil, err
		}
		_ = os.Chmod(host, 0o666)
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: path, HostPath: host})
		annotations[annotationTerminationLog] = host
	}
	vars := make(map[string]string, len(env))
	var envs []*runtimeapi.KeyValue
	for _, e := range env {
		envs = append(envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
		vars[e.Name] = e.Value
	}
	expand := func(in []string) []string {
		var out []string
		for _, s := range in {
			out = append(out, expandVars(s, vars))
		}
		return out
	}
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     expand(c.Command),
		Args:        expand(c.Args),
		WorkingDir:  c.WorkingDir,
		Envs:        envs,
		Mounts:      mounts,
		Labels:      w.labels(pod, c.Name),
		Annotations: annotations,
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(attempt))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       w.k.linuxResources(pod, c),
			SecurityContext: securityContext(pod, c, uid, username),
		},
	}, nil
}

// imageUser is the user imageRef runs as, as upstream reads it from the
// runtime: a numeric uid, else a user name, else root.
func (w *podWorker) imageUser(ctx context.Context, imageRef string) (*int64, string, error) {
	st, err := w.k.cfg.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: imageRef}})
	if err != nil {
		return nil, "", err
	}
	if img := st.GetImage(); img != nil {
		if img.Uid != nil {
			uid := img.Uid.Value
			return &uid, "", nil
		}
		if img.Username != "" {
			return nil, img.Username, nil
		}
	}
	return new(int64), "", nil
}

// verifyRunAsNonRoot refuses to run c as root when runAsNonRoot is set:
// by its runAsUser, or else by its image's user (imageUID, or
// imageUsername, which cannot be verified), with upstream's messages.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUID *int64, imageUsername string) error {
	nonRoot, uid := false, (*int64)(nil)
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		uid = sc.RunAsUser
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
	}
	if !nonRoot {
		return nil
	}
	podDesc := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
	if uid != nil {
		if *uid == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podDesc, c.Name)
		}
		return nil
	}
	switch {
	case imageUID != nil && *imageUID == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podDesc, c.Name)
	case imageUID == nil && imageUsername != "":
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", imageUsername, podDesc, c.Name)
	}
	return nil
}

// defaultMaskedPaths and defaultReadonlyPaths hide the host's sensitive
// kernel interfaces from unprivileged containers.
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// securityContext maps the pod's and c's security contexts to CRI; the
// container's settings win over the pod's. Without a runAsUser the
// container runs as its image's user (imageUID or imageUsername), passed
// on as upstream does, so that a runAsGroup has a user to go with.
func securityContext(pod *corev1.Pod, c *corev1.Container, imageUID *int64, imageUsername string) *runtimeapi.LinuxContainerSecurityContext {
	out := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespaceOptions(pod),
		MaskedPaths:      defaultMaskedPaths,
		ReadonlyPaths:    defaultReadonlyPaths,
		Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined},
	}
	seccomp := func(p *corev1.SeccompProfile) {
		if p == nil {
			return
		}
		switch p.Type {
		case corev1.SeccompProfileTypeRuntimeDefault:
			out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		case corev1.SeccompProfileTypeLocalhost:
			if p.LocalhostProfile != nil {
				out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: *p.LocalhostProfile}
			}
		default:
			out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		}
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		if sc.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *sc.FSGroup)
		}
		out.SupplementalGroups = append(out.SupplementalGroups, sc.SupplementalGroups...)
		seccomp(sc.SeccompProfile)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		if sc.ReadOnlyRootFilesystem != nil {
			out.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
		}
		if sc.Privileged != nil && *sc.Privileged {
			out.Privileged = true
			out.MaskedPaths, out.ReadonlyPaths = nil, nil
		}
		if sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
			out.MaskedPaths, out.ReadonlyPaths = nil, nil
		}
		if sc.AllowPrivilegeEscalation != nil {
			out.NoNewPrivs = !*sc.AllowPrivilegeEscalation
		}
		if caps := sc.Capabilities; caps != nil {
			out.Capabilities = &runtimeapi.Capability{}
			for _, a := range caps.Add {
				out.Capabilities.AddCapabilities = append(out.Capabilities.AddCapabilities, string(a))
			}
			for _, d := range caps.Drop {
				out.Capabilities.DropCapabilities = append(out.Capabilities.DropCapabilities, string(d))
			}
		}
		seccomp(sc.SeccompProfile)
	}
	if out.RunAsUser == nil {
		if imageUID != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *imageUID}
		}
		out.RunAsUsername = imageUsername
	}
	return out
}

// linuxResources maps c's requests and limits to cgroup settings: CPU
// shares from the request, a CFS quota from the limit, the memory limit,
// and an OOM score by QoS class.
func (k *Kubelet) linuxResources(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{}
	reqCPU := milliCPU(c.Resources.Requests)
	limCPU := milliCPU(c.Resources.Limits)
	if reqCPU == 0 && limCPU > 0 {
		reqCPU = limCPU
	}
	r.CpuShares = max(2, reqCPU*1024/1000)
	if limCPU > 0 {
		r.CpuPeriod = 100000
		r.CpuQuota = max(1000, limCPU*100000/1000)
	}
	r.MemoryLimitInBytes = memoryOf(c.Resources.Limits)
	switch qosClass(pod) {
	case corev1.PodQOSGuaranteed:
		r.OomScoreAdj = -997
	case corev1.PodQOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		score := int64(1000)
		if capacity := memTotal(); capacity > 0 {
			score = 1000 - 1000*memoryOf(c.Resources.Requests)/capacity
		}
		r.OomScoreAdj = min(999, max(2, score))
	}
	return r
}

// expandVars replaces $(NAME) with vars[NAME]; $$ escapes a dollar sign;
// unknown references stay as written (upstream's rules).
func expandVars(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// runPreStop runs c's preStop hook within the grace period and returns
// the seconds left for the stop signal (at least 2, as upstream allows).
func (w *podWorker) runPreStop(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, grace int64) int64 {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	start := w.k.clock.Now()
	if err := w.runHook(ctx, pod, c, id, c.Lifecycle.PreStop, grace); err != nil {
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
	}
	left := grace - int64(w.k.clock.Since(start)/time.Second)
	return max(left, 2)
}

// runHook runs a lifecycle hook (exec, httpGet or sleep) against the
// container; timeout 0 means the hook's own bound (the grace period for
// preStop, none for postStart beyond the probe timeout of 30 s).
func (w *podWorker) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, h *corev1.LifecycleHandler, timeout int64) error {
	if timeout <= 0 {
		timeout = 30
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	defer cancel()
	switch {
	case h.Exec != nil:
		resp, err := w.k.cfg.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: h.Exec.Command, Timeout: timeout})
		if err != nil {
			return err
		}
		if resp.ExitCode != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, resp.ExitCode, resp.Stderr)
		}
		return nil
	case h.HTTPGet != nil:
		pr := w.k.prober(pod, c, id)
		return pr.httpGet(ctx, h.HTTPGet)
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-w.k.clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return nil
	}
	return nil
}
