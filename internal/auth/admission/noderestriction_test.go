package admission

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/auth"
)

func TestNodeRestriction(t *testing.T) {
	yes := true
	store := &fakeStore{
		nodes: []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid1"}}},
		pods: []corev1.Pod{
			{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n1"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n2"}},
		},
	}
	p := &NodeRestriction{Nodes: store, Pods: store}
	asNode := func(r *Request) *Request {
		r.Attributes.User = &auth.User{Name: "system:node:n1", Groups: []string{auth.NodesGroup, auth.AllAuthenticated}}
		return r
	}
	mirror := func(node string, uid types.UID) *corev1.Pod {
		pod := newPod("static")
		pod.Annotations = map[string]string{MirrorPodAnnotation: "hash"}
		pod.Spec.NodeName = node
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: uid, Controller: &yes}}
		return pod
	}
	bound := func(node string) *corev1.Pod { pod := newPod("mine"); pod.Spec.NodeName = node; return pod }
	nodeObj := func(labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	tests := []struct {
		name    string
		req     *Request
		wantErr string
	}{
		{"non-node user ignored", podCreate(newPod("p")), ""},
		{"mirror pod", asNode(podCreate(mirror("n1", "uid1"))), ""},
		{"regular pod", asNode(podCreate(newPod("p"))),
			`pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"mirror pod for other node", asNode(podCreate(mirror("n2", "uid1"))),
			`pods "static" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`},
		{"mirror pod wrong uid", asNode(podCreate(mirror("n1", "bad"))),
			`pods "static" is forbidden: node n1 UID mismatch: expected uid1 got bad`},
		{"delete own pod", asNode(request(Delete, "", "pods", "", "ns", "mine", nil, bound("n1"))), ""},
		{"delete other pod", asNode(request(Delete, "", "pods", "", "ns", "mine", nil, bound("n2"))),
			`pods "mine" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself`},
		{"update pod", asNode(request(Update, "", "pods", "", "ns", "mine", bound("n1"), bound("n1"))),
			`pods "mine" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{"own pod status", asNode(request(Update, "", "pods", "status", "ns", "mine", bound("n1"), bound("n1"))), ""},
		{"other pod status", asNode(request(Update, "", "pods", "status", "ns", "mine", bound("n2"), bound("n2"))),
			`pods "mine" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"evict other pod", asNode(request(Create, "", "pods", "eviction", "ns", "theirs", nil, nil)),
			`pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself`},
		{"own node", asNode(request(Update, "", "nodes", "", "", "n1", nodeObj(nil), nodeObj(nil))), ""},
		{"other node", asNode(request(Update, "", "nodes", "", "", "n2", nodeObj(nil), nodeObj(nil))),
			`nodes "n1" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"kubelet labels", asNode(request(Create, "", "nodes", "", "", "", nodeObj(map[string]string{"kubernetes.io/hostname": "n1", "node.kubernetes.io/x": "y", "example.com/a": "b"}), nil)), ""},
		{"restricted labels", asNode(request(Create, "", "nodes", "", "", "", nodeObj(map[string]string{"node-restriction.kubernetes.io/pool": "a", "kubernetes.io/role": "master"}), nil)),
			`nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: kubernetes.io/role, node-restriction.kubernetes.io/pool`},
		{"modify taints", asNode(request(Update, "", "nodes", "", "", "n1", nodeObj(nil), nodeObj(nil, corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}))),
			`nodes "n1" is forbidden: node "n1" is not allowed to modify taints`},
		{"own lease", asNode(request(Update, "coordination.k8s.io", "leases", "", NodeLeaseNamespace, "n1", nil, nil)), ""},
		{"other lease", asNode(request(Update, "coordination.k8s.io", "leases", "", NodeLeaseNamespace, "n2", nil, nil)),
			`leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Admit(context.Background(), tt.req)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("got %q; want %q", got, tt.wantErr)
			}
		})
	}
}
