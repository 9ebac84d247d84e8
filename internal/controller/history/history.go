package history

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
)

// maxCollisions bounds how many hash collisions Ensure resolves in one
// call before giving up (each bumps the collision count).
const maxCollisions = 10

// TemplateData encodes a pod template as revision data: a patch
// {"spec":{"template":{...,"$patch":"replace"}}}.
func TemplateData(t *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
}

// Template decodes revision data written by TemplateData.
func Template(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var v struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &v); err != nil {
		return nil, fmt.Errorf("history: revision %s: %w", rev.Name, err)
	}
	return &v.Spec.Template, nil
}

// Hash is the short, DNS-safe hash of data and the collision count that
// names a revision.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// Name is the revision name for owner and hash.
func Name(owner, hash string) string {
	// Leave room for the hash within the 253-character name limit.
	if len(owner) > 223 {
		owner = owner[:223]
	}
	return owner + "-" + hash
}

// Sort orders revisions oldest first: by Revision, then creation time,
// then name. It sorts the slice in place, not the objects.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// Equal reports whether two revisions hold the same data, ignoring JSON
// formatting.
func Equal(a, b *appsv1.ControllerRevision) bool {
	if bytes.Equal(a.Data.Raw, b.Data.Raw) {
		return true
	}
	var x, y any
	if json.Unmarshal(a.Data.Raw, &x) != nil || json.Unmarshal(b.Data.Raw, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Find returns the revision named name, or nil.
func Find(revs []*appsv1.ControllerRevision, name string) *appsv1.ControllerRevision {
	for _, r := range revs {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Owner is the object whose revisions are managed.
type Owner struct {
	Meta metav1.Object
	GVK  schema.GroupVersionKind
}

// Ref is the controller reference to o.
func (o Owner) Ref() metav1.OwnerReference {
	return *metav1.NewControllerRef(o.Meta, o.GVK)
}

// Ensure returns the revision holding data for owner, creating it when
// no revision in revs (sorted oldest first, all owned by owner) holds
// it, or renumbering an older equal revision to be the newest. labels
// are the revision's labels; the hash label is added. It returns the
// collision count to store in the owner's status (bumped on a name
// clash with a revision holding other data).
func Ensure(ctx context.Context, c kubernetes.Interface, owner Owner, labels map[string]string, data []byte, revs []*appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, *int32, error) {
	next := int64(1)
	if n := len(revs); n > 0 {
		next = revs[n-1].Revision + 1
	}
	want := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}}
	for i := len(revs) - 1; i >= 0; i-- {
		if !Equal(revs[i], want) {
			continue
		}
		if i == len(revs)-1 {
			return revs[i], collisionCount, nil
		}
		// An older revision comes back (a rollback): make it the newest.
		r := revs[i].DeepCopy()
		r.Revision = next
		updated, err := c.AppsV1().ControllerRevisions(r.Namespace).Update(ctx, r, metav1.UpdateOptions{})
		return updated, collisionCount, err
	}
	var cc int32
	if collisionCount != nil {
		cc = *collisionCount
	}
	ns := owner.Meta.GetNamespace()
	for range maxCollisions {
		hash := Hash(data, &cc)
		rev := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name:            Name(owner.Meta.GetName(), hash),
				Namespace:       ns,
				Labels:          map[string]string{},
				OwnerReferences: []metav1.OwnerReference{owner.Ref()},
			},
			Data:     runtime.RawExtension{Raw: data},
			Revision: next,
		}
		for k, v := range labels {
			rev.Labels[k] = v
		}
		rev.Labels[appsv1.ControllerRevisionHashLabelKey] = hash
		created, err := c.AppsV1().ControllerRevisions(ns).Create(ctx, rev, metav1.CreateOptions{})
		if err == nil {
			return created, counted(collisionCount, cc), nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, &cc, err
		}
		existing, err := c.AppsV1().ControllerRevisions(ns).Get(ctx, rev.Name, metav1.GetOptions{})
		if err != nil {
			return nil, &cc, err
		}
		if metav1.IsControlledBy(existing, owner.Meta) && Equal(existing, rev) {
			return existing, counted(collisionCount, cc), nil
		}
		cc++
	}
	return nil, &cc, fmt.Errorf("history: %d hash collisions for %s/%s", maxCollisions, ns, owner.Meta.GetName())
}

// counted is the collision count to report: unset stays unset until a
// collision happened.
func counted(was *int32, now int32) *int32 {
	if was == nil && now == 0 {
		return nil
	}
	return &now
}

// Truncate deletes the oldest revisions of revs (sorted oldest first)
// whose names are not in live until at most limit non-live ones remain.
func Truncate(ctx context.Context, c kubernetes.Interface, revs []*appsv1.ControllerRevision, live sets.Set[string], limit int32) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live.Has(r.Name) {
			old = append(old, r)
		}
	}
	excess := len(old) - int(max(limit, 0))
	for i := 0; i < excess; i++ {
		err := c.AppsV1().ControllerRevisions(old[i].Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
