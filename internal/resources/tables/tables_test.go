package tables

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/resources"
)

var now = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func ptr[T any](v T) *T { return &v }

func objMeta(ns, name string, age time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: ago(age)}
}

func names(cols []metav1.TableColumnDefinition) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
		if c.Priority == 1 {
			out[i] += "*"
		}
	}
	return out
}

// TestColumns pins the header of every kind with a printer; a trailing *
// marks -o wide columns.
func TestColumns(t *testing.T) {
	core := func(k string) schema.GroupKind { return schema.GroupKind{Kind: k} }
	g := func(group, k string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: k} }
	tests := []struct {
		gk   schema.GroupKind
		want []string
	}{
		{core("Pod"), []string{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"}},
		{core("Service"), []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"}},
		{core("Node"), []string{"Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*", "OS-Image*", "Kernel-Version*", "Container-Runtime*"}},
		{core("Event"), []string{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"}},
		{g("events.k8s.io", "Event"), []string{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"}},
		{core("Namespace"), []string{"Name", "Status", "Age"}},
		{core("ConfigMap"), []string{"Name", "Data", "Age"}},
		{core("Secret"), []string{"Name", "Type", "Data", "Age"}},
		{core("ServiceAccount"), []string{"Name", "Secrets", "Age"}},
		{core("PersistentVolume"), []string{"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode*"}},
		{core("PersistentVolumeClaim"), []string{"Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode*"}},
		{core("ReplicationController"), []string{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"}},
		{g("apps", "Deployment"), []string{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*", "Selector*"}},
		{g("apps", "ReplicaSet"), []string{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*", "Selector*"}},
		{g("apps", "StatefulSet"), []string{"Name", "Ready", "Age", "Containers*", "Images*"}},
		{g("apps", "DaemonSet"), []string{"Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers*", "Images*", "Selector*"}},
		{g("batch", "Job"), []string{"Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*", "Selector*"}},
		{g("batch", "CronJob"), []string{"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers*", "Images*", "Selector*"}},
		{g("rbac.authorization.k8s.io", "RoleBinding"), []string{"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"}},
		{g("rbac.authorization.k8s.io", "Role"), []string{"Name", "Created At"}},
		{g("rbac.authorization.k8s.io", "ClusterRole"), []string{"Name", "Created At"}},
		{core("LimitRange"), []string{"Name", "Created At"}},
		{g("example.com", "Widget"), []string{"Name", "Created At"}},
		{g("storage.k8s.io", "StorageClass"), []string{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"}},
		{g("scheduling.k8s.io", "PriorityClass"), []string{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.gk.String(), func(t *testing.T) {
			cols := Columns(tt.gk)
			if got := names(cols); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("columns = %q; want %q", got, tt.want)
			}
			if cols[0].Name == "Name" && cols[0].Format != "name" {
				t.Errorf("Name column format = %q; want name", cols[0].Format)
			}
			for _, c := range cols {
				if c.Type == "" || c.Description == "" {
					t.Errorf("column %q: type %q, description %q; want both set", c.Name, c.Type, c.Description)
				}
			}
		})
	}
	t.Run("default Created At is a date", func(t *testing.T) {
		if c := Columns(schema.GroupKind{Kind: "LimitRange"})[1]; c.Type != "date" {
			t.Errorf("Created At type = %q; want date", c.Type)
		}
	})
	t.Run("fresh slice each call", func(t *testing.T) {
		a := Columns(schema.GroupKind{Kind: "Pod"})
		a[0].Name = "changed"
		if b := Columns(schema.GroupKind{Kind: "Pod"}); b[0].Name != "Name" {
			t.Errorf("Columns shares its slice with callers")
		}
	})
}

// TestEveryServedKind checks that each served kind's cells line up with
// its columns, even for an empty object.
func TestEveryServedKind(t *testing.T) {
	for _, info := range resources.All() {
		t.Run(info.GVK.String(), func(t *testing.T) {
			obj, err := scheme.Scheme.New(info.GVK)
			if err != nil {
				t.Fatalf("new %v: %v", info.GVK, err)
			}
			cells, err := Cells(obj, now)
			if err != nil {
				t.Fatalf("Cells() error: %v", err)
			}
			if cols := Columns(info.GVK.GroupKind()); len(cells) != len(cols) {
				t.Errorf("%d cells for %d columns %q", len(cells), len(cols), names(cols))
			}
		})
	}
}

type cellCase struct {
	name string
	obj  runtime.Object
	want []interface{}
}

func runCells(t *testing.T, tests []cellCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Cells(tt.obj, now)
			if err != nil {
				t.Fatalf("Cells() error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cells:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func running(name string, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
}

func twoContainers() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}
}

func TestPodCells(t *testing.T) {
	crashing := waiting("b", "CrashLoopBackOff")
	crashing.RestartCount = 5
	crashing.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{FinishedAt: ago(3 * time.Minute)}

	always := corev1.ContainerRestartPolicyAlways
	sidecar := running("proxy", true, 2)
	sidecar.Started = ptr(true)
	sidecar.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{FinishedAt: ago(90 * time.Second)}

	tests := []cellCase{
		{
			name: "running, wide fields",
			obj: &corev1.Pod{
				ObjectMeta: objMeta("default", "web", 5*time.Minute),
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}, NodeName: "n1"},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}},
					ContainerStatuses: []corev1.ContainerStatus{running("a", true, 0)}},
			},
			want: []interface{}{"web", "1/1", "Running", "0", "5m", "10.42.0.5", "n1", "<none>", "<none>"},
		},
		{
			name: "pending, unscheduled",
			obj:  &corev1.Pod{ObjectMeta: objMeta("default", "p", 10*time.Second), Spec: twoContainers(), Status: corev1.PodStatus{Phase: corev1.PodPending}},
			want: []interface{}{"p", "0/2", "Pending", "0", "10s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "scheduling gated",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "g", time.Minute), Spec: twoContainers(), Status: corev1.PodStatus{
				Phase:      corev1.PodPending,
				Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SchedulingGated"}},
			}},
			want: []interface{}{"g", "0/2", "SchedulingGated", "0", "60s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "crash loop with last restart age",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "c", 2*time.Hour), Spec: twoContainers(), Status: corev1.PodStatus{
				Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running("a", true, 0), crashing},
			}},
			want: []interface{}{"c", "1/2", "CrashLoopBackOff", "5 (3m ago)", "120m", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "init container running",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "i", 20*time.Second),
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}, {Name: "i2"}}, Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					terminated("i1", "Completed", 0), running("i2", false, 0),
				}}},
			want: []interface{}{"i", "0/1", "Init:1/2", "0", "20s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "init container failing",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "i", 20*time.Second),
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}}, Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					waiting("i1", "CrashLoopBackOff"),
				}}},
			want: []interface{}{"i", "0/1", "Init:CrashLoopBackOff", "0", "20s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "init container exit code",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "i", 20*time.Second),
				Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}}, Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
					terminated("i1", "", 3),
				}}},
			want: []interface{}{"i", "0/1", "Init:ExitCode:3", "0", "20s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "sidecar counts toward ready and restarts",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "s", time.Hour),
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}},
					Containers:     []corev1.Container{{Name: "a"}},
				},
				Status: corev1.PodStatus{Phase: corev1.PodRunning,
					Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
					InitContainerStatuses: []corev1.ContainerStatus{sidecar},
					ContainerStatuses:     []corev1.ContainerStatus{running("a", true, 0)},
				}},
			want: []interface{}{"s", "2/2", "Running", "2 (90s ago)", "60m", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "completed",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "done", 3*24*time.Hour), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{terminated("a", "Completed", 0)}}},
			want: []interface{}{"done", "0/1", "Completed", "0", "3d", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "completed container but another running",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "half", time.Minute), Spec: twoContainers(),
				Status: corev1.PodStatus{Phase: corev1.PodRunning,
					Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
					ContainerStatuses: []corev1.ContainerStatus{terminated("a", "Completed", 0), running("b", true, 0)}}},
			want: []interface{}{"half", "1/2", "NotReady", "0", "60s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "terminating",
			obj: &corev1.Pod{ObjectMeta: func() metav1.ObjectMeta {
				m := objMeta("default", "t", time.Minute)
				m.DeletionTimestamp = agoPtr(0)
				return m
			}(), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running("a", true, 0)}}},
			want: []interface{}{"t", "1/1", "Terminating", "0", "60s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "deleted on a lost node",
			obj: &corev1.Pod{ObjectMeta: func() metav1.ObjectMeta {
				m := objMeta("default", "l", time.Minute)
				m.DeletionTimestamp = agoPtr(0)
				return m
			}(), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"}},
			want: []interface{}{"l", "0/1", "Unknown", "0", "60s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "evicted",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "e", time.Minute), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}},
			want: []interface{}{"e", "0/1", "Evicted", "0", "60s", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "readiness gates and nominated node",
			obj: &corev1.Pod{ObjectMeta: objMeta("default", "r", time.Minute),
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}},
					ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x"}, {ConditionType: "y"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "n2",
					Conditions: []corev1.PodCondition{{Type: "x", Status: corev1.ConditionTrue}}}},
			want: []interface{}{"r", "0/1", "Pending", "0", "60s", "<none>", "<none>", "n2", "1/2"},
		},
	}
	runCells(t, tests)

	t.Run("row conditions for finished pods", func(t *testing.T) {
		row, err := Row(&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(row.Conditions) != 1 || row.Conditions[0].Type != metav1.RowCompleted {
			t.Errorf("conditions = %v; want one Completed", row.Conditions)
		}
	})
}

func TestCoreCells(t *testing.T) {
	nodeLabels := map[string]string{
		"node-role.kubernetes.io/control-plane": "",
		"node-role.kubernetes.io/master":        "true",
		"kubernetes.io/role":                    "etcd",
	}
	tests := []cellCase{
		{
			name: "service cluster IP",
			obj: &corev1.Service{ObjectMeta: objMeta("default", "kubernetes", 48*time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.1"},
				Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}},
			}},
			want: []interface{}{"kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP", "2d", "<none>"},
		},
		{
			name: "service node port with selector",
			obj: &corev1.Service{ObjectMeta: objMeta("default", "web", time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.43.1.2"}, Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
			}},
			want: []interface{}{"web", "NodePort", "10.43.1.2", "<none>", "80:30080/TCP,53/UDP", "60m", "app=web"},
		},
		{
			name: "service load balancer pending",
			obj: &corev1.Service{ObjectMeta: objMeta("default", "lb", time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.1.3"},
			}},
			want: []interface{}{"lb", "LoadBalancer", "10.43.1.3", "<pending>", "<none>", "60m", "<none>"},
		},
		{
			name: "service load balancer with ingress and external IPs",
			obj: &corev1.Service{ObjectMeta: objMeta("default", "lb", time.Hour),
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.1.3"}, ExternalIPs: []string{"1.1.1.1"}},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "192.168.1.20"}, {Hostname: "lb.example.com"}, {IP: "192.168.1.10"},
				}}}},
			want: []interface{}{"lb", "LoadBalancer", "10.43.1.3", "192.168.1.10,192.168.1.20,lb.example.com,1.1.1.1", "<none>", "60m", "<none>"},
		},
		{
			name: "service external name, headless",
			obj: &corev1.Service{ObjectMeta: objMeta("default", "ext", time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "example.com",
			}},
			want: []interface{}{"ext", "ExternalName", "<none>", "example.com", "<none>", "60m", "<none>"},
		},
		{
			name: "node ready, roles, wide",
			obj: &corev1.Node{ObjectMeta: func() metav1.ObjectMeta {
				m := objMeta("", "n1", 400*24*time.Hour)
				m.Labels = nodeLabels
				return m
			}(), Spec: corev1.NodeSpec{Unschedulable: true}, Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.5"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2+skiff", OSImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
			}},
			want: []interface{}{"n1", "Ready,SchedulingDisabled", "control-plane,etcd,master", "400d", "v1.37.2+skiff",
				"192.168.1.5", "<none>", "Debian GNU/Linux 13", "6.12.0", "containerd://2.1.0"},
		},
		{
			name: "node without status",
			obj:  &corev1.Node{ObjectMeta: objMeta("", "n2", time.Minute)},
			want: []interface{}{"n2", "Unknown", "<none>", "60s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "node not ready",
			obj: &corev1.Node{ObjectMeta: objMeta("", "n3", time.Minute), Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}},
			}},
			want: []interface{}{"n3", "NotReady", "<none>", "60s", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "namespace",
			obj:  &corev1.Namespace{ObjectMeta: objMeta("", "kube-system", 36*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			want: []interface{}{"kube-system", "Active", "36h"},
		},
		{
			name: "config map counts binary data",
			obj: &corev1.ConfigMap{ObjectMeta: objMeta("default", "cfg", 90*time.Second),
				Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": nil}},
			want: []interface{}{"cfg", int64(3), "90s"},
		},
		{
			name: "secret",
			obj:  &corev1.Secret{ObjectMeta: objMeta("default", "tls", time.Hour), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			want: []interface{}{"tls", "kubernetes.io/tls", int64(2), "60m"},
		},
		{
			name: "service account",
			obj:  &corev1.ServiceAccount{ObjectMeta: objMeta("default", "default", time.Hour)},
			want: []interface{}{"default", int64(0), "60m"},
		},
		{
			name: "endpoints, more than three",
			obj: &corev1.Endpoints{ObjectMeta: objMeta("default", "web", time.Hour), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}, {IP: "fd00::3"}},
				Ports:     []corev1.EndpointPort{{Port: 80}, {Port: 443}},
			}}},
			want: []interface{}{"web", "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more...", "60m"},
		},
		{
			name: "endpoints, none",
			obj:  &corev1.Endpoints{ObjectMeta: objMeta("default", "empty", time.Hour)},
			want: []interface{}{"empty", "<none>", "60m"},
		},
		{
			name: "persistent volume",
			obj: &corev1.PersistentVolume{ObjectMeta: objMeta("", "pv1", time.Hour), Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
				StorageClassName:              "local-path",
				VolumeMode:                    ptr(corev1.PersistentVolumeFilesystem),
			}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			want: []interface{}{"pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local-path", "<unset>", "", "60m", "Filesystem"},
		},
		{
			name: "pvc pending",
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("default", "data", time.Minute), Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: ptr("local-path"),
			}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
			want: []interface{}{"data", "Pending", "", "", "", "local-path", "<unset>", "60s", "<unset>"},
		},
		{
			name: "pvc bound",
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: objMeta("default", "data", time.Minute), Spec: corev1.PersistentVolumeClaimSpec{
				VolumeName: "pv1", VolumeMode: ptr(corev1.PersistentVolumeBlock),
			}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod},
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			want: []interface{}{"data", "Bound", "pv1", "1Gi", "RWOP", "", "<unset>", "60s", "Block"},
		},
		{
			name: "resource quota",
			obj: &corev1.ResourceQuota{ObjectMeta: objMeta("default", "q", time.Hour), Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("2"), "limits.memory": resource.MustParse("4Gi")},
				Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m")},
			}},
			want: []interface{}{"q", "pods: 3/10, requests.cpu: 500m/2", "limits.memory: 0/4Gi", "60m"},
		},
		{
			name: "replication controller",
			obj: &corev1.ReplicationController{ObjectMeta: objMeta("default", "rc", time.Hour), Spec: corev1.ReplicationControllerSpec{
				Replicas: ptr(int32(3)), Selector: map[string]string{"app": "x"},
				Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
			}, Status: corev1.ReplicationControllerStatus{Replicas: 3, ReadyReplicas: 2}},
			want: []interface{}{"rc", int64(3), int64(3), int64(2), "60m", "c", "nginx", "app=x"},
		},
		{
			name: "pod template",
			obj: &corev1.PodTemplate{ObjectMeta: objMeta("default", "pt", time.Hour), Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "i1"}, {Name: "b", Image: "i2"}}},
			}},
			want: []interface{}{"pt", "a,b", "i1,i2", "app=x"},
		},
		{
			name: "limit range uses the default table",
			obj:  &corev1.LimitRange{ObjectMeta: objMeta("default", "lr", time.Hour)},
			want: []interface{}{"lr", "2026-01-02T11:00:00Z"},
		},
	}
	runCells(t, tests)
}

func TestEventCells(t *testing.T) {
	tests := []cellCase{
		{
			name: "core event with counts",
			obj: &corev1.Event{
				ObjectMeta:     objMeta("default", "web.17f", time.Hour),
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
				Reason:         "BackOff", Message: "Back-off restarting failed container\n", Type: corev1.EventTypeWarning,
				Source:         corev1.EventSource{Component: "kubelet", Host: "n1"},
				FirstTimestamp: ago(time.Hour), LastTimestamp: ago(2 * time.Minute), Count: 12,
			},
			want: []interface{}{"2m", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, n1",
				"Back-off restarting failed container", "60m", int64(12), "web.17f"},
		},
		{
			name: "new-style event: event time, singleton",
			obj: &corev1.Event{
				ObjectMeta:          objMeta("default", "e", time.Minute),
				InvolvedObject:      corev1.ObjectReference{Kind: "Node"},
				Reason:              "Starting",
				EventTime:           metav1.NewMicroTime(now.Add(-30 * time.Second)),
				ReportingController: "skiff-proxy", ReportingInstance: "n1", Type: corev1.EventTypeNormal,
			},
			want: []interface{}{"30s", "Normal", "Starting", "node", "", "skiff-proxy, n1", "", "30s", int64(1), "e"},
		},
		{
			name: "events.k8s.io with series",
			obj: &eventsv1.Event{
				ObjectMeta:          objMeta("default", "s", time.Hour),
				EventTime:           metav1.NewMicroTime(now.Add(-time.Hour)),
				Series:              &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(now.Add(-5 * time.Second))},
				ReportingController: "scheduler",
				Regarding:           corev1.ObjectReference{Kind: "Pod", Name: "p"},
				Reason:              "FailedScheduling", Note: "0/1 nodes are available", Type: corev1.EventTypeWarning,
			},
			want: []interface{}{"5s", "Warning", "FailedScheduling", "pod/p", "", "scheduler", "0/1 nodes are available", "60m", int64(4), "s"},
		},
		{
			name: "no timestamps at all",
			obj:  &corev1.Event{ObjectMeta: objMeta("default", "z", time.Hour)},
			want: []interface{}{"<unknown>", "", "", "", "", "", "", "<unknown>", int64(1), "z"},
		},
	}
	runCells(t, tests)
}

func TestWorkloadCells(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		Containers:   []corev1.Container{{Name: "app", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"}},
	}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tests := []cellCase{
		{
			name: "deployment",
			obj: &appsv1.Deployment{ObjectMeta: objMeta("default", "web", 10*time.Minute),
				Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: sel, Template: tmpl},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			want: []interface{}{"web", "2/3", int64(3), int64(2), "10m", "app,log", "nginx:1.27,busybox", "app=web"},
		},
		{
			name: "deployment without selector",
			obj:  &appsv1.Deployment{ObjectMeta: objMeta("default", "x", time.Minute)},
			want: []interface{}{"x", "0/0", int64(0), int64(0), "60s", "", "", ""},
		},
		{
			name: "replica set",
			obj: &appsv1.ReplicaSet{ObjectMeta: objMeta("default", "web-7d9", 10*time.Minute),
				Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: sel, Template: tmpl},
				Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}},
			want: []interface{}{"web-7d9", int64(3), int64(3), int64(1), "10m", "app,log", "nginx:1.27,busybox", "app=web"},
		},
		{
			name: "stateful set",
			obj: &appsv1.StatefulSet{ObjectMeta: objMeta("default", "db", 10*time.Minute),
				Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(2)), Template: tmpl}, Status: appsv1.StatefulSetStatus{ReadyReplicas: 2}},
			want: []interface{}{"db", "2/2", "10m", "app,log", "nginx:1.27,busybox"},
		},
		{
			name: "daemon set",
			obj: &appsv1.DaemonSet{ObjectMeta: objMeta("kube-system", "proxy", 10*time.Minute),
				Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2,
					UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			want: []interface{}{"proxy", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "10m",
				"app,log", "nginx:1.27,busybox", "app=web"},
		},
		{
			name: "controller revision",
			obj: &appsv1.ControllerRevision{ObjectMeta: func() metav1.ObjectMeta {
				m := objMeta("default", "db-5c8", time.Hour)
				m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)}}
				return m
			}(), Revision: 2},
			want: []interface{}{"db-5c8", "statefulset.apps/db", int64(2), "60m"},
		},
		{
			name: "controller revision without owner",
			obj:  &appsv1.ControllerRevision{ObjectMeta: objMeta("default", "orphan", time.Hour), Revision: 1},
			want: []interface{}{"orphan", "<none>", int64(1), "60m"},
		},
		{
			name: "job complete",
			obj: &batchv1.Job{ObjectMeta: objMeta("default", "pi", time.Hour),
				Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Selector: sel, Template: tmpl},
				Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(time.Hour - 42*time.Second),
					Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			want: []interface{}{"pi", "Complete", "1/1", "42s", "60m", "app,log", "nginx:1.27,busybox", "app=web"},
		},
		{
			name: "job running in parallel",
			obj: &batchv1.Job{ObjectMeta: objMeta("default", "work", time.Hour),
				Spec:   batchv1.JobSpec{Parallelism: ptr(int32(4)), Template: tmpl},
				Status: batchv1.JobStatus{StartTime: agoPtr(5 * time.Minute)}},
			want: []interface{}{"work", "Running", "0/1 of 4", "5m", "60m", "app,log", "nginx:1.27,busybox", "<none>"},
		},
		{
			name: "job failed",
			obj: &batchv1.Job{ObjectMeta: objMeta("default", "bad", time.Hour),
				Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
					{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}, {Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}}},
			want: []interface{}{"bad", "Failed", "0/1", "", "60m", "", "", "<none>"},
		},
		{
			name: "job suspended",
			obj: &batchv1.Job{ObjectMeta: objMeta("default", "s", time.Hour), Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}}},
			want: []interface{}{"s", "Suspended", "0/1", "", "60m", "", "", "<none>"},
		},
		{
			name: "cron job",
			obj: &batchv1.CronJob{ObjectMeta: objMeta("default", "nightly", 48*time.Hour), Spec: batchv1.CronJobSpec{
				Schedule: "0 3 * * *", Suspend: ptr(false), JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}},
			}, Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "nightly-1"}}, LastScheduleTime: agoPtr(9 * time.Hour)}},
			want: []interface{}{"nightly", "0 3 * * *", "<none>", "False", int64(1), "9h", "2d", "app,log", "nginx:1.27,busybox", "<none>"},
		},
		{
			name: "cron job never scheduled",
			obj: &batchv1.CronJob{ObjectMeta: objMeta("default", "c", time.Hour), Spec: batchv1.CronJobSpec{
				Schedule: "@hourly", TimeZone: ptr("Europe/Paris"),
			}},
			want: []interface{}{"c", "@hourly", "Europe/Paris", "<unset>", int64(0), "<none>", "60m", "", "", "<none>"},
		},
		{
			name: "hpa v2",
			obj: &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta("default", "web", time.Hour),
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
					MinReplicas:    ptr(int32(1)), MaxReplicas: 10,
					Metrics: []autoscalingv2.MetricSpec{
						{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
							Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{AverageUtilization: ptr(int32(80))}}},
						{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
							Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{AverageValue: ptr(resource.MustParse("100Mi"))}}},
						{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
							Target: autoscalingv2.MetricTarget{AverageValue: ptr(resource.MustParse("1k"))}}},
					},
				},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, CurrentMetrics: []autoscalingv2.MetricStatus{
					{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
						Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(35))}}},
				}}},
			want: []interface{}{"web", "Deployment/web", "cpu: 35%/80%, memory: <unknown>/100Mi + 1 more...", "1", int64(10), int64(2), "60m"},
		},
		{
			name: "hpa v1",
			obj: &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: objMeta("default", "web", time.Hour),
				Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
					MaxReplicas:    5, TargetCPUUtilizationPercentage: ptr(int32(50)),
				}},
			want: []interface{}{"web", "Deployment/web", "cpu: <unknown>/50%", "<unset>", int64(5), int64(0), "60m"},
		},
		{
			name: "hpa with a malformed metric",
			obj: &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta("default", "m", time.Hour),
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}, {Type: "Foo"}}}},
			want: []interface{}{"m", "/", "<unknown type>, <unknown type>", "<unset>", int64(0), int64(0), "60m"},
		},
		{
			name: "hpa without metrics",
			obj:  &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta("default", "h", time.Hour)},
			want: []interface{}{"h", "/", "<none>", "<unset>", int64(0), int64(0), "60m"},
		},
		{
			name: "pdb",
			obj: &policyv1.PodDisruptionBudget{ObjectMeta: objMeta("default", "web", time.Hour),
				Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))},
				Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			want: []interface{}{"web", "50%", "N/A", int64(1), "60m"},
		},
	}
	runCells(t, tests)
}

func TestOtherCells(t *testing.T) {
	tests := []cellCase{
		{
			name: "ingress",
			obj: &networkingv1.Ingress{ObjectMeta: objMeta("default", "web", time.Hour),
				Spec: networkingv1.IngressSpec{IngressClassName: ptr("traefik"),
					Rules: []networkingv1.IngressRule{{Host: "a.example.com"}, {}, {Host: "b.example.com"}, {Host: "c.example.com"}, {Host: "d.example.com"}},
					TLS:   []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}}},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
					Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.1.5"}, {IP: "192.168.1.4"}}}}},
			want: []interface{}{"web", "traefik", "a.example.com,b.example.com,c.example.com + 2 more...", "192.168.1.4,192.168.1.5", "80, 443", "60m"},
		},
		{
			name: "ingress, no hosts",
			obj: &networkingv1.Ingress{ObjectMeta: objMeta("default", "all", time.Hour),
				Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{}}}},
			want: []interface{}{"all", "<none>", "*", "", "80", "60m"},
		},
		{
			name: "ingress class",
			obj: &networkingv1.IngressClass{ObjectMeta: objMeta("", "traefik", time.Hour), Spec: networkingv1.IngressClassSpec{
				Controller: "traefik.io/ingress-controller",
				Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("k8s.example.com"), Kind: "Params", Name: "p"},
			}},
			want: []interface{}{"traefik", "traefik.io/ingress-controller", "Params.k8s.example.com/p", "60m"},
		},
		{
			name: "network policy",
			obj:  &networkingv1.NetworkPolicy{ObjectMeta: objMeta("default", "deny", time.Hour)},
			want: []interface{}{"deny", "<none>", "60m"},
		},
		{
			name: "endpoint slice",
			obj: &discoveryv1.EndpointSlice{ObjectMeta: objMeta("default", "web-abc", time.Hour), AddressType: discoveryv1.AddressTypeIPv4,
				Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(80))}, {Name: ptr("metrics")}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}}},
			want: []interface{}{"web-abc", "IPv4", "80,metrics", "10.0.0.1,10.0.0.2", "60m"},
		},
		{
			name: "endpoint slice, empty",
			obj:  &discoveryv1.EndpointSlice{ObjectMeta: objMeta("default", "e", time.Hour), AddressType: discoveryv1.AddressTypeIPv6},
			want: []interface{}{"e", "IPv6", "<unset>", "<unset>", "60m"},
		},
		{
			name: "lease",
			obj: &coordinationv1.Lease{ObjectMeta: objMeta("kube-node-lease", "n1", time.Hour),
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("n1")}},
			want: []interface{}{"n1", "n1", "60m"},
		},
		{
			name: "role binding",
			obj: &rbacv1.RoleBinding{ObjectMeta: objMeta("default", "rb", time.Hour),
				RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"},
				Subjects: []rbacv1.Subject{
					{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}, {Kind: "Group", Name: "devs"},
					{Kind: "ServiceAccount", Namespace: "default", Name: "ci"},
				}},
			want: []interface{}{"rb", "Role/reader", "60m", "alice, bob", "devs", "default/ci"},
		},
		{
			name: "cluster role binding",
			obj: &rbacv1.ClusterRoleBinding{ObjectMeta: objMeta("", "admin", time.Hour),
				RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}},
			want: []interface{}{"admin", "ClusterRole/cluster-admin", "60m", "", "", ""},
		},
		{
			name: "cluster role uses the default table",
			obj:  &rbacv1.ClusterRole{ObjectMeta: objMeta("", "view", 0)},
			want: []interface{}{"view", "2026-01-02T12:00:00Z"},
		},
		{
			name: "priority class",
			obj: &schedulingv1.PriorityClass{ObjectMeta: objMeta("", "system-node-critical", time.Hour),
				Value: 2000001000, PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
			want: []interface{}{"system-node-critical", int64(2000001000), false, "60m", "PreemptLowerPriority"},
		},
		{
			name: "default storage class",
			obj: &storagev1.StorageClass{ObjectMeta: func() metav1.ObjectMeta {
				m := objMeta("", "local-path", time.Hour)
				m.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
				return m
			}(), Provisioner: "rancher.io/local-path", VolumeBindingMode: ptr(storagev1.VolumeBindingWaitForFirstConsumer)},
			want: []interface{}{"local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "60m"},
		},
		{
			name: "storage class",
			obj: &storagev1.StorageClass{ObjectMeta: objMeta("", "fast", time.Hour), Provisioner: "csi.example.com",
				ReclaimPolicy: ptr(corev1.PersistentVolumeReclaimRetain), AllowVolumeExpansion: ptr(true)},
			want: []interface{}{"fast", "csi.example.com", "Retain", "Immediate", true, "60m"},
		},
	}
	runCells(t, tests)
}

func TestTable(t *testing.T) {
	tests := []struct {
		name      string
		noHeaders bool
		wantCols  int
	}{
		{name: "with headers", wantCols: 3},
		{name: "no headers", noHeaders: true, wantCols: 0},
	}
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: objMeta("", "a", time.Hour)},
		&corev1.Namespace{ObjectMeta: objMeta("", "b", time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Table(schema.GroupKind{Kind: "Namespace"}, objs, now, tt.noHeaders)
			if err != nil {
				t.Fatal(err)
			}
			if len(tbl.ColumnDefinitions) != tt.wantCols {
				t.Errorf("%d columns; want %d", len(tbl.ColumnDefinitions), tt.wantCols)
			}
			if len(tbl.Rows) != 2 || tbl.Rows[1].Cells[0] != "b" || tbl.Rows[1].Cells[2] != "60s" {
				t.Errorf("rows = %v", tbl.Rows)
			}
		})
	}
	t.Run("object without metadata", func(t *testing.T) {
		if _, err := Cells(&metav1.Status{}, now); err == nil {
			t.Error("Cells(Status) succeeded; want an error")
		}
	})
}
