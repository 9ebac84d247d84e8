package auth

import (
	"context"
	"testing"
)

type fixed struct {
	d      Decision
	reason string
}

func (f fixed) Authorize(context.Context, Attributes) (Decision, string, error) {
	return f.d, f.reason, nil
}

func TestUnion(t *testing.T) {
	admin := &User{Name: "root", Groups: []string{SystemPrivileged}}
	bob := &User{Name: "bob"}
	tests := []struct {
		name       string
		union      Union
		user       *User
		want       Decision
		wantReason string
	}{
		{"masters allowed first", Union{Privileged{}, fixed{Deny, "no"}}, admin, Allow, ""},
		{"first opinion wins", Union{Privileged{}, fixed{NoOpinion, "node: not a node"}, fixed{Allow, "rbac"}}, bob, Allow, "rbac"},
		{"deny stops", Union{fixed{Deny, "denied"}, fixed{Allow, "rbac"}}, bob, Deny, "denied"},
		{"no opinion collects reasons", Union{Privileged{}, fixed{NoOpinion, "a"}, fixed{NoOpinion, "b"}}, bob, NoOpinion, "a, b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, _ := tt.union.Authorize(context.Background(), Attributes{User: tt.user})
			if d != tt.want || reason != tt.wantReason {
				t.Errorf("got %v %q; want %v %q", d, reason, tt.want, tt.wantReason)
			}
		})
	}
}
