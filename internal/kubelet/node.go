package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/version"
)

// Node timing, as upstream's defaults.
const (
	// LeaseDuration is the node lease's leaseDurationSeconds.
	LeaseDuration = 40 * time.Second
	// LeaseRenewInterval is how often the lease is renewed.
	LeaseRenewInterval = 10 * time.Second
	// NodeStatusCheckInterval is how often the node status is computed; it
	// is posted when it changed or NodeStatusReportInterval passed.
	NodeStatusCheckInterval  = 10 * time.Second
	NodeStatusReportInterval = 5 * time.Minute
	// KubeletPort is the default port of the agent's HTTPS server
	// (published in status.daemonEndpoints).
	KubeletPort = 10250
	// MaxPods is the node's pods capacity.
	MaxPods = 110
)

// registerNode creates the Node, or adopts an existing one (an agent
// restart) and refreshes its labels and status. It retries until it
// succeeds or ctx ends.
func (k *Kubelet) registerNode(ctx context.Context) (*corev1.Node, error) {
	delay := 100 * time.Millisecond
	for {
		node, err := k.tryRegisterNode(ctx)
		if err == nil {
			return node, nil
		}
		k.log.Warn("registering the node; retrying", "err", err, "after", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-k.clock.After(delay):
		}
		delay = min(2*delay, 7*time.Second)
	}
}

func (k *Kubelet) tryRegisterNode(ctx context.Context) (*corev1.Node, error) {
	nodes := k.client.CoreV1().Nodes()
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Labels: k.nodeLabels()},
	}
	node, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		node, err = nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		changed := false
		node = node.DeepCopy()
		if node.Labels == nil {
			node.Labels = map[string]string{}
		}
		for key, v := range want.Labels {
			if node.Labels[key] != v {
				node.Labels[key], changed = v, true
			}
		}
		if changed {
			if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return nil, err
			}
		}
	} else if err != nil {
		return nil, err
	}
	node = node.DeepCopy()
	node.Status = k.nodeStatus(ctx, node.Status)
	return nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
}

func (k *Kubelet) nodeLabels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname":  k.cfg.NodeName,
		"kubernetes.io/os":        goruntime.GOOS,
		"kubernetes.io/arch":      goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	for key, v := range k.cfg.NodeLabels {
		l[key] = v
	}
	return l
}

// nodeStatus computes the node's status from the machine and the runtime,
// keeping transition times of conditions that did not change from old.
func (k *Kubelet) nodeStatus(ctx context.Context, old corev1.NodeStatus) corev1.NodeStatus {
	capacity, allocatable := k.machineResources()
	if k.cfg.Allocatable != nil {
		allocatable = k.cfg.Allocatable
	}

	ready, readyReason, readyMsg := corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"
	if msg := k.runtimeProblem(ctx); msg != "" {
		ready, readyReason, readyMsg = corev1.ConditionFalse, "KubeletNotReady", msg
	}
	now := metav1.NewTime(k.clock.Now())
	conds := []corev1.NodeCondition{
		memoryCondition(k.eviction.memoryPressure.Load()),
		diskCondition(k.eviction.diskPressure.Load()),
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: ready, Reason: readyReason, Message: readyMsg},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime, conds[i].LastTransitionTime = now, now
		for _, o := range old.Conditions {
			if o.Type == conds[i].Type && o.Status == conds[i].Status {
				conds[i].LastTransitionTime = o.LastTransitionTime
			}
		}
	}

	hostname, _ := os.Hostname()
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: k.cfg.NodeIP.String()}}
	if hostname != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	var uname syscall.Utsname
	_ = syscall.Uname(&uname)
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions:  conds,
		Addresses:   addrs,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: k.kubeletPort()},
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               readTrimmed("/etc/machine-id"),
			SystemUUID:              strings.ToLower(readTrimmed("/sys/class/dmi/id/product_uuid")),
			BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           utsString(uname.Release[:]),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: k.runtimeName + "://" + k.runtimeVersion,
			KubeletVersion:          version.Get().GitVersion,
			OperatingSystem:         goruntime.GOOS,
			Architecture:            goruntime.GOARCH,
		},
		Images: k.nodeImages(ctx),
	}
	return st
}

// runtimeProblem returns why the runtime is not ready, or "".
func (k *Kubelet) runtimeProblem(ctx context.Context) string {
	st, err := k.cfg.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return "container runtime is down: " + err.Error()
	}
	var problems []string
	for _, c := range st.GetStatus().GetConditions() {
		if !c.Status {
			switch c.Type {
			case runtimeapi.RuntimeReady:
				problems = append(problems, fmt.Sprintf("container runtime not ready: %s: %s", c.Reason, c.Message))
			case runtimeapi.NetworkReady:
				problems = append(problems, fmt.Sprintf("container runtime network not ready: %s: %s", c.Reason, c.Message))
			}
		}
	}
	return strings.Join(problems, ", ")
}

// nodeImages lists the runtime's images, largest first, at most 50.
func (k *Kubelet) nodeImages(ctx context.Context) []corev1.ContainerImage {
	resp, err := k.cfg.Images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil
	}
	var out []corev1.ContainerImage
	for _, img := range resp.Images {
		names := append(append([]string{}, img.RepoDigests...), img.RepoTags...)
		if len(names) == 0 {
			continue
		}
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: int64(img.Size)})
	}
	// Largest first, as upstream reports them.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].SizeBytes > out[j-1].SizeBytes; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > 50 {
		out = out[:50]
	}
	return out
}

// nodeStatusLoop recomputes the status every NodeStatusCheckInterval and
// posts it when it changed (ignoring heartbeat times) or when
// NodeStatusReportInterval passed since the last post.
func (k *Kubelet) nodeStatusLoop(ctx context.Context) {
	ticker := k.clock.NewTicker(NodeStatusCheckInterval)
	defer ticker.Stop()
	lastPost := k.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		node, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				// Deleted by someone: register again, as upstream does.
				if _, err := k.tryRegisterNode(ctx); err != nil {
					k.log.Warn("re-registering the node", "err", err)
				}
			}
			continue
		}
		k.podCIDRSeen(node)
		st := k.nodeStatus(ctx, node.Status)
		if !statusChanged(node.Status, st) && k.clock.Since(lastPost) < NodeStatusReportInterval {
			continue
		}
		node = node.DeepCopy()
		node.Status = st
		if _, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			k.log.Warn("posting node status", "err", err)
			continue
		}
		lastPost = k.clock.Now()
	}
}

// statusChanged compares node statuses ignoring heartbeat times.
func statusChanged(old, cur corev1.NodeStatus) bool {
	a, b := old.DeepCopy(), cur.DeepCopy()
	for _, s := range []*corev1.NodeStatus{a, b} {
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
	}
	return !apiequality.Semantic.DeepEqual(a, b)
}

// PodCIDRWait bounds how long a new node waits for the node IPAM
// controller to assign spec.podCIDR before it starts its pod workers; their
// sandboxes then wait for the network (a cluster without the controller
// never assigns one, and such a node runs only host-network pods).
const PodCIDRWait = 30 * time.Second

// awaitPodCIDR returns the node once it has a pod CIDR, or as it is after
// PodCIDRWait. No pod may start on a network the assignment then changes:
// the first sandbox gives the bridge its gateway address, and sandboxes
// on the new range would then fail.
func (k *Kubelet) awaitPodCIDR(ctx context.Context, node *corev1.Node) *corev1.Node {
	if k.cfg.PodCIDRChanged == nil || node.Spec.PodCIDR != "" {
		return node
	}
	k.log.Info("waiting for the node's pod CIDR", "atMost", PodCIDRWait)
	deadline := k.clock.Now().Add(PodCIDRWait)
	for k.clock.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return node
		case <-k.clock.After(250 * time.Millisecond): // polling interval
		}
		n, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			return n
		}
	}
	k.log.Warn("the node has no pod CIDR yet; pods other than host-network ones wait for it", "after", PodCIDRWait)
	return node
}

// podCIDRSeen tells the network layer about the node's pod CIDR.
func (k *Kubelet) podCIDRSeen(node *corev1.Node) {
	if k.cfg.PodCIDRChanged != nil && node.Spec.PodCIDR != "" {
		k.cfg.PodCIDRChanged(node.Spec.PodCIDR)
	}
}

// leaseLoop creates and renews the node's Lease in kube-node-lease.
func (k *Kubelet) leaseLoop(ctx context.Context) {
	ticker := k.clock.NewTicker(LeaseRenewInterval)
	defer ticker.Stop()
	for {
		if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("renewing the node lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(k.clock.Now())
	lease, err := leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(k.cfg.NodeName),
				LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}
		k.setLeaseOwner(ctx, lease)
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	} else if err != nil {
		return err
	}
	lease = lease.DeepCopy()
	lease.Spec.HolderIdentity = ptr.To(k.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
	lease.Spec.RenewTime = &now
	if len(lease.OwnerReferences) == 0 {
		k.setLeaseOwner(ctx, lease)
	}
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// setLeaseOwner makes the Node own its lease, so deleting the Node deletes
// the lease.
func (k *Kubelet) setLeaseOwner(ctx context.Context, lease *coordinationv1.Lease) {
	node, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return
	}
	lease.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
	}}
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func diskTotal(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Blocks) * st.Bsize
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Unknown"
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func memoryCondition(pressure bool) corev1.NodeCondition {
	if pressure {
		return corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory", Message: "kubelet has insufficient memory available"}
	}
	return corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"}
}

func diskCondition(pressure bool) corev1.NodeCondition {
	if pressure {
		return corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasDiskPressure", Message: "kubelet has disk pressure"}
	}
	return corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"}
}
