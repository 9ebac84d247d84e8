package fieldsel

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func om(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
		want fields.Set
	}{
		{
			name: "pod",
			obj: &corev1.Pod{
				ObjectMeta: om("default", "web"),
				Spec: corev1.PodSpec{
					NodeName: "n1", RestartPolicy: corev1.RestartPolicyAlways, SchedulerName: "default-scheduler",
					ServiceAccountName: "sa", HostNetwork: true,
				},
				Status: corev1.PodStatus{
					Phase: corev1.PodRunning, PodIP: "10.0.0.9",
					PodIPs:            []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00::1"}},
					NominatedNodeName: "n2",
				},
			},
			want: fields.Set{
				"metadata.name": "web", "metadata.namespace": "default",
				"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
				"spec.serviceAccountName": "sa", "spec.hostNetwork": "true",
				"status.phase": "Running", "status.podIP": "10.0.0.1", "status.nominatedNodeName": "n2",
			},
		},
		{
			name: "pending pod",
			obj:  &corev1.Pod{ObjectMeta: om("default", "p")},
			want: fields.Set{
				"metadata.name": "p", "metadata.namespace": "default",
				"spec.nodeName": "", "spec.restartPolicy": "", "spec.schedulerName": "",
				"spec.serviceAccountName": "", "spec.hostNetwork": "false",
				"status.phase": "", "status.podIP": "", "status.nominatedNodeName": "",
			},
		},
		{
			name: "node",
			obj:  &corev1.Node{ObjectMeta: om("", "n1"), Spec: corev1.NodeSpec{Unschedulable: true}},
			want: fields.Set{"metadata.name": "n1", "spec.unschedulable": "true"},
		},
		{
			name: "namespace",
			obj:  &corev1.Namespace{ObjectMeta: om("", "kube-system"), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			want: fields.Set{"metadata.name": "kube-system", "name": "kube-system", "status.phase": "Active"},
		},
		{
			name: "secret",
			obj:  &corev1.Secret{ObjectMeta: om("ns", "s"), Type: corev1.SecretTypeTLS},
			want: fields.Set{"metadata.name": "s", "metadata.namespace": "ns", "type": "kubernetes.io/tls"},
		},
		{
			name: "service",
			obj:  &corev1.Service{ObjectMeta: om("ns", "svc"), Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Type: corev1.ServiceTypeClusterIP}},
			want: fields.Set{"metadata.name": "svc", "metadata.namespace": "ns", "spec.clusterIP": "10.43.0.1", "spec.type": "ClusterIP"},
		},
		{
			name: "replication controller",
			obj:  &corev1.ReplicationController{ObjectMeta: om("ns", "rc"), Status: corev1.ReplicationControllerStatus{Replicas: 3}},
			want: fields.Set{"metadata.name": "rc", "metadata.namespace": "ns", "status.replicas": "3"},
		},
		{
			name: "replica set",
			obj:  &appsv1.ReplicaSet{ObjectMeta: om("ns", "rs"), Status: appsv1.ReplicaSetStatus{Replicas: 2}},
			want: fields.Set{"metadata.name": "rs", "metadata.namespace": "ns", "status.replicas": "2"},
		},
		{
			name: "job",
			obj:  &batchv1.Job{ObjectMeta: om("ns", "j"), Status: batchv1.JobStatus{Succeeded: 4}},
			want: fields.Set{"metadata.name": "j", "metadata.namespace": "ns", "status.successful": "4"},
		},
		{
			name: "persistent volume",
			obj:  &corev1.PersistentVolume{ObjectMeta: om("", "pv1")},
			want: fields.Set{"metadata.name": "pv1", "name": "pv1"},
		},
		{
			name: "persistent volume claim",
			obj:  &corev1.PersistentVolumeClaim{ObjectMeta: om("ns", "data")},
			want: fields.Set{"metadata.name": "data", "metadata.namespace": "ns", "name": "data"},
		},
		{
			name: "config map",
			obj:  &corev1.ConfigMap{ObjectMeta: om("ns", "cm")},
			want: fields.Set{"metadata.name": "cm", "metadata.namespace": "ns"},
		},
		{
			name: "cluster role",
			obj:  &rbacv1.ClusterRole{ObjectMeta: om("", "admin")},
			want: fields.Set{"metadata.name": "admin"},
		},
		{
			name: "core event, source from reporting controller",
			obj: &corev1.Event{
				ObjectMeta: om("ns", "web.1"),
				InvolvedObject: corev1.ObjectReference{
					Kind: "Pod", Namespace: "ns", Name: "web", UID: "u1", APIVersion: "v1",
					ResourceVersion: "7", FieldPath: "spec.containers{app}",
				},
				Reason: "Pulled", Type: "Normal", ReportingController: "kubelet",
			},
			want: fields.Set{
				"metadata.name": "web.1", "metadata.namespace": "ns",
				"involvedObject.kind": "Pod", "involvedObject.namespace": "ns", "involvedObject.name": "web",
				"involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "7",
				"involvedObject.fieldPath": "spec.containers{app}", "reason": "Pulled",
				"reportingComponent": "kubelet", "source": "kubelet", "type": "Normal",
			},
		},
		{
			name: "events.k8s.io event uses core labels",
			obj: &eventsv1.Event{
				ObjectMeta: om("ns", "e"),
				Regarding:  corev1.ObjectReference{Kind: "Node", Name: "n1"},
				Reason:     "Starting", Type: "Normal", ReportingController: "skiff",
				DeprecatedSource: corev1.EventSource{Component: "kube-proxy"},
			},
			want: fields.Set{
				"metadata.name": "e", "metadata.namespace": "ns",
				"involvedObject.kind": "Node", "involvedObject.namespace": "", "involvedObject.name": "n1",
				"involvedObject.uid": "", "involvedObject.apiVersion": "", "involvedObject.resourceVersion": "",
				"involvedObject.fieldPath": "", "reason": "Starting",
				"reportingComponent": "skiff", "source": "kube-proxy", "type": "Normal",
			},
		},
		{
			name: "unstructured of an unknown kind",
			obj: func() runtime.Object {
				u := &unstructured.Unstructured{}
				u.SetAPIVersion("example.com/v1")
				u.SetKind("Widget")
				u.SetNamespace("ns")
				u.SetName("w")
				return u
			}(),
			want: fields.Set{"metadata.name": "w", "metadata.namespace": "ns"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fields(tt.obj); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Fields() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestAttrs(t *testing.T) {
	tests := []struct {
		name       string
		obj        runtime.Object
		wantLabels labels.Set
		wantName   string
		wantErr    bool
	}{
		{name: "pod", obj: &corev1.Pod{ObjectMeta: om("ns", "web")}, wantLabels: labels.Set{"app": "web"}, wantName: "web"},
		{name: "no labels", obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, wantLabels: labels.Set{}, wantName: "x"},
		{name: "not an object", obj: &metav1.Status{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, f, err := Attrs(tt.obj)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Attrs() error = %v; want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(l) != len(tt.wantLabels) || !labels.Equals(l, tt.wantLabels) {
				t.Errorf("labels = %v; want %v", l, tt.wantLabels)
			}
			if got := f["metadata.name"]; got != tt.wantName {
				t.Errorf("metadata.name = %q; want %q", got, tt.wantName)
			}
			if !labels.Equals(Labels(tt.obj), tt.wantLabels) {
				t.Errorf("Labels() = %v; want %v", Labels(tt.obj), tt.wantLabels)
			}
		})
	}
}

func TestConvertSelector(t *testing.T) {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	tests := []struct {
		name    string
		gk      schema.GroupKind
		sel     string
		want    string // converted selector
		wantErr string // BadRequest message
	}{
		{name: "pod node name", gk: core("Pod"), sel: "spec.nodeName=n1,status.phase!=Failed", want: "spec.nodeName=n1,status.phase!=Failed"},
		{name: "pod legacy spec.host", gk: core("Pod"), sel: "spec.host=n1", want: "spec.nodeName=n1"},
		{name: "pod podIPs accepted", gk: core("Pod"), sel: "status.podIPs=10.0.0.1", want: "status.podIPs=10.0.0.1"},
		{name: "pod unknown", gk: core("Pod"), sel: "status.hostIP=1.2.3.4", wantErr: "field label not supported: status.hostIP"},
		{name: "node namespace refused", gk: core("Node"), sel: "metadata.namespace=x", wantErr: "field label not supported: metadata.namespace"},
		{name: "node unschedulable", gk: core("Node"), sel: "spec.unschedulable=false", want: "spec.unschedulable=false"},
		{name: "namespace phase", gk: core("Namespace"), sel: "status.phase=Active", want: "status.phase=Active"},
		{name: "secret type", gk: core("Secret"), sel: "type=Opaque", want: "type=Opaque"},
		{name: "service type", gk: core("Service"), sel: "spec.type=NodePort", want: "spec.type=NodePort"},
		{name: "config map default", gk: core("ConfigMap"), sel: "metadata.namespace=a", want: "metadata.namespace=a"},
		{name: "config map unknown", gk: core("ConfigMap"), sel: "data.x=1",
			wantErr: `"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{name: "replica set has no conversion", gk: schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, sel: "status.replicas=1",
			wantErr: `"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{name: "rc replicas", gk: core("ReplicationController"), sel: "status.replicas=1", want: "status.replicas=1"},
		{name: "job successful", gk: schema.GroupKind{Group: "batch", Kind: "Job"}, sel: "status.successful=1", want: "status.successful=1"},
		{name: "job unknown", gk: schema.GroupKind{Group: "batch", Kind: "Job"}, sel: "status.succeeded=1",
			wantErr: `field label "status.succeeded" not supported for batchv1.Job`},
		{name: "core event", gk: core("Event"), sel: "involvedObject.name=web,type=Warning", want: "involvedObject.name=web,type=Warning"},
		{name: "events.k8s.io regarding", gk: schema.GroupKind{Group: "events.k8s.io", Kind: "Event"},
			sel: "regarding.name=web,reportingController=kubelet", want: "involvedObject.name=web,reportingComponent=kubelet"},
		{name: "events.k8s.io refuses core labels", gk: schema.GroupKind{Group: "events.k8s.io", Kind: "Event"},
			sel: "involvedObject.name=web", wantErr: "field label not supported: involvedObject.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := fields.ParseSelector(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ConvertSelector(tt.gk, sel)
			verr := ValidateSelector(tt.gk, sel)
			if tt.wantErr != "" {
				if !apierrors.IsBadRequest(err) || err.Error() != tt.wantErr {
					t.Fatalf("error = %v; want BadRequest %q", err, tt.wantErr)
				}
				if verr == nil || verr.Error() != tt.wantErr {
					t.Errorf("ValidateSelector() = %v; want %q", verr, tt.wantErr)
				}
				return
			}
			if err != nil || verr != nil {
				t.Fatalf("unexpected error: %v, %v", err, verr)
			}
			if got.String() != tt.want {
				t.Errorf("converted = %q; want %q", got.String(), tt.want)
			}
		})
	}
	t.Run("nil selector", func(t *testing.T) {
		if got, err := ConvertSelector(core("Pod"), nil); got != nil || err != nil {
			t.Errorf("ConvertSelector(nil) = %v, %v; want nil, nil", got, err)
		}
	})
}

func TestSupported(t *testing.T) {
	tests := []struct {
		gk   schema.GroupKind
		want []string
	}{
		{schema.GroupKind{Kind: "Node"}, []string{"metadata.name", "spec.unschedulable"}},
		{schema.GroupKind{Kind: "Secret"}, []string{"metadata.name", "metadata.namespace", "type"}},
		{schema.GroupKind{Group: "apps", Kind: "Deployment"}, []string{"metadata.name", "metadata.namespace"}},
		{schema.GroupKind{Kind: "Pod"}, []string{
			"metadata.name", "metadata.namespace", "spec.host", "spec.hostNetwork", "spec.nodeName",
			"spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.nominatedNodeName",
			"status.phase", "status.podIP", "status.podIPs",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.gk.String(), func(t *testing.T) {
			if got := Supported(tt.gk); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Supported() = %v; want %v", got, tt.want)
			}
		})
	}
}

// TestSelectorMatchesFields drives a request selector through conversion
// and matches it against objects' fields, as the storage layer does.
func TestSelectorMatchesFields(t *testing.T) {
	running := &corev1.Pod{ObjectMeta: om("ns", "a"), Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	pending := &corev1.Pod{ObjectMeta: om("ns", "b"), Status: corev1.PodStatus{Phase: corev1.PodPending}}
	ev := &corev1.Event{ObjectMeta: om("ns", "e"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "a"}}
	tests := []struct {
		name string
		gk   schema.GroupKind
		sel  string
		obj  runtime.Object
		want bool
	}{
		{"unscheduled pods", schema.GroupKind{Kind: "Pod"}, "spec.nodeName=", pending, true},
		{"unscheduled pods skip scheduled", schema.GroupKind{Kind: "Pod"}, "spec.nodeName=", running, false},
		{"legacy host alias", schema.GroupKind{Kind: "Pod"}, "spec.host=n1", running, true},
		{"not terminal", schema.GroupKind{Kind: "Pod"}, "status.phase!=Succeeded,status.phase!=Failed", running, true},
		{"podIPs never set", schema.GroupKind{Kind: "Pod"}, "status.podIPs=10.0.0.1", running, false},
		{"events.k8s.io by regarding", schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, "regarding.name=a", ev, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := fields.ParseSelector(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			conv, err := ConvertSelector(tt.gk, sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := conv.Matches(Fields(tt.obj)); got != tt.want {
				t.Errorf("%q matches = %v; want %v", tt.sel, got, tt.want)
			}
		})
	}
}
