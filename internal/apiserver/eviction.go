package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

// Eviction texts and limits, as in Kubernetes.
const (
	evictionRefusedMessage = "Cannot evict pod as it would violate the pod's disruption budget."
	// maxDisruptedPods bounds a budget's disruptedPods map.
	maxDisruptedPods = 2000
)

var (
	pdbGVK      = policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget")
	evictionGVK = policyv1.SchemeGroupVersion.WithKind("Eviction")
)

// evict serves POST pods/NAME/eviction: it deletes the pod unless a
// PodDisruptionBudget covering it has no disruption left, in which case it
// answers 429 and the caller (kubectl drain) retries.
func (s *APIServer) evict(w http.ResponseWriter, r *http.Request, info requestInfo, res *resource) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wopts, err := parseWriteOptions(r, "create")
	if err != nil {
		writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ev := &policyv1.Eviction{}
	if _, _, err := codecs.UniversalDecoder(policyv1.SchemeGroupVersion).Decode(body, &evictionGVK, ev); err != nil {
		writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("Eviction in version \"v1\" cannot be handled as a Eviction: %v", err)))
		return
	}
	if ev.Name == "" {
		ev.Name = info.Name
	}
	if ev.Name != info.Name {
		writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	if ev.Namespace != "" && ev.Namespace != info.Namespace {
		writeError(w, r, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	delOpts := ev.DeleteOptions
	if delOpts == nil {
		delOpts = &metav1.DeleteOptions{}
	} else {
		delOpts = delOpts.DeepCopy()
	}
	if wopts.dryRun {
		delOpts.DryRun = []string{metav1.DryRunAll}
	}
	dryRun := len(delOpts.DryRun) > 0
	if err := s.checkEviction(r.Context(), res, info.Namespace, info.Name, dryRun); err != nil {
		writeError(w, r, err)
		return
	}
	if _, _, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, delOpts); err != nil {
		writeError(w, r, err)
		return
	}
	status := &metav1.Status{Status: metav1.StatusSuccess}
	status.Kind, status.APIVersion = "Status", "v1"
	writeObject(w, out, http.StatusCreated, status)
}

// checkEviction decides whether the pod may go, taking a disruption from
// its budget if one is needed. A nil error means delete it.
func (s *APIServer) checkEviction(ctx context.Context, res *resource, ns, name string, dryRun bool) error {
	obj, err := res.store.Get(ctx, ns, name, storage.GetOptions{})
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewInternalError(errors.New("stored pod has an unexpected type"))
	}
	// A pod that is finished, not yet running, or already going costs
	// no disruption.
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded ||
		pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodPending || pod.Status.Phase == "" {
		return nil
	}
	pdbs := s.resourceFor(pdbGVK)
	if pdbs == nil {
		return nil
	}
	list, err := pdbs.store.List(ctx, ns, storage.ListOptions{})
	if err != nil {
		return err
	}
	var matching []*policyv1.PodDisruptionBudget
	for _, o := range list.Items {
		pdb, ok := o.(*policyv1.PodDisruptionBudget)
		if !ok || pdb.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matching = append(matching, pdb)
	}
	switch len(matching) {
	case 0:
		return nil
	case 1:
	default:
		return apierrors.NewInternalError(errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	pdb := matching[0]
	if !podIsReady(pod) {
		policy := policyv1.IfHealthyBudget
		if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil {
			policy = *p
		}
		if policy == policyv1.AlwaysAllow {
			return nil
		}
		if pdb.Status.ObservedGeneration >= pdb.Generation && pdb.Status.DesiredHealthy > 0 && pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy {
			return nil
		}
	}
	_, err = pdbs.store.Update(ctx, ns, pdb.Name, func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(pdbs.gr(), pdb.Name)
		}
		b := cur.(*policyv1.PodDisruptionBudget)
		if b.Status.ObservedGeneration < b.Generation {
			return nil, tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", b.Name))
		}
		if b.Status.DisruptionsAllowed < 0 {
			return nil, apierrors.NewForbidden(pdbs.gr(), b.Name, errors.New("pdb disruptions allowed is negative"))
		}
		if len(b.Status.DisruptedPods) > maxDisruptedPods {
			return nil, apierrors.NewForbidden(pdbs.gr(), b.Name, errors.New("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
		}
		if b.Status.DisruptionsAllowed == 0 {
			return nil, tooManyRequests(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", b.Name, b.Status.DesiredHealthy, b.Status.CurrentHealthy))
		}
		b.Status.DisruptionsAllowed--
		if b.Status.DisruptionsAllowed == 0 {
			setPDBCondition(b, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
				Reason: policyv1.InsufficientPodsReason, ObservedGeneration: b.Status.ObservedGeneration,
				LastTransitionTime: metav1.NewTime(s.cfg.Clock.Now())})
		}
		if b.Status.DisruptedPods == nil {
			b.Status.DisruptedPods = map[string]metav1.Time{}
		}
		b.Status.DisruptedPods[pod.Name] = metav1.NewTime(s.cfg.Clock.Now())
		if dryRun {
			return nil, errDryRun
		}
		return b, nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	return nil
}

// tooManyRequests is the refusal kubectl drain retries on.
func tooManyRequests(cause string) error {
	err := apierrors.NewTooManyRequests(evictionRefusedMessage, 0)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: policyv1.DisruptionBudgetCause, Message: cause,
	})
	return err
}

func podIsReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setPDBCondition(b *policyv1.PodDisruptionBudget, c metav1.Condition) {
	for i := range b.Status.Conditions {
		if b.Status.Conditions[i].Type == c.Type {
			if b.Status.Conditions[i].Status == c.Status {
				c.LastTransitionTime = b.Status.Conditions[i].LastTransitionTime
			}
			b.Status.Conditions[i] = c
			return
		}
	}
	b.Status.Conditions = append(b.Status.Conditions, c)
}
