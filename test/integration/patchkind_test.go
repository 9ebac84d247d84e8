package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestMergePatchChangingKind: a merge patch whose result is no longer the
// resource is rejected as upstream rejects it — 422 Invalid on the field
// "patch", quoting the patched document and the decoding error — instead
// of a 400 that the object "cannot be handled".
func TestMergePatchChangingKind(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	ctx := context.Background()
	createNamespace(t, c, "patchkind")
	cms := c.CoreV1().ConfigMaps("patchkind")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"key": "value"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		patch, detail string
	}{
		// A Secret's data is base64: upstream's decoder fails there too.
		{`{"kind":"Secret"}`, "illegal base64 data at input byte"},
		{`{"kind":"Endpoints"}`, "converting (v1.Endpoints) to (v1.ConfigMap)"},
		{`{"kind":"Nope"}`, `no kind "Nope" is registered for version "v1"`},
		{`{"data":{"key":1}}`, "cannot unmarshal number"},
	}
	for _, tc := range cases {
		_, err := cms.Patch(ctx, "cm", types.MergePatchType, []byte(tc.patch), metav1.PatchOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("patch %s: %v; want 422 Invalid", tc.patch, err)
			continue
		}
		st := err.(apierrors.APIStatus).Status()
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "patch" {
			t.Errorf("patch %s: details %+v; want one cause on field patch", tc.patch, st.Details)
			continue
		}
		if msg := st.Details.Causes[0].Message; !strings.Contains(msg, tc.detail) || !strings.Contains(msg, `\"key\"`) {
			t.Errorf("patch %s: cause %q; want the patched document and %q", tc.patch, msg, tc.detail)
		}
	}
	if cm, err := cms.Get(ctx, "cm", metav1.GetOptions{}); err != nil || cm.Data["key"] != "value" {
		t.Fatalf("after the patches: %v %v; want the ConfigMap unchanged", cm, err)
	}
}
