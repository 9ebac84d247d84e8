package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/storage"
)

// flowSchemaStatus keeps each FlowSchema's Dangling condition, as
// upstream's APF configuration controller does: False ("Found") when the
// PriorityLevelConfiguration it names exists, True ("NotFound")
// otherwise. Request fairness itself is not enforced.
type flowSchemaStatus struct {
	api     *apiserver.APIServer
	schemas storage.Resource
	levels  storage.Resource
	clock   clock.PassiveClock
}

// newFlowSchemaStatus returns the loops that keep the condition: one on
// FlowSchema changes, one on PriorityLevelConfiguration changes.
func newFlowSchemaStatus(api *apiserver.APIServer, stores map[schema.GroupVersionKind]storage.Resource, log *slog.Logger) []*resyncLoop {
	f := &flowSchemaStatus{
		api:     api,
		schemas: stores[flowcontrolv1.SchemeGroupVersion.WithKind("FlowSchema")],
		levels:  stores[flowcontrolv1.SchemeGroupVersion.WithKind("PriorityLevelConfiguration")],
		clock:   clock.RealClock{},
	}
	return []*resyncLoop{
		{name: "flowschema-status", watched: f.schemas, sync: f.sync, clock: clock.RealClock{}, log: log},
		{name: "flowschema-status-levels", watched: f.levels, sync: f.sync, clock: clock.RealClock{}, log: log},
	}
}

// danglingCondition is the condition a schema naming level should have.
func danglingCondition(level string, found bool) flowcontrolv1.FlowSchemaCondition {
	if found {
		return flowcontrolv1.FlowSchemaCondition{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: flowcontrolv1.ConditionFalse, Reason: "Found",
			Message: fmt.Sprintf("This FlowSchema references the PriorityLevelConfiguration object named %q and it exists", level)}
	}
	return flowcontrolv1.FlowSchemaCondition{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: flowcontrolv1.ConditionTrue, Reason: "NotFound",
		Message: fmt.Sprintf("This FlowSchema references the PriorityLevelConfiguration object named %q but there is no such object", level)}
}

func (f *flowSchemaStatus) sync(ctx context.Context) error {
	levels, err := f.levels.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, obj := range levels.Items {
		exists[obj.(*flowcontrolv1.PriorityLevelConfiguration).Name] = true
	}
	schemas, err := f.schemas.List(ctx, "", storage.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range schemas.Items {
		fs := obj.(*flowcontrolv1.FlowSchema)
		want := danglingCondition(fs.Spec.PriorityLevelConfiguration.Name, exists[fs.Spec.PriorityLevelConfiguration.Name])
		if hasCondition(fs, want) {
			continue
		}
		next := fs.DeepCopy()
		next.APIVersion, next.Kind = flowcontrolv1.SchemeGroupVersion.String(), "FlowSchema"
		want.LastTransitionTime = metav1.NewTime(f.clock.Now())
		setCondition(next, want)
		err := f.api.EnsureStatus(ctx, next, func(cur runtime.Object) bool { return !hasCondition(cur.(*flowcontrolv1.FlowSchema), want) })
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func hasCondition(fs *flowcontrolv1.FlowSchema, want flowcontrolv1.FlowSchemaCondition) bool {
	for _, c := range fs.Status.Conditions {
		if c.Type == want.Type {
			return c.Status == want.Status && c.Reason == want.Reason && c.Message == want.Message
		}
	}
	return false
}

// setCondition replaces the condition of want's type, keeping its
// transition time when the status does not change.
func setCondition(fs *flowcontrolv1.FlowSchema, want flowcontrolv1.FlowSchemaCondition) {
	for i, c := range fs.Status.Conditions {
		if c.Type == want.Type {
			if c.Status == want.Status {
				want.LastTransitionTime = c.LastTransitionTime
			}
			fs.Status.Conditions[i] = want
			return
		}
	}
	fs.Status.Conditions = append(fs.Status.Conditions, want)
}
