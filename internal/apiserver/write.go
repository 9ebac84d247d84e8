package apiserver

import (
	"context"

	"errors"
	"fmt"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skiff-sh/skiff/internal/auth/admission"
	"github.com/skiff-sh/skiff/internal/resources/defaults"
	"github.com/skiff-sh/skiff/internal/resources/validation"
	"github.com/skiff-sh/skiff/internal/storage"
)

// writeOptions are the query parameters shared by create, update and patch.
type writeOptions struct {
	dryRun          bool
	fieldManager    string
	fieldValidation string
	force           bool
	// apply is set for server-side apply, whose field manager has already
	// recorded the write.
	apply bool
	// warnings collects admission warnings for the response; may be nil.
	warnings *[]string
}

func parseWriteOptions(r *http.Request, verb string) (writeOptions, error) {
	q := r.URL.Query()
	o := writeOptions{fieldManager: q.Get("fieldManager"), fieldValidation: q.Get("fieldValidation")}
	var errs field.ErrorList
	for _, d := range q["dryRun"] {
		if d != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun"), d, []string{metav1.DryRunAll}))
		}
		o.dryRun = true
	}
	switch o.fieldValidation {
	case "":
		o.fieldValidation = metav1.FieldValidationWarn
	case metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
	default:
		return o, apierrors.NewBadRequest(fmt.Sprintf("fieldValidation parameter unsupported: %s", o.fieldValidation))
	}
	if len(o.fieldManager) > 128 {
		errs = append(errs, field.TooLong(field.NewPath("fieldManager"), "", 128))
	}
	if f := q.Get("force"); f != "" {
		o.force = f == "true"
	}
	if o.fieldManager == "" {
		o.fieldManager = managerFromUserAgent(r.UserAgent())
	}
	if len(errs) > 0 {
		kind := map[string]string{"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}[verb]
		return o, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: kind}, "", errs)
	}
	return o, nil
}

// managerFromUserAgent names the field manager of a request that does not
// name one: the user agent up to its first slash, as upstream does.
func managerFromUserAgent(ua string) string {
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

// decodeObject decodes a body into an object of the resource's served kind,
// applying fieldValidation to unknown and duplicate fields.
func decodeObject(r *http.Request, body []byte, res *resource, fieldValidation string) (runtime.Object, []string, error) {
	info, err := requestSerializer(r)
	if err != nil {
		return nil, nil, err
	}
	return decodeWith(info, body, res, fieldValidation)
}

func decodeWith(info runtime.SerializerInfo, body []byte, res *resource, fieldValidation string) (runtime.Object, []string, error) {
	want := res.info.GVK
	dec := info.Serializer
	if fieldValidation != metav1.FieldValidationIgnore && info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, gvk, err := dec.Decode(body, &want, res.newObject())
	var warnings []string
	if err != nil {
		strict, ok := runtime.AsStrictDecodingError(err)
		if !ok || obj == nil {
			return nil, nil, cannotHandle(res, err)
		}
		if fieldValidation == metav1.FieldValidationStrict {
			return nil, nil, cannotHandle(res, err)
		}
		// codecs are strict even in their lenient serializer, so Ignore
		// must drop the strict errors itself: upstream is silent then.
		if fieldValidation == metav1.FieldValidationWarn {
			for _, e := range strict.Errors() {
				warnings = append(warnings, e.Error())
			}
		}
	}
	if gvk != nil && *gvk != want {
		if gvk.GroupVersion() != want.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gvk.GroupVersion(), want.GroupVersion()))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", gvk.Kind, want.Kind))
	}
	if _, ok := obj.(metav1.ObjectMetaAccessor); !ok {
		return nil, nil, cannotHandle(res, fmt.Errorf("unexpected object %T", obj))
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	return obj, warnings, nil
}

// readWrite negotiates the response format, parses the write options and
// reads the body of a write request. On failure it writes the error and
// returns ok=false.
func readWrite(w http.ResponseWriter, r *http.Request, verb string) (out output, opts writeOptions, body []byte, ok bool) {
	var err error
	if out, err = negotiate(r); err == nil {
		if opts, err = parseWriteOptions(r, verb); err == nil {
			body, err = readBody(r)
		}
	}
	if err != nil {
		writeError(w, r, err)
		return out, opts, nil, false
	}
	return out, opts, body, true
}

// decodeTyped decodes a body that is not the resource's own kind (a
// Binding, a TokenRequest, a Scale) into into, as kind.
func decodeTyped(r *http.Request, body []byte, gvk schema.GroupVersionKind, into runtime.Object) error {
	info, err := requestSerializer(r)
	if err != nil {
		return err
	}
	if _, _, err := info.Serializer.Decode(body, &gvk, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
	}
	return nil
}

func cannotHandle(res *resource, err error) error {
	k := res.info.GVK
	return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", k.Kind, k.Version, k.Kind, err))
}

func (s *APIServer) create(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, opts, body, ok := readWrite(w, r, "create")
	if !ok {
		return
	}
	obj, warnings, err := decodeObject(r, body, res, opts.fieldValidation)
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts.warnings = &warnings
	created, err := s.createObject(r.Context(), res, info.Namespace, obj, opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	writeObject(w, out, http.StatusCreated, created)
}

// createObject runs the create pipeline on a served-version object:
// namespace and name, system fields, defaulting, validation, allocation,
// managed fields, storage. obj is consumed.
func (s *APIServer) createObject(ctx context.Context, res *resource, namespace string, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	m := objectMeta(obj)
	if err := checkNamespace(res, m, namespace); err != nil {
		return nil, err
	}
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + rand.String(5)
	}
	s.prepareCreate(res, obj)
	setRequester(ctx, obj)
	defaults.Default(obj)
	req := admissionFor(ctx, res, "", namespace, m.Name, admission.Create, obj, nil, opts.dryRun)
	if err := s.mutate(ctx, req); err != nil {
		return nil, err
	}
	if errs := validation.ValidateCreate(obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(res.gk(), m.Name, errs)
	}
	if err := s.validateAdmission(ctx, req, opts); err != nil {
		return nil, err
	}
	alloc, err := s.allocate(ctx, obj, nil, opts.dryRun)
	if err != nil {
		return nil, err
	}
	if obj, err = s.manageFields(res, "", nil, obj, opts.fieldManager); err != nil {
		alloc.rollback(ctx)
		return nil, err
	}
	if opts.dryRun {
		return obj, nil
	}
	stored, err := res.stored(obj)
	if err != nil {
		alloc.rollback(ctx)
		return nil, err
	}
	created, err := res.store.Create(ctx, namespace, m.Name, stored)
	if apierrors.IsRequestEntityTooLargeError(err) && dropManagedFields(stored) {
		// As upstream: managedFields can be large and are safe to
		// drop when the object would not fit otherwise.
		created, err = res.store.Create(ctx, namespace, m.Name, stored)
	}
	if err != nil {
		alloc.rollback(ctx)
		if apierrors.IsAlreadyExists(err) && m.GenerateName != "" && objectMeta(obj).Name != "" {
			return nil, apierrors.NewGenerateNameConflict(res.gr(), m.Name, 1)
		}
		return nil, err
	}
	return res.served(created)
}

// checkNamespace reconciles the object's namespace with the request's.
func checkNamespace(res *resource, m *metav1.ObjectMeta, namespace string) error {
	if !res.info.Namespaced {
		m.Namespace = ""
		return nil
	}
	if m.Namespace == "" {
		m.Namespace = namespace
	}
	if m.Namespace != namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// prepareCreate sets the fields the server owns on a new object.
func (s *APIServer) prepareCreate(res *resource, obj runtime.Object) {
	m := objectMeta(obj)
	m.UID = types.UID(uuid.NewUUID())
	m.CreationTimestamp = metav1.NewTime(s.cfg.Clock.Now())
	m.ResourceVersion = ""
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	m.SelfLink = ""
	m.Generation = 0
	if res.hasSpec {
		m.Generation = 1
	}
	prepareKindCreate(res, obj)
}

func (s *APIServer) update(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, opts, body, ok := readWrite(w, r, "update")
	if !ok {
		return
	}
	if info.Subresource == "scale" {
		s.updateScale(w, r, info, res, out, opts, func(*autoscalingScale) (*autoscalingScale, error) {
			return decodeScale(r, body)
		})
		return
	}
	obj, warnings, err := decodeObject(r, body, res, opts.fieldValidation)
	if err != nil {
		writeError(w, r, err)
		return
	}
	m := objectMeta(obj)
	if m.Name != info.Name {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.Name, info.Name)))
		return
	}
	if err := checkNamespace(res, m, info.Namespace); err != nil {
		writeError(w, r, err)
		return
	}
	opts.warnings = &warnings
	updated, code, err := s.updateObject(r.Context(), res, info, opts, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), info.Name)
		}
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	addWarnings(w, warnings)
	writeObject(w, out, code, updated)
}

// errDryRun stops a storage update after the new object is computed.
var errDryRun = errors.New("dry run")

// updateObject runs the update pipeline. newObject computes the requested
// object from the current one (served version, nil when absent); a nil
// current object with a non-nil result creates the object (apply does).
// It returns the result and the HTTP status code (200, or 201 on create).
func (s *APIServer) updateObject(ctx context.Context, res *resource, info requestInfo, opts writeOptions, newObject func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, int, error) {
	var result runtime.Object
	created := false
	// withoutManagedFields is set for a second attempt when the object
	// did not fit in etcd with its managedFields (not for apply, whose
	// point they are), as upstream retries.
	withoutManagedFields := false
	fn := func(stored runtime.Object) (runtime.Object, error) {
		cur, err := res.served(stored)
		if err != nil {
			return nil, err
		}
		if cur != nil && cur == stored {
			// served returned the storage object itself; keep it pristine
			// for the no-op comparison in storage.
			cur = cur.DeepCopyObject()
		}
		obj, err := newObject(cur)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			created = true
			if err := checkNamespace(res, objectMeta(obj), info.Namespace); err != nil {
				return nil, err
			}
			s.prepareCreate(res, obj)
			defaults.Default(obj)
			req := admissionFor(ctx, res, info.Subresource, info.Namespace, info.Name, admission.Create, obj, nil, opts.dryRun)
			if err := s.mutate(ctx, req); err != nil {
				return nil, err
			}
			if errs := validation.ValidateCreate(obj); len(errs) > 0 {
				return nil, apierrors.NewInvalid(res.gk(), info.Name, errs)
			}
			if err := s.validateAdmission(ctx, req, opts); err != nil {
				return nil, err
			}
			if withoutManagedFields {
				dropManagedFields(obj)
			}
			result = obj
			return res.stored(obj)
		}
		if err := checkPrecondition(res, info.Name, obj, cur); err != nil {
			return nil, err
		}
		s.prepareUpdate(res, info.Subresource, obj, cur)
		defaults.Default(obj)
		req := admissionFor(ctx, res, info.Subresource, info.Namespace, info.Name, admission.Update, obj, cur, opts.dryRun)
		if err := s.mutate(ctx, req); err != nil {
			return nil, err
		}
		var errs field.ErrorList
		switch info.Subresource {
		case "status":
			errs = validation.ValidateStatusUpdate(obj, cur)
		case "approval":
			errs = validation.ValidateCSRApprovalUpdate(obj.(*certificatesv1.CertificateSigningRequest), cur.(*certificatesv1.CertificateSigningRequest))
		case "ephemeralcontainers", "resize":
			errs = validation.ValidatePodSubresourceUpdate(info.Subresource, obj.(*corev1.Pod), cur.(*corev1.Pod))
		default:
			errs = validation.ValidateUpdate(obj, cur)
		}
		if len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.gk(), info.Name, errs)
		}
		if err := s.validateAdmission(ctx, req, opts); err != nil {
			return nil, err
		}
		if !opts.apply {
			if obj, err = s.manageFields(res, info.Subresource, cur, obj, opts.fieldManager); err != nil {
				return nil, err
			}
		}
		if withoutManagedFields {
			dropManagedFields(obj)
		}
		result = obj
		if opts.dryRun {
			return nil, errDryRun
		}
		return res.stored(obj)
	}
	var alloc *allocation
	allocating := func(cur runtime.Object) (runtime.Object, error) {
		obj, err := fn(cur)
		if err != nil && !errors.Is(err, errDryRun) {
			return nil, err
		}
		// A retried update allocates afresh.
		alloc.rollback(ctx)
		alloc = nil
		if info.Subresource == "" {
			if alloc, err = s.allocate(ctx, result, cur, opts.dryRun); err != nil {
				return nil, err
			}
			if alloc != nil {
				// allocate filled in result; store that.
				if obj, err = res.stored(result); err != nil {
					return nil, err
				}
			}
		}
		if opts.dryRun {
			return nil, errDryRun
		}
		return obj, nil
	}
	var err error
	if opts.dryRun {
		var cur runtime.Object
		cur, err = res.store.Get(ctx, info.Namespace, info.Name, storage.GetOptions{})
		if apierrors.IsNotFound(err) {
			cur, err = nil, nil
		}
		if err == nil {
			if cur != nil {
				cur = cur.DeepCopyObject()
			}
			_, err = allocating(cur)
		}
	} else {
		var out runtime.Object
		out, err = res.store.Update(ctx, info.Namespace, info.Name, allocating)
		if apierrors.IsRequestEntityTooLargeError(err) && !opts.apply {
			withoutManagedFields = true
			out, err = res.store.Update(ctx, info.Namespace, info.Name, allocating)
		}
		if err == nil {
			result, err = res.served(out)
		}
	}
	if errors.Is(err, errDryRun) {
		err = nil
	}
	if err != nil {
		alloc.rollback(ctx)
		return nil, 0, err
	}
	alloc.commit(ctx)
	if finished, err := s.finishDeletion(ctx, res, result); err != nil {
		return nil, 0, err
	} else if finished {
		return result, http.StatusOK, nil
	}
	if created {
		return result, http.StatusCreated, nil
	}
	return result, http.StatusOK, nil
}

// checkPrecondition enforces optimistic concurrency: a resourceVersion in
// the new object must be the current one.
func checkPrecondition(res *resource, name string, obj, cur runtime.Object) error {
	rv := objectMeta(obj).ResourceVersion
	if rv == "" {
		return nil
	}
	if rv != objectMeta(cur).ResourceVersion {
		return apierrors.NewConflict(res.gr(), name, errors.New(modifiedMessage))
	}
	return nil
}

const modifiedMessage = "the object has been modified; please apply your changes to the latest version and try again"

// prepareUpdate carries over what a client may not change: system
// metadata, and status (main resource) or everything but status (status
// subresource).
func (s *APIServer) prepareUpdate(res *resource, sub string, obj, cur runtime.Object) {
	m, old := objectMeta(obj), objectMeta(cur)
	if sub == "finalize" {
		// Only the namespace's spec.finalizers change through finalize.
		keep := cur.DeepCopyObject().(*corev1.Namespace)
		keep.Spec.Finalizers = obj.(*corev1.Namespace).Spec.Finalizers
		keep.ManagedFields = m.ManagedFields
		keep.ResourceVersion = m.ResourceVersion
		reflectSet(obj, keep)
		return
	}
	if sub == "ephemeralcontainers" || sub == "resize" {
		// Only the pod's ephemeral containers, or its containers' cpu and
		// memory (validation refuses any other change), come from the
		// request; the generation counts the spec change as upstream.
		keep := cur.DeepCopyObject().(*corev1.Pod)
		pod := obj.(*corev1.Pod)
		if sub == "ephemeralcontainers" {
			keep.Spec.EphemeralContainers = pod.Spec.EphemeralContainers
		} else {
			keep.Spec.Containers, keep.Spec.InitContainers = pod.Spec.Containers, pod.Spec.InitContainers
		}
		keep.ManagedFields = m.ManagedFields
		keep.ResourceVersion = m.ResourceVersion
		if !fieldEqual(keep, cur, "Spec") {
			keep.Generation = old.Generation + 1
		}
		reflectSet(obj, keep)
		return
	}
	prepareCSRUpdate(sub, obj, cur, metav1.NewTime(s.cfg.Clock.Now()))
	if sub == "status" || sub == "approval" {
		keep := cur.DeepCopyObject()
		copyField(keep, obj, "Status")
		km := objectMeta(keep)
		if sub == "status" {
			statusMetadata(res, km, m)
		}
		km.ManagedFields = m.ManagedFields
		km.ResourceVersion = m.ResourceVersion
		reflectSet(obj, keep)
		return
	}
	if m.UID == "" {
		m.UID = old.UID
	}
	m.CreationTimestamp = old.CreationTimestamp
	m.DeletionTimestamp = old.DeletionTimestamp
	m.DeletionGracePeriodSeconds = old.DeletionGracePeriodSeconds
	m.Generation = old.Generation
	m.SelfLink = ""
	if res.info.Has("status") {
		copyField(obj, cur, "Status")
	}
	if res.hasSpec && !fieldEqual(obj, cur, "Spec") {
		m.Generation = old.Generation + 1
	}
	prepareKindUpdate(res, obj, cur)
}

// statusMetadata carries over the metadata a status write may change, as
// upstream's status strategies reset only the spec: labels, annotations,
// finalizers and owner references come from the request, except a
// Deployment's labels and a Pod's owner references, which upstream's
// Deployment and Pod status strategies also reset.
func statusMetadata(res *resource, keep, req *metav1.ObjectMeta) {
	kind := res.info.GVK
	if kind.Group != "apps" || kind.Kind != "Deployment" {
		keep.Labels = req.Labels
	}
	if kind.Group != "" || kind.Kind != "Pod" {
		keep.OwnerReferences = req.OwnerReferences
	}
	keep.Annotations = req.Annotations
	keep.Finalizers = req.Finalizers
}

// finishDeletion deletes an object whose deletion was only waiting for
// finalizers once the last one is gone. It reports whether it deleted.
func (s *APIServer) finishDeletion(ctx context.Context, res *resource, obj runtime.Object) (bool, error) {
	m := objectMeta(obj)
	if m.DeletionTimestamp == nil || len(m.Finalizers) > 0 || (m.DeletionGracePeriodSeconds != nil && *m.DeletionGracePeriodSeconds > 0) {
		return false, nil
	}
	if res.info.GVK.Kind == "Namespace" && res.info.GVK.Group == "" && namespaceHasFinalizers(obj) {
		return false, nil
	}
	_, err := res.store.Delete(ctx, m.Namespace, m.Name, func(cur runtime.Object) error {
		cm := objectMeta(cur)
		if cm.UID != m.UID || cm.ResourceVersion != m.ResourceVersion {
			return apierrors.NewConflict(res.gr(), m.Name, errors.New(modifiedMessage))
		}
		return nil
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Someone else finished (or changed) it first; the update stands.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.release(ctx, obj)
	return true, nil
}

// dropManagedFields clears obj's managedFields and reports whether there
// were any to clear.
func dropManagedFields(obj runtime.Object) bool {
	a, err := meta.Accessor(obj)
	if err != nil || len(a.GetManagedFields()) == 0 {
		return false
	}
	a.SetManagedFields(nil)
	return true
}

// manageFields records the write in metadata.managedFields.
func (s *APIServer) manageFields(res *resource, sub string, live, obj runtime.Object, manager string) (runtime.Object, error) {
	fm, err := res.fieldManager(sub)
	if err != nil {
		return nil, err
	}
	if live == nil {
		live = res.newObject()
	}
	return fm.Update(live, obj, manager)
}

func decodeParams(r *http.Request, into runtime.Object) error {
	if err := scheme.ParameterCodec.DecodeParameters(r.URL.Query(), optionsGV, into); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// EnsureObject creates obj (TypeMeta set) through the full create pipeline
// if it does not exist; with replace, an existing object gets obj's
// content. The server uses it for the objects every cluster starts with.
func (s *APIServer) EnsureObject(ctx context.Context, obj runtime.Object, replace bool) error {
	res := s.resourceFor(obj.GetObjectKind().GroupVersionKind())
	if res == nil {
		return fmt.Errorf("no resource serves %s", obj.GetObjectKind().GroupVersionKind())
	}
	opts := writeOptions{fieldManager: "skiff-apiserver", fieldValidation: metav1.FieldValidationStrict}
	m := objectMeta(obj)
	// Look before creating: the create pipeline allocates (a Service's
	// requested cluster IP) before storage could answer AlreadyExists, so
	// creating an existing Service fails with "already allocated".
	_, err := res.store.Get(ctx, m.Namespace, m.Name, storage.GetOptions{})
	switch {
	case err == nil:
		err = apierrors.NewAlreadyExists(res.gr(), m.Name)
	case apierrors.IsNotFound(err):
		_, err = s.createObject(ctx, res, m.Namespace, obj.DeepCopyObject(), opts)
	}
	if !apierrors.IsAlreadyExists(err) || !replace {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	info := requestInfo{Namespace: m.Namespace, Name: m.Name}
	_, _, err = s.updateObject(ctx, res, info, opts, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(res.gr(), m.Name)
		}
		next := obj.DeepCopyObject()
		nm := objectMeta(next)
		nm.ResourceVersion = ""
		nm.UID = objectMeta(cur).UID
		if fieldEqualExceptMeta(next, cur) {
			return cur, nil
		}
		return next, nil
	})
	return err
}
