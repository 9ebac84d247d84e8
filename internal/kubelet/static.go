package kubelet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/resources/defaults"
)

// Static pods. Every *.yaml, *.yml and *.json file in Config.StaticPodDir
// holds one Pod. The agent runs it without the API server: its name gets
// "-NODE" appended, its namespace defaults to "default", and its UID is a
// hash of the file's content and the node name, so an edited file is a
// new pod (the old one is stopped and cleaned up, the new one started).
// The directory is read at start, before anything else runs, and then
// every StaticPodCheckPeriod.
//
// Each static pod has a mirror pod in the API: the same pod with the
// annotation kubernetes.io/config.mirror set to the static pod's hash and
// the Node as its controller owner. Its status is the static pod's
// status. A mirror pod that is deleted or out of date is replaced; one
// whose static pod is gone is deleted.

// Annotations of static and mirror pods, as upstream names them.
const (
	annotationConfigHash   = "kubernetes.io/config.hash"
	annotationConfigMirror = "kubernetes.io/config.mirror"
	annotationConfigSource = "kubernetes.io/config.source"
)

// StaticPodCheckPeriod is how often the static pod directory is read.
const StaticPodCheckPeriod = 2 * time.Second

// staticPods is the set of static pods read from the manifest directory.
type staticPods struct {
	k *Kubelet
	// mu guards pods.
	mu sync.Mutex
	// pods holds each static pod by UID; they are never modified.
	pods map[types.UID]*corev1.Pod
}

func newStaticPods(k *Kubelet) *staticPods {
	return &staticPods{k: k, pods: map[types.UID]*corev1.Pod{}}
}

func (s *staticPods) has(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pods[uid]
	return ok
}

func (s *staticPods) get(uid types.UID) *corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pods[uid]
}

// staticPodList returns the static pods; they must not be modified.
func (k *Kubelet) staticPodList() []*corev1.Pod {
	s := k.static
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(s.pods))
	for _, p := range s.pods {
		out = append(out, p)
	}
	return out
}

func isMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[annotationConfigMirror]
	return ok
}

func everything() labels.Selector { return labels.Everything() }

// readStaticPods reads the manifest directory. Files that do not parse
// are logged and skipped.
func (k *Kubelet) readStaticPods() map[types.UID]*corev1.Pod {
	out := map[types.UID]*corev1.Pod{}
	entries, err := os.ReadDir(k.cfg.StaticPodDir)
	if err != nil {
		if !os.IsNotExist(err) {
			k.log.Warn("reading static pod manifests", "err", err)
		}
		return out
	}
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		path := filepath.Join(k.cfg.StaticPodDir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			k.log.Warn("reading a static pod manifest", "file", path, "err", err)
			continue
		}
		pod, err := staticPodFromManifest(data, k.cfg.NodeName)
		if err != nil {
			k.log.Warn("static pod manifest not used", "file", path, "err", err)
			continue
		}
		out[pod.UID] = pod
	}
	return out
}

// staticPodFromManifest decodes a manifest and makes it this node's pod.
func staticPodFromManifest(data []byte, nodeName string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(pod); err != nil {
		return nil, err
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return nil, fmt.Errorf("kind %q is not Pod", pod.Kind)
	}
	if pod.Name == "" {
		return nil, fmt.Errorf("metadata.name is required")
	}
	defaults.Default(pod)
	sum := sha256.New()
	sum.Write(data)
	sum.Write([]byte(nodeName))
	hash := hex.EncodeToString(sum.Sum(nil))[:32]
	pod.Name = pod.Name + "-" + nodeName
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.UID = types.UID(hash)
	pod.Spec.NodeName = nodeName
	pod.Status = corev1.PodStatus{}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationConfigHash] = hash
	pod.Annotations[annotationConfigSource] = "file"
	// A static pod is the node's own: it tolerates the node's NoExecute taints.
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	return pod, nil
}

// syncStaticPods reads the directory and starts, stops or replaces static
// pods to match it; it deletes mirror pods whose static pod is gone.
func (k *Kubelet) syncStaticPods(ctx context.Context) {
	want := k.readStaticPods()
	s := k.static
	s.mu.Lock()
	var gone, added []*corev1.Pod
	for uid, p := range s.pods {
		if _, ok := want[uid]; !ok {
			gone = append(gone, p)
		}
	}
	for uid, p := range want {
		if _, ok := s.pods[uid]; !ok {
			added = append(added, p)
		}
	}
	s.pods = want
	s.mu.Unlock()
	for _, p := range gone {
		k.log.Info("static pod removed", "pod", p.Namespace+"/"+p.Name, "uid", p.UID)
		k.wake(ctx, p.UID, p.Namespace, p.Name)
	}
	for _, p := range added {
		k.log.Info("static pod added", "pod", p.Namespace+"/"+p.Name, "uid", p.UID)
		k.wake(ctx, p.UID, p.Namespace, p.Name)
	}
	k.deleteOrphanMirrors(ctx, want)
}

// deleteOrphanMirrors deletes the mirror pods of static pods that are
// no longer in the directory.
func (k *Kubelet) deleteOrphanMirrors(ctx context.Context, static map[types.UID]*corev1.Pod) {
	if k.podLister == nil || !k.podSynced() {
		return
	}
	pods, _ := k.podLister.List(everything())
	for _, p := range pods {
		if !isMirrorPod(p) {
			continue
		}
		if sp, ok := static[types.UID(p.Annotations[annotationConfigMirror])]; ok && sp.Name == p.Name && sp.Namespace == p.Namespace {
			continue
		}
		if err := k.deleteMirror(ctx, p); err != nil && ctx.Err() == nil {
			k.log.Warn("deleting an orphaned mirror pod", "pod", p.Namespace+"/"+p.Name, "err", err)
		}
	}
}

func (k *Kubelet) deleteMirror(ctx context.Context, mirror *corev1.Pod) error {
	err := k.client.CoreV1().Pods(mirror.Namespace).Delete(ctx, mirror.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &mirror.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// staticPodLoop re-reads the static pod directory every
// StaticPodCheckPeriod until ctx ends.
func (k *Kubelet) staticPodLoop(ctx context.Context) {
	ticker := k.clock.NewTicker(StaticPodCheckPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		k.syncStaticPods(ctx)
	}
}

// staticPodView returns the static pod uid with its mirror pod's status
// (a fresh copy the caller owns), or nil when uid is not a static pod.
func (k *Kubelet) staticPodView(uid types.UID) *corev1.Pod {
	sp := k.static.get(uid)
	if sp == nil {
		return nil
	}
	pod := sp.DeepCopy()
	if m := k.mirrorOf(sp); m != nil {
		pod.Status = *m.Status.DeepCopy()
	}
	return pod
}

// mirrorOf returns the mirror pod of static pod sp from the informer
// cache, or nil. The result must not be modified.
func (k *Kubelet) mirrorOf(sp *corev1.Pod) *corev1.Pod {
	if k.podLister == nil {
		return nil
	}
	m, err := k.podLister.Pods(sp.Namespace).Get(sp.Name)
	if err != nil || m.Annotations[annotationConfigMirror] != string(sp.UID) || m.DeletionTimestamp != nil {
		return nil
	}
	return m
}

// syncMirror makes sure static pod pod has an up-to-date mirror pod and
// returns when to look again (0 for API pods and when all is well).
func (k *Kubelet) syncMirror(ctx context.Context, pod *corev1.Pod) time.Duration {
	sp := k.static.get(pod.UID)
	if sp == nil {
		return 0
	}
	cur, err := k.podLister.Pods(sp.Namespace).Get(sp.Name)
	if err == nil {
		if cur.Annotations[annotationConfigMirror] == string(sp.UID) && cur.DeletionTimestamp == nil {
			return 0
		}
		// Deleted by a user, out of date, or not a mirror at all: replace it.
		if err := k.deleteMirror(ctx, cur); err != nil {
			k.log.Warn("deleting a stale mirror pod", "pod", sp.Namespace+"/"+sp.Name, "err", err)
		}
		return retryDelay
	}
	if k.nodeUID == "" {
		return retryDelay
	}
	m := sp.DeepCopy()
	m.UID, m.ResourceVersion = "", ""
	m.Annotations[annotationConfigMirror] = string(sp.UID)
	m.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: k.cfg.NodeName, UID: k.nodeUID, Controller: ptr.To(true),
	}}
	if _, err := k.client.CoreV1().Pods(m.Namespace).Create(ctx, m, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		if ctx.Err() == nil {
			k.log.Warn("creating the mirror pod", "pod", m.Namespace+"/"+m.Name, "err", err)
		}
		return retryDelay
	}
	// The status is posted on the next pass, once the cache has the mirror.
	return retryDelay
}

// staticNames returns the static pods' namespace/name keys, sorted (tests).
func (k *Kubelet) staticNames() []string {
	var out []string
	for _, p := range k.staticPodList() {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	sort.Strings(out)
	return out
}
