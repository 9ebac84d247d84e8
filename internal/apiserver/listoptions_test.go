package apiserver

import (
	"net/http/httptest"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/resources"
)

func TestListOptionsResourceVersionMatch(t *testing.T) {
	var info resources.Info
	for _, i := range resources.All() {
		if i.Resource == "configmaps" && i.GVK.Group == "" {
			info = i
		}
	}
	res, err := newResource(info, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		wantInvalid bool
	}{
		{"match without rv", "resourceVersionMatch=NotOlderThan", true},
		{"match with rv", "resourceVersionMatch=NotOlderThan&resourceVersion=5", false},
		{"watch-list without rv", "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan", false},
		{"exact at 0", "resourceVersionMatch=Exact&resourceVersion=0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/configmaps?"+tt.query, nil)
			_, _, _, err := listOptions(r, res)
			if got := apierrors.IsInvalid(err); got != tt.wantInvalid {
				t.Errorf("listOptions(%s): err = %v; want invalid %v", tt.query, err, tt.wantInvalid)
			}
			if !tt.wantInvalid && err != nil {
				t.Errorf("listOptions(%s): unexpected err %v", tt.query, err)
			}
		})
	}
}
