// Package fakemeta is a hand-written, recording fake of the metadata client
// (k8s.io/client-go/metadata) for controller unit tests. It keeps objects in
// memory and follows the API server's deletion rules: an object with
// finalizers (or asked to be deleted in the foreground or as an orphan) gets
// a deletionTimestamp instead of vanishing, and an update that empties the
// finalizers of a deleting object removes it. Preconditions and
// resourceVersions in merge patches are honoured. Only the calls the
// controllers make are supported: Get, List, Delete, DeleteCollection and
// JSON merge Patch of metadata fields.
package fakemeta

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
)

// Client is the fake. The zero value is not usable; call New.
type Client struct {
	mu sync.Mutex // guards all fields below
	// objects by resource, then "namespace/name".
	objects map[schema.GroupVersionResource]map[string]*metav1.PartialObjectMetadata
	rv      int
	actions []string
	// Errors injects failures: key "verb resource" (e.g. "list pods").
	Errors map[string]error
}

var _ metadata.Interface = (*Client)(nil)

// New returns a fake holding objs under their resources.
func New() *Client {
	return &Client{objects: map[schema.GroupVersionResource]map[string]*metav1.PartialObjectMetadata{}, Errors: map[string]error{}}
}

// Add stores a copy of obj as a gvr object, assigning a resourceVersion.
func (c *Client) Add(gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(gvr, obj.DeepCopy())
}

func (c *Client) putLocked(gvr schema.GroupVersionResource, obj *metav1.PartialObjectMetadata) {
	if c.objects[gvr] == nil {
		c.objects[gvr] = map[string]*metav1.PartialObjectMetadata{}
	}
	c.rv++
	obj.ResourceVersion = strconv.Itoa(c.rv)
	c.objects[gvr][obj.Namespace+"/"+obj.Name] = obj
}

// Object returns a copy of a stored object, or nil.
func (c *Client) Object(gvr schema.GroupVersionResource, ns, name string) *metav1.PartialObjectMetadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.objects[gvr][ns+"/"+name]; o != nil {
		return o.DeepCopy()
	}
	return nil
}

// Actions returns the writes recorded so far ("delete configmaps ns/name
// policy=Background", "patch ...", "deletecollection ..."), in order.
func (c *Client) Actions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.actions)
}

// Resource implements metadata.Interface.
func (c *Client) Resource(gvr schema.GroupVersionResource) metadata.Getter {
	return &resourceClient{c: c, gvr: gvr}
}

type resourceClient struct {
	c   *Client
	gvr schema.GroupVersionResource
	ns  string
}

func (r *resourceClient) Namespace(ns string) metadata.ResourceInterface {
	cp := *r
	cp.ns = ns
	return &cp
}

func (r *resourceClient) gr() schema.GroupResource { return r.gvr.GroupResource() }

func (r *resourceClient) injected(verb string) error {
	return r.c.Errors[verb+" "+r.gvr.Resource]
}

func (r *resourceClient) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*metav1.PartialObjectMetadata, error) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if err := r.injected("get"); err != nil {
		return nil, err
	}
	o := r.c.objects[r.gvr][r.ns+"/"+name]
	if o == nil {
		return nil, apierrors.NewNotFound(r.gr(), name)
	}
	return o.DeepCopy(), nil
}

func (r *resourceClient) List(_ context.Context, _ metav1.ListOptions) (*metav1.PartialObjectMetadataList, error) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if err := r.injected("list"); err != nil {
		return nil, err
	}
	out := &metav1.PartialObjectMetadataList{}
	out.ResourceVersion = strconv.Itoa(r.c.rv)
	var keys []string
	for k, o := range r.c.objects[r.gvr] {
		if r.ns == "" || o.Namespace == r.ns {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Items = append(out.Items, *r.c.objects[r.gvr][k].DeepCopy())
	}
	return out, nil
}

func (r *resourceClient) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, fmt.Errorf("fakemeta: watch not supported")
}

func (r *resourceClient) Delete(_ context.Context, name string, opts metav1.DeleteOptions, _ ...string) error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	policy := ""
	if opts.PropagationPolicy != nil {
		policy = string(*opts.PropagationPolicy)
	}
	r.c.actions = append(r.c.actions, fmt.Sprintf("delete %s %s/%s policy=%s", r.gvr.Resource, r.ns, name, policy))
	if err := r.injected("delete"); err != nil {
		return err
	}
	return r.deleteLocked(name, opts)
}

func (r *resourceClient) deleteLocked(name string, opts metav1.DeleteOptions) error {
	key := r.ns + "/" + name
	o := r.c.objects[r.gvr][key]
	if o == nil {
		return apierrors.NewNotFound(r.gr(), name)
	}
	if p := opts.Preconditions; p != nil {
		if (p.UID != nil && *p.UID != o.UID) || (p.ResourceVersion != nil && *p.ResourceVersion != o.ResourceVersion) {
			return apierrors.NewConflict(r.gr(), name, fmt.Errorf("precondition failed"))
		}
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationForeground:
			o.Finalizers = appendOnce(o.Finalizers, metav1.FinalizerDeleteDependents)
		case metav1.DeletePropagationOrphan:
			o.Finalizers = appendOnce(o.Finalizers, metav1.FinalizerOrphanDependents)
		}
	}
	if len(o.Finalizers) == 0 {
		delete(r.c.objects[r.gvr], key)
		return nil
	}
	if o.DeletionTimestamp == nil {
		now := metav1.NewTime(time.Unix(1700000000, 0))
		o.DeletionTimestamp = &now
	}
	r.c.putLocked(r.gvr, o)
	return nil
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func (r *resourceClient) DeleteCollection(_ context.Context, opts metav1.DeleteOptions, _ metav1.ListOptions) error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.c.actions = append(r.c.actions, fmt.Sprintf("deletecollection %s %s", r.gvr.Resource, r.ns))
	if err := r.injected("deletecollection"); err != nil {
		return err
	}
	for _, o := range r.c.objects[r.gvr] {
		if o.Namespace == r.ns {
			if err := r.deleteLocked(o.Name, opts); err != nil {
				return err
			}
		}
	}
	return nil
}

// Patch applies a JSON merge patch of metadata.ownerReferences and
// metadata.finalizers; metadata.resourceVersion, if present, must match.
func (r *resourceClient) Patch(_ context.Context, name string, pt types.PatchType, data []byte, _ metav1.PatchOptions, _ ...string) (*metav1.PartialObjectMetadata, error) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.c.actions = append(r.c.actions, fmt.Sprintf("patch %s %s/%s %s", r.gvr.Resource, r.ns, name, data))
	if err := r.injected("patch"); err != nil {
		return nil, err
	}
	if pt != types.MergePatchType {
		return nil, apierrors.NewBadRequest("fakemeta: only merge patches")
	}
	key := r.ns + "/" + name
	o := r.c.objects[r.gvr][key]
	if o == nil {
		return nil, apierrors.NewNotFound(r.gr(), name)
	}
	var p struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if raw, ok := p.Metadata["resourceVersion"]; ok {
		var rv string
		_ = json.Unmarshal(raw, &rv)
		if rv != o.ResourceVersion {
			return nil, apierrors.NewConflict(r.gr(), name, fmt.Errorf("the object has been modified"))
		}
	}
	if raw, ok := p.Metadata["ownerReferences"]; ok {
		o.OwnerReferences = nil
		if err := json.Unmarshal(raw, &o.OwnerReferences); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if raw, ok := p.Metadata["finalizers"]; ok {
		o.Finalizers = nil
		if err := json.Unmarshal(raw, &o.Finalizers); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if o.DeletionTimestamp != nil && len(o.Finalizers) == 0 {
		delete(r.c.objects[r.gvr], key)
		return o.DeepCopy(), nil
	}
	r.c.putLocked(r.gvr, o)
	return o.DeepCopy(), nil
}
