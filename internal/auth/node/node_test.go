package node

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// fakeGraph is an in-memory Graph.
type fakeGraph struct {
	pods        []*corev1.Pod
	pvcs        map[string]*corev1.PersistentVolumeClaim // namespace/name
	pvs         map[string]*corev1.PersistentVolume
	attachments map[string]*storagev1.VolumeAttachment
}

func (g *fakeGraph) PodsOnNode(node string) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, p := range g.pods {
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
	}
	return out, nil
}

func (g *fakeGraph) PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	if c, ok := g.pvcs[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, name)
}

func (g *fakeGraph) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	if v, ok := g.pvs[name]; ok {
		return v, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumes"}, name)
}

func (g *fakeGraph) VolumeAttachment(name string) (*storagev1.VolumeAttachment, error) {
	if v, ok := g.attachments[name]; ok {
		return v, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "storage.k8s.io", Resource: "volumeattachments"}, name)
}

func testGraph() *fakeGraph {
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web"},
		Spec: corev1.PodSpec{
			NodeName:           "n1",
			ServiceAccountName: "web-sa",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
			InitContainers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-env"}}},
			}}},
			Containers: []corev1.Container{{Env: []corev1.EnvVar{
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "pw"}}},
			}}},
			Volumes: []corev1.Volume{
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
			},
		},
	}
	other := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "other"},
		Spec: corev1.PodSpec{
			NodeName: "n2",
			Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "n2-secret"}}},
			},
		},
	}
	return &fakeGraph{
		pods: []*corev1.Pod{web, other},
		pvcs: map[string]*corev1.PersistentVolumeClaim{
			"app/data": {ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-data"}},
		},
		pvs: map[string]*corev1.PersistentVolume{
			"pv-data": {ObjectMeta: metav1.ObjectMeta{Name: "pv-data"}, Spec: corev1.PersistentVolumeSpec{
				ClaimRef: &corev1.ObjectReference{Namespace: "app", Name: "data"},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: "d", NodePublishSecretRef: &corev1.SecretReference{Namespace: "storage", Name: "csi-creds"},
				}},
			}},
			"pv-other": {ObjectMeta: metav1.ObjectMeta{Name: "pv-other"}},
		},
		attachments: map[string]*storagev1.VolumeAttachment{
			"va1": {ObjectMeta: metav1.ObjectMeta{Name: "va1"}, Spec: storagev1.VolumeAttachmentSpec{NodeName: "n1"}},
			"va2": {ObjectMeta: metav1.ObjectMeta{Name: "va2"}, Spec: storagev1.VolumeAttachmentSpec{NodeName: "n2"}},
		},
	}
}

func TestAuthorize(t *testing.T) {
	n1 := &auth.User{Name: "system:node:n1", Groups: []string{auth.NodesGroup, auth.AllAuthenticated}}
	r := func(verb, group, resource, sub, ns, name string) auth.Attributes {
		return auth.Attributes{User: n1, Verb: verb, ResourceRequest: true, APIGroup: group, Resource: resource,
			Subresource: sub, Namespace: ns, Name: name}
	}
	withUser := func(a auth.Attributes, u *auth.User) auth.Attributes { a.User = u; return a }
	const noRel = "no relationship found between node 'n1' and this object"

	tests := []struct {
		name       string
		a          auth.Attributes
		selector   string
		want       auth.Decision
		wantReason string
	}{
		{"not a node", withUser(r("get", "", "secrets", "", "app", "db"), &auth.User{Name: "alice"}), "", auth.NoOpinion, ""},
		{"node name without group", withUser(r("get", "", "nodes", "", "", "n1"), &auth.User{Name: "system:node:n1"}), "", auth.NoOpinion, ""},
		{"node group without node name", withUser(r("get", "", "nodes", "", "", "n1"), &auth.User{Name: "bob", Groups: []string{auth.NodesGroup}}), "", auth.NoOpinion, ""},
		{"empty node name", withUser(r("get", "", "nodes", "", "", "n1"), &auth.User{Name: "system:node:", Groups: []string{auth.NodesGroup}}), "",
			auth.NoOpinion, `unknown node for user "system:node:"`},

		{"own node get", r("get", "", "nodes", "", "", "n1"), "", auth.Allow, ""},
		{"own node watch by name", r("watch", "", "nodes", "", "", "n1"), "", auth.Allow, ""},
		{"other node get", r("get", "", "nodes", "", "", "n2"), "", auth.NoOpinion, "node 'n1' cannot read 'n2', only its own Node object"},
		{"list all nodes", r("list", "", "nodes", "", "", ""), "", auth.NoOpinion, "node 'n1' cannot read all nodes, only its own Node object"},
		{"create node", r("create", "", "nodes", "", "", ""), "", auth.Allow, ""},
		{"update node status", r("patch", "", "nodes", "status", "", "n1"), "", auth.Allow, ""},
		{"delete node", r("delete", "", "nodes", "", "", "n1"), "", auth.NoOpinion, ""},

		{"own lease", r("update", "coordination.k8s.io", "leases", "", LeaseNamespace, "n1"), "", auth.Allow, ""},
		{"create lease", r("create", "coordination.k8s.io", "leases", "", LeaseNamespace, ""), "", auth.Allow, ""},
		{"other lease", r("get", "coordination.k8s.io", "leases", "", LeaseNamespace, "n2"), "", auth.NoOpinion,
			"can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", r("get", "coordination.k8s.io", "leases", "", "kube-system", "n1"), "", auth.NoOpinion,
			`can only access leases in the "kube-node-lease" system namespace`},
		{"list leases", r("list", "coordination.k8s.io", "leases", "", LeaseNamespace, ""), "", auth.NoOpinion,
			"can only get, create, update, patch, or delete a node lease"},

		{"get own pod", r("get", "", "pods", "", "app", "web"), "", auth.Allow, ""},
		{"get other node's pod", r("get", "", "pods", "", "app", "other"), "", auth.NoOpinion, noRel},
		{"watch pods on node", r("watch", "", "pods", "", "", ""), "spec.nodeName=n1", auth.Allow, ""},
		{"list pods on node among selectors", r("list", "", "pods", "", "", ""), "status.phase!=Failed,spec.nodeName=n1", auth.Allow, ""},
		{"list pods on other node", r("list", "", "pods", "", "", ""), "spec.nodeName=n2", auth.NoOpinion,
			"can only list/watch pods with spec.nodeName field selector"},
		{"list all pods", r("list", "", "pods", "", "", ""), "", auth.NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"create mirror pod", r("create", "", "pods", "", "app", ""), "", auth.Allow, ""},
		{"delete mirror pod", r("delete", "", "pods", "", "app", "web"), "", auth.Allow, ""},
		{"update pod status", r("update", "", "pods", "status", "app", "web"), "", auth.Allow, ""},
		{"evict pod", r("create", "", "pods", "eviction", "app", "web"), "", auth.Allow, ""},
		{"update pod spec", r("update", "", "pods", "", "app", "web"), "", auth.NoOpinion, ""},
		{"exec into pod", r("create", "", "pods", "exec", "app", "web"), "", auth.NoOpinion, ""},

		{"secret from env", r("get", "", "secrets", "", "app", "db"), "", auth.Allow, ""},
		{"secret from volume", r("get", "", "secrets", "", "app", "tls"), "", auth.Allow, ""},
		{"image pull secret", r("get", "", "secrets", "", "app", "pull"), "", auth.Allow, ""},
		{"secret watch by name", r("watch", "", "secrets", "", "app", "tls"), "", auth.Allow, ""},
		{"secret of other node's pod", r("get", "", "secrets", "", "app", "n2-secret"), "", auth.NoOpinion, noRel},
		{"same name other namespace", r("get", "", "secrets", "", "prod", "db"), "", auth.NoOpinion, noRel},
		{"list secrets", r("list", "", "secrets", "", "app", ""), "", auth.NoOpinion, "No Object name found"},
		{"update secret", r("update", "", "secrets", "", "app", "db"), "", auth.NoOpinion, "can only read resources of this type"},
		{"secret of pod's volume", r("get", "", "secrets", "", "storage", "csi-creds"), "", auth.Allow, ""},
		{"configmap from volume", r("get", "", "configmaps", "", "app", "cfg"), "", auth.Allow, ""},
		{"configmap from init envFrom", r("get", "", "configmaps", "", "app", "init-env"), "", auth.Allow, ""},
		{"configmap projected", r("get", "", "configmaps", "", "app", "kube-root-ca.crt"), "", auth.Allow, ""},
		{"unrelated configmap", r("get", "", "configmaps", "", "app", "nope"), "", auth.NoOpinion, noRel},

		{"pvc used", r("get", "", "persistentvolumeclaims", "", "app", "data"), "", auth.Allow, ""},
		{"ephemeral pvc", r("get", "", "persistentvolumeclaims", "", "app", "web-scratch"), "", auth.Allow, ""},
		{"pvc unrelated", r("get", "", "persistentvolumeclaims", "", "app", "other"), "", auth.NoOpinion, noRel},
		{"pvc list", r("list", "", "persistentvolumeclaims", "", "app", ""), "", auth.NoOpinion, "can only get individual resources of this type"},
		{"pvc status update", r("patch", "", "persistentvolumeclaims", "status", "app", "data"), "", auth.Allow, ""},
		{"pv bound to used claim", r("get", "", "persistentvolumes", "", "", "pv-data"), "", auth.Allow, ""},
		{"pv unrelated", r("get", "", "persistentvolumes", "", "", "pv-other"), "", auth.NoOpinion, noRel},
		{"attachment on node", r("get", "storage.k8s.io", "volumeattachments", "", "", "va1"), "", auth.Allow, ""},
		{"attachment elsewhere", r("get", "storage.k8s.io", "volumeattachments", "", "", "va2"), "", auth.NoOpinion, noRel},

		{"token for pod's sa", r("create", "", "serviceaccounts", "token", "app", "web-sa"), "", auth.Allow, ""},
		{"token for other sa", r("create", "", "serviceaccounts", "token", "app", "admin"), "", auth.NoOpinion, noRel},
		{"get service account", r("get", "", "serviceaccounts", "", "app", "web-sa"), "", auth.NoOpinion,
			"can only create tokens for individual service accounts"},

		{"own csinode", r("update", "storage.k8s.io", "csinodes", "", "", "n1"), "", auth.Allow, ""},
		{"other csinode", r("update", "storage.k8s.io", "csinodes", "", "", "n2"), "", auth.NoOpinion,
			"can only access CSINode with the same name as the requesting node"},

		{"static rule: events", r("create", "", "events", "", "app", ""), "", auth.Allow, ""},
		{"static rule: services", r("watch", "", "services", "", "", ""), "", auth.Allow, ""},
		{"static rule: tokenreview", r("create", "authentication.k8s.io", "tokenreviews", "", "", ""), "", auth.Allow, ""},
		{"no rule: deployments", r("list", "apps", "deployments", "", "", ""), "", auth.NoOpinion, ""},
		{"no rule: healthz", auth.Attributes{User: n1, Verb: "get", Path: "/healthz"}, "", auth.NoOpinion, ""},
	}
	z := New(testGraph())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.FieldSelector = tt.selector
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil || d != tt.want || reason != tt.wantReason {
				t.Errorf("got %v %q (err %v); want %v %q", d, reason, err, tt.want, tt.wantReason)
			}
		})
	}
}
