package server

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWantedIPAddresses(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIPs: []string{"10.43.0.7", "fd00::7", "None"}}}
	got := wantedIPAddresses(svc)
	if len(got) != 2 {
		t.Fatalf("got %d IPAddresses; want 2", len(got))
	}
	for i, want := range []struct{ name, family string }{{"10.43.0.7", "IPv4"}, {"fd00::7", "IPv6"}} {
		ip := got[i]
		if ip.Name != want.name || ip.Labels["ipaddress.kubernetes.io/ip-family"] != want.family ||
			ip.Labels["ipaddress.kubernetes.io/managed-by"] != ipAllocatorName {
			t.Errorf("IPAddress %d = %s %v; want %s %s", i, ip.Name, ip.Labels, want.name, want.family)
		}
		if r := ip.Spec.ParentRef; r == nil || r.Group != "" || r.Resource != "services" || r.Namespace != "ns" || r.Name != "web" {
			t.Errorf("parentRef = %+v", r)
		}
	}
}

func TestDanglingCondition(t *testing.T) {
	fs := &flowcontrolv1.FlowSchema{}
	found := danglingCondition("exempt", true)
	if found.Status != flowcontrolv1.ConditionFalse || found.Reason != "Found" || !strings.Contains(found.Message, `"exempt" and it exists`) {
		t.Errorf("found = %+v", found)
	}
	setCondition(fs, found)
	if !hasCondition(fs, found) || hasCondition(fs, danglingCondition("exempt", false)) {
		t.Errorf("conditions after set = %+v", fs.Status.Conditions)
	}
	missing := danglingCondition("gone", false)
	setCondition(fs, missing)
	if len(fs.Status.Conditions) != 1 || fs.Status.Conditions[0].Reason != "NotFound" {
		t.Errorf("conditions after replace = %+v", fs.Status.Conditions)
	}
}

func TestComponentChecks(t *testing.T) {
	var c componentRunning
	if err := c.check("scheduler", true)(context.Background()); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled: err = %v", err)
	}
	if err := c.check("scheduler", false)(context.Background()); err == nil {
		t.Error("not running: err = nil")
	}
	c.set(true)
	if err := c.check("scheduler", false)(context.Background()); err != nil {
		t.Errorf("running: err = %v", err)
	}
}
