package endpointslice

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func testPod(name, ip string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.PodSpec{NodeName: "n1", Hostname: name, Subdomain: "svc",
			Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func testService() *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"a": "b"},
			Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}}}
}

func TestBuildSubsets(t *testing.T) {
	svc := testService()
	subsets, truncated := BuildSubsets(svc, []*corev1.Pod{testPod("b", "10.0.0.2", false), testPod("a", "10.0.0.1", true), testPod("c", "", true)})
	if truncated || len(subsets) != 1 {
		t.Fatalf("got %d subsets (truncated %v); want 1", len(subsets), truncated)
	}
	s := subsets[0]
	if len(s.Addresses) != 1 || s.Addresses[0].IP != "10.0.0.1" || s.Addresses[0].Hostname != "a" || *s.Addresses[0].NodeName != "n1" {
		t.Errorf("addresses = %+v", s.Addresses)
	}
	if len(s.NotReadyAddresses) != 1 || s.NotReadyAddresses[0].IP != "10.0.0.2" {
		t.Errorf("notReadyAddresses = %+v", s.NotReadyAddresses)
	}
	if len(s.Ports) != 1 || s.Ports[0].Port != 8080 || s.Ports[0].Name != "web" {
		t.Errorf("ports = %+v", s.Ports)
	}
	svc.Spec.PublishNotReadyAddresses = true
	subsets, _ = BuildSubsets(svc, []*corev1.Pod{testPod("b", "10.0.0.2", false)})
	if len(subsets) != 1 || len(subsets[0].Addresses) != 1 {
		t.Errorf("publishNotReadyAddresses: subsets = %+v", subsets)
	}
}

func TestBuildSubsetsOverCapacity(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 1005 {
		pods = append(pods, testPod(fmt.Sprint(i), fmt.Sprintf("10.1.%d.%d", i/250, i%250), true))
	}
	subsets, truncated := BuildSubsets(testService(), pods)
	if !truncated || len(subsets[0].Addresses) != MaxEndpointsAddrs {
		t.Fatalf("truncated %v, %d addresses; want true, %d", truncated, len(subsets[0].Addresses), MaxEndpointsAddrs)
	}
}

func TestBuildSlices(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 150 {
		pods = append(pods, testPod(fmt.Sprint(i), fmt.Sprintf("10.2.0.%d", i), i%2 == 0))
	}
	term := testPod("t", "10.3.0.1", true)
	term.DeletionTimestamp = &metav1.Time{}
	pods = append(pods, term)
	slices := BuildSlices(testService(), pods, func(string) string { return "z1" })
	if len(slices) != 2 || len(slices[0].Endpoints) != 100 || len(slices[1].Endpoints) != 51 {
		t.Fatalf("got %d slices; want 100+51 endpoints", len(slices))
	}
	var found bool
	for _, s := range slices {
		for _, e := range s.Endpoints {
			if *e.Zone != "z1" {
				t.Fatalf("zone = %v", *e.Zone)
			}
			if e.Addresses[0] == "10.3.0.1" {
				found = true
				if *e.Conditions.Ready || !*e.Conditions.Serving || !*e.Conditions.Terminating {
					t.Errorf("terminating conditions = %+v", e.Conditions)
				}
			}
		}
	}
	if !found {
		t.Error("terminating pod missing from slices")
	}
	if empty := BuildSlices(testService(), nil, nil); len(empty) != 1 || len(empty[0].Endpoints) != 0 {
		t.Errorf("no pods: %+v; want one placeholder", empty)
	}
}

func TestMirrorSlices(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.1"}, {IP: "fd00::1"}},
		NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.2"}},
		Ports:             []corev1.EndpointPort{{Port: 80}},
	}}}
	got := MirrorSlices(ep)
	if len(got) != 2 || len(got[0].Endpoints) != 2 || len(got[1].Endpoints) != 1 {
		t.Fatalf("got %+v; want an IPv4 slice of 2 and an IPv6 slice of 1", got)
	}
}

func TestBuildSlicesTrafficDistributionHints(t *testing.T) {
	zones := map[string]string{"n1": "z1"}
	zoneOf := func(n string) string { return zones[n] }
	noZone := testPod("nozone", "10.0.0.9", true)
	noZone.Spec.NodeName = "n2"
	for _, tc := range []struct {
		name      string
		dist      *string
		wantZones []string
		wantNodes []string
	}{
		{name: "unset", dist: nil},
		{name: "PreferClose", dist: ptr.To(corev1.ServiceTrafficDistributionPreferClose), wantZones: []string{"z1"}},
		{name: "PreferSameZone", dist: ptr.To(corev1.ServiceTrafficDistributionPreferSameZone), wantZones: []string{"z1"}},
		{name: "PreferSameNode", dist: ptr.To(corev1.ServiceTrafficDistributionPreferSameNode), wantZones: []string{"z1"}, wantNodes: []string{"n1"}},
		{name: "unknown value", dist: ptr.To("Elsewhere")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := testService()
			svc.Spec.TrafficDistribution = tc.dist
			slices := BuildSlices(svc, []*corev1.Pod{testPod("a", "10.0.0.1", true), noZone}, zoneOf)
			for _, e := range slices[0].Endpoints {
				if e.Addresses[0] == "10.0.0.9" {
					if e.Hints != nil {
						t.Errorf("endpoint without a zone: hints = %+v; want none", e.Hints)
					}
					continue
				}
				var gotZones, gotNodes []string
				if e.Hints != nil {
					for _, z := range e.Hints.ForZones {
						gotZones = append(gotZones, z.Name)
					}
					for _, n := range e.Hints.ForNodes {
						gotNodes = append(gotNodes, n.Name)
					}
				}
				if fmt.Sprint(gotZones) != fmt.Sprint(tc.wantZones) || fmt.Sprint(gotNodes) != fmt.Sprint(tc.wantNodes) {
					t.Errorf("hints zones %v nodes %v; want zones %v nodes %v", gotZones, gotNodes, tc.wantZones, tc.wantNodes)
				}
			}
		})
	}
}
