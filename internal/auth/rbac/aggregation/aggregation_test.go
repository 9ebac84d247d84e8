package aggregation

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestSync(t *testing.T) {
	sel := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"agg": "true"}}}}
	part := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "part", Labels: map[string]string{"agg": "true"}},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	tests := []struct {
		name      string
		role      *rbacv1.ClusterRole
		wantWrite bool
	}{
		{"stale rules written", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, AggregationRule: sel}, true},
		{"current rules left alone", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, AggregationRule: sel, Rules: part.Rules}, false},
		{"plain role ignored", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(part, tt.role)
			f := informers.NewSharedInformerFactory(client, 0)
			inf := f.Rbac().V1().ClusterRoles()
			for _, r := range []*rbacv1.ClusterRole{part, tt.role} {
				if err := inf.Informer().GetStore().Add(r); err != nil {
					t.Fatal(err)
				}
			}
			c := New(client, inf, nil)
			client.ClearActions()
			if err := c.Sync(context.Background(), "agg"); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			wrote := len(client.Actions()) > 0
			if wrote != tt.wantWrite {
				t.Fatalf("wrote = %v (%v); want %v", wrote, client.Actions(), tt.wantWrite)
			}
			if wrote {
				got, _ := client.RbacV1().ClusterRoles().Get(context.Background(), "agg", metav1.GetOptions{})
				if len(got.Rules) != 1 || got.Rules[0].Resources[0] != "pods" {
					t.Errorf("rules = %v; want the part's", got.Rules)
				}
			}
		})
	}
}
