package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClusterRoleAggregation checks that the manager runs the
// clusterrole-aggregation controller: an aggregating ClusterRole picks up
// the rules of the roles its selector matches.
func TestClusterRoleAggregation(t *testing.T) {
	s := startWithManager(t)
	c := s.Client
	ctx := context.Background()
	sel := map[string]string{"example.com/aggregate-to-monitor": "true"}
	_, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta:      metav1.ObjectMeta{Name: "monitor"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: sel}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "monitor-pods", Labels: sel},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		r, err := c.RbacV1().ClusterRoles().Get(ctx, "monitor", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(r.Rules) != 1 || len(r.Rules[0].Resources) != 1 || r.Rules[0].Resources[0] != "pods" {
			return false, fmt.Sprintf("rules = %+v; want the pods rule", r.Rules)
		}
		return true, ""
	})
}
