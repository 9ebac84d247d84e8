package scheduler

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcelisters "k8s.io/client-go/listers/resource/v1"
	"k8s.io/client-go/tools/cache"
)

func TestDynamicResources(t *testing.T) {
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = classes.Add(&resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: "gpu"}})
	claim := func(name, class string, mut func(*resourcev1.ResourceClaim)) {
		c := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: resourcev1.ResourceClaimSpec{
			Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{Name: "r", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: class}}}}}}
		if mut != nil {
			mut(c)
		}
		_ = claims.Add(c)
	}
	claim("pending", "gpu", nil)
	claim("no-class", "fpga", nil)
	claim("deleting", "gpu", func(c *resourcev1.ResourceClaim) { c.DeletionTimestamp = &metav1.Time{} })
	claim("allocated", "gpu", func(c *resourcev1.ResourceClaim) {
		c.Status.Allocation = &resourcev1.AllocationResult{NodeSelector: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}}}}}}}
	})
	d := &dynamicResources{claims: resourcelisters.NewResourceClaimLister(claims), classes: resourcelisters.NewDeviceClassLister(classes)}

	byName := func(name string) corev1.PodResourceClaim {
		return corev1.PodResourceClaim{Name: "c", ResourceClaimName: &name}
	}
	node := &NodeInfo{Node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}}
	tests := []struct {
		name      string
		claims    []corev1.PodResourceClaim
		preFilter string // wanted PreFilter reason, "" for none
		filter    string // wanted Filter reason on n1, "" for fits
	}{
		{"no claims", nil, "", ""},
		{"missing claim", []corev1.PodResourceClaim{byName("nope")}, `resourceclaim.resource.k8s.io "nope" not found`, ""},
		{"template claim not created", []corev1.PodResourceClaim{{Name: "c", ResourceClaimTemplateName: ptrTo("t")}}, `pod "ns/p": ResourceClaim not created yet`, ""},
		{"deleting", []corev1.PodResourceClaim{byName("deleting")}, `resourceclaim "deleting" is being deleted`, ""},
		{"class missing", []corev1.PodResourceClaim{byName("no-class")}, "request r: device class fpga does not exist", ""},
		{"pending claim fits nowhere", []corev1.PodResourceClaim{byName("pending")}, "", reasonCannotAllocateClaims},
		{"allocated elsewhere", []corev1.PodResourceClaim{byName("allocated")}, "", reasonClaimNotOnNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{ResourceClaims: tt.claims}}
			state := newCycleState(newPodInfo(pod), nil)
			s := d.PreFilter(context.Background(), state, pod)
			if got := reasonOf(s); got != tt.preFilter {
				t.Fatalf("PreFilter = %q; want %q", got, tt.preFilter)
			}
			if s != nil {
				if s.Code != UnschedulableAndUnresolvable {
					t.Errorf("PreFilter code = %v; want UnschedulableAndUnresolvable", s.Code)
				}
				return
			}
			if got := reasonOf(d.Filter(context.Background(), state, pod, node)); got != tt.filter {
				t.Errorf("Filter = %q; want %q", got, tt.filter)
			}
		})
	}
}

func reasonOf(s *Status) string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, "; ")
}

func ptrTo[T any](v T) *T { return &v }
