package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/workload"
)

func TestRuleAllows(t *testing.T) {
	tests := []struct {
		rule rbacv1.PolicyRule
		req  Request
		want bool
	}{
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}, Request{Verb: "get", Resource: "pods"}, true},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}, Request{Verb: "get", Resource: "pods", Subresource: "exec"}, false},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}}, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"*/exec"}, Verbs: []string{"create"}}, Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}, Request{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles"}, true},
		{rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"*"}, Verbs: []string{"get"}}, Request{Verb: "get", Resource: "pods"}, false},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"tls"}, Verbs: []string{"get"}}, Request{Verb: "get", Resource: "secrets", Name: "tls"}, true},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"tls"}, Verbs: []string{"get"}}, Request{Verb: "get", Resource: "secrets"}, false},
		{rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"tls"}, Verbs: []string{"list"}}, Request{Verb: "list", Resource: "secrets", Name: "db"}, false},
	}
	for i, tt := range tests {
		if got := RuleAllows(tt.rule, tt.req); got != tt.want {
			t.Errorf("case %d: RuleAllows(%+v, %+v) = %v", i, tt.rule, tt.req, got)
		}
	}
}

func TestAggregationForManifests(t *testing.T) {
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"aggregate-to-monitoring": "true"}}}}}
	part := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "monitoring-pods", Labels: map[string]string{"aggregate-to-monitoring": "true"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}}}
	bind := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "monitoring"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "prom"}}}
	r := workload.RBAC{ClusterRoles: []*rbacv1.ClusterRole{agg, part}, ClusterRoleBindings: []*rbacv1.ClusterRoleBinding{bind}}
	req := Request{Verb: "list", Resource: "pods", Namespace: "x"}
	if ok, _ := NewModel(r, true).Allowed(Subject{User: "prom"}, req); !ok {
		t.Error("aggregated rules not applied")
	}
	if ok, _ := NewModel(r, false).Allowed(Subject{User: "prom"}, req); ok {
		t.Error("stored (empty) rules should grant nothing when not aggregating")
	}
	if agg.Rules != nil {
		t.Error("aggregation modified the input role")
	}
}

func TestParseResource(t *testing.T) {
	for in, want := range map[string][3]string{
		"pods": {"", "pods", ""}, "pods/exec": {"", "pods", "exec"}, "deployments.apps/scale": {"apps", "deployments", "scale"},
		"roles.rbac.authorization.k8s.io": {"rbac.authorization.k8s.io", "roles", ""},
	} {
		g, r, s := ParseResource(in)
		if [3]string{g, r, s} != want {
			t.Errorf("ParseResource(%q) = %q %q %q", in, g, r, s)
		}
	}
}
