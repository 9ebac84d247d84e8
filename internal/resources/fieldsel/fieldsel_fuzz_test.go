package fieldsel

import (
	"net/http"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var fuzzKinds = []schema.GroupKind{
	{Kind: "Pod"},
	{Kind: "Secret"},
	{Kind: "Event"},
	{Kind: "Node"},
	{Kind: "Namespace"},
	{Kind: "ConfigMap"},
	{Group: "apps", Kind: "ReplicaSet"},
	{Group: "batch", Kind: "Job"},
	{Group: "events.k8s.io", Kind: "Event"},
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"},
}

// FuzzConvertSelector parses a field selector as the API server does
// (fields.ParseSelector, then ConvertSelector for the listed kind). It must
// never panic; a conversion error is a 400 BadRequest; a converted
// selector only names canonical labels (the storage kind's: events.k8s.io
// labels become core Event ones) and survives a round trip through its
// string form.
func FuzzConvertSelector(f *testing.F) {
	seeds := []struct {
		sel  string
		kind uint8
	}{
		{"", 0},
		{"spec.nodeName=n1", 0},
		{"spec.nodeName==n1,status.phase!=Running", 0},
		{"metadata.name=a,metadata.namespace=b", 5},
		{"type=kubernetes.io/service-account-token", 1},
		{"involvedObject.kind=Pod,involvedObject.name=p,reason=Failed,source=kubelet", 2},
		{"regarding.kind=Pod,reportingController=x", 8},
		{"spec.unschedulable=true", 3},
		{"status.phase=Active", 4},
		{"status.replicas=3", 6},
		{"status.successful=1", 7},
		{"spec.signerName=kubernetes.io/kubelet-serving", 9},
		{"bogus=1", 0},
		{`a\=b=c`, 0},
		{`metadata.name=a\,b`, 5},
		{`metadata.name=\`, 5},
		{"=", 0},
		{"!=x", 0},
		{",,,", 1},
		{"metadata.name", 5},
	}
	for _, s := range seeds {
		f.Add(s.sel, s.kind)
	}
	f.Fuzz(func(t *testing.T, raw string, kind uint8) {
		gk := fuzzKinds[int(kind)%len(fuzzKinds)]
		sel, err := fields.ParseSelector(raw)
		if err != nil {
			return // listOptions turns this into a BadRequest itself
		}
		out, err := ConvertSelector(gk, sel)
		if err != nil {
			if !apierrors.IsBadRequest(err) {
				t.Fatalf("ConvertSelector(%v, %q): %T %v; want a BadRequest status", gk, raw, err, err)
			}
			if code := err.(apierrors.APIStatus).Status().Code; code != http.StatusBadRequest {
				t.Fatalf("ConvertSelector(%v, %q): code %d; want 400", gk, raw, code)
			}
			return
		}
		var canonical []string
		for _, l := range conversionFor(gk).labels {
			canonical = append(canonical, l)
		}
		for _, req := range out.Requirements() {
			if !slices.Contains(canonical, req.Field) {
				t.Errorf("ConvertSelector(%v, %q) gave label %q; canonical labels %v", gk, raw, req.Field, canonical)
			}
		}
		again, err := fields.ParseSelector(out.String())
		if err != nil {
			t.Fatalf("converted selector %q does not parse: %v", out.String(), err)
		}
		if again.String() != out.String() {
			t.Errorf("round trip %q -> %q", out.String(), again.String())
		}
	})
}
