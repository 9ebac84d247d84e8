package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// wantEvent describes an event a controller records, as kubectl describe
// shows it.
type wantEvent struct {
	kind, name string // the object it is about
	controller string // the From column
	eventtype  string
	reason     string
	// messagePrefix: generated pod names end the message.
	messagePrefix string
}

func (w wantEvent) String() string {
	return fmt.Sprintf("%s %s from %s on %s %s: %q...", w.eventtype, w.reason, w.controller, w.kind, w.name, w.messagePrefix)
}

// waitEvent waits until the core Events of ns hold one matching w. The
// recorders write asynchronously, so they are polled.
func waitEvent(t *testing.T, c kubernetes.Interface, ns string, w wantEvent) {
	t.Helper()
	eventually(t, 20*time.Second, func() (bool, string) {
		list, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if matches(&e, w) {
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("%s %s from %s/%s on %s %s: %q", e.Type, e.Reason,
				e.ReportingController, e.Source.Component, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message))
		}
		return false, fmt.Sprintf("no event %v among\n\t%s", w, strings.Join(seen, "\n\t"))
	})
}

func matches(e *corev1.Event, w wantEvent) bool {
	// Written through events.k8s.io the reporter is reportingController;
	// through the core API it is source.component.
	from := e.ReportingController
	if from == "" {
		from = e.Source.Component
	}
	return e.InvolvedObject.Kind == w.kind && e.InvolvedObject.Name == w.name && from == w.controller &&
		e.Type == w.eventtype && e.Reason == w.reason && strings.HasPrefix(e.Message, w.messagePrefix)
}
