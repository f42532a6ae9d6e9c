package rbac

import (
	"fmt"
	"reflect"
	"slices"
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

// TestBuiltinRolesForManifests: bindings in manifests to the roles every
// cluster ships grant what those roles grant on a cluster, including
// rules other roles in the input aggregate into them.
func TestBuiltinRolesForManifests(t *testing.T) {
	crd := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widgets-edit", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"example.com"}, Resources: []string{"widgets"}, Verbs: []string{"create"}}}}
	bind := func(role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: "shop"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: role + "-user"}}}
	}
	r := workload.RBAC{ClusterRoles: []*rbacv1.ClusterRole{crd}, RoleBindings: []*rbacv1.RoleBinding{bind("admin"), bind("edit"), bind("view")}}
	m := NewModel(r, true)
	tests := []struct {
		user string
		req  Request
		want bool
	}{
		{"view-user", Request{Verb: "list", Resource: "pods"}, true},
		{"view-user", Request{Verb: "get", Resource: "secrets"}, false},
		{"edit-user", Request{Verb: "get", Resource: "secrets"}, true},
		{"edit-user", Request{Verb: "create", Resource: "pods", Subresource: "exec"}, true},
		{"edit-user", Request{Verb: "impersonate", Resource: "serviceaccounts"}, true},
		{"edit-user", Request{Verb: "create", Group: "example.com", Resource: "widgets"}, true},
		{"edit-user", Request{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}, false},
		{"admin-user", Request{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}, true},
		{"admin-user", Request{Verb: "create", Group: "example.com", Resource: "widgets"}, true}, // admin ⊇ edit ⊇ the CRD role
		{"admin-user", Request{Verb: "list", Resource: "nodes"}, false},
	}
	for _, tt := range tests {
		tt.req.Namespace = "shop"
		if ok, _ := m.Allowed(Subject{User: tt.user}, tt.req); ok != tt.want {
			t.Errorf("%s %+v: allowed %v, want %v", tt.user, tt.req, ok, tt.want)
		}
	}
	if ok, _ := NewModel(r, false).Allowed(Subject{User: "edit-user"}, Request{Verb: "get", Resource: "secrets", Namespace: "shop"}); ok {
		t.Error("a live cluster's model must not invent roles")
	}
	if rules, ok := BuiltinClusterRoleRules("edit"); !ok || len(rules) < 10 {
		t.Errorf("BuiltinClusterRoleRules(edit) = %d rules, %v", len(rules), ok)
	}
	if _, ok := BuiltinClusterRoleRules("system:aggregate-to-edit"); ok {
		t.Error("only the roles bindings name are built-in rules")
	}
}

// TestAggregationCycleBounded: roles that aggregate each other end with
// each distinct rule once.
func TestAggregationCycleBounded(t *testing.T) {
	var roles []*rbacv1.ClusterRole
	sel := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"ring": "x"}}}}
	for i := range 50 {
		roles = append(roles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r%d", i), Labels: map[string]string{"ring": "x"}}, AggregationRule: sel})
	}
	roles = append(roles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "leaf", Labels: map[string]string{"ring": "x"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}})
	m := NewModel(workload.RBAC{ClusterRoles: roles}, true)
	if rules, _ := m.RoleRules(rbacv1.RoleRef{Kind: "ClusterRole", Name: "r7"}, ""); len(rules) != 1 {
		t.Errorf("r7 has %d rules, want the leaf's one", len(rules))
	}
}

// The shipped roles are decoded once per process (every RBAC rule builds
// a Model); each call still returns objects of its own.
func TestBuiltinClusterRolesDecodedOnce(t *testing.T) {
	first := builtinClusterRoles()
	if len(first) == 0 {
		t.Fatal("no built-in roles")
	}
	i := slices.IndexFunc(first, func(cr *rbacv1.ClusterRole) bool { return len(cr.Rules) > 0 })
	if i < 0 {
		t.Fatal("no built-in role has rules")
	}
	first[i].Name = "changed"
	first[i].Rules[0].Verbs[0] = "changed"
	second := builtinClusterRoles()
	if second[i].Name == "changed" || second[i].Rules[0].Verbs[0] == "changed" {
		t.Fatal("a caller's change to a built-in role reached the next caller")
	}
	if !reflect.DeepEqual(second, builtinClusterRoles()) {
		t.Fatal("two calls returned different roles")
	}
	// Decoding the YAML costs thousands of allocations; copying the
	// decoded roles a few per rule.
	var rules int
	for _, cr := range second {
		rules += len(cr.Rules)
	}
	if allocs := testing.AllocsPerRun(5, func() { builtinClusterRoles() }); allocs > float64(10*rules+5*len(second)+10) {
		t.Errorf("builtinClusterRoles: %.0f allocations a call for %d roles and %d rules; decoded each time?", allocs, len(second), rules)
	}
}

// TestUnresolved: a binding whose role the model lacks is listed; one to
// a role of the input or (from manifests) a built-in role is not.
func TestUnresolved(t *testing.T) {
	crb := func(name, kind, role string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: rbacv1.RoleRef{Kind: kind, Name: role}}
	}
	rb := func(ns, name, kind, role string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, RoleRef: rbacv1.RoleRef{Kind: kind, Name: role}}
	}
	input := workload.RBAC{
		Roles:        []*rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "r"}}},
		ClusterRoles: []*rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}},
		ClusterRoleBindings: []*rbacv1.ClusterRoleBinding{
			crb("to-reader", "ClusterRole", "reader"), crb("to-view", "ClusterRole", "view"), crb("to-missing", "ClusterRole", "elsewhere")},
		RoleBindings: []*rbacv1.RoleBinding{
			rb("shop", "to-r", "Role", "r"), rb("other", "to-r", "Role", "r"), rb("shop", "to-reader", "ClusterRole", "reader")},
	}
	tests := []struct {
		manifests bool
		want      []string
	}{
		{true, []string{"ClusterRoleBinding to-missing → ClusterRole elsewhere", "RoleBinding other/to-r → Role other/r"}},
		{false, []string{"ClusterRoleBinding to-missing → ClusterRole elsewhere", "ClusterRoleBinding to-view → ClusterRole view", "RoleBinding other/to-r → Role other/r"}},
	}
	for _, tc := range tests {
		if got := NewModel(input, tc.manifests).Unresolved(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("manifests %v: Unresolved() = %q, want %q", tc.manifests, got, tc.want)
		}
	}
}

// TestUnresolvedAggregated: from manifests, a binding to an aggregated
// ClusterRole whose aggregationRule matches no ClusterRole of the input
// (or whose selector is not valid) is unresolved: the controller fills its
// rules from roles the input lacks, so "grants nothing" would be a false
// clean. One whose selector matches a role of the input is resolved.
func TestUnresolvedAggregated(t *testing.T) {
	agg := func(name string, sel metav1.LabelSelector) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{sel}}}
	}
	label := func(k string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{k: "true"}}
	}
	crb := func(role string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "to-" + role}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice"}}}
	}
	input := workload.RBAC{
		ClusterRoles: []*rbacv1.ClusterRole{
			agg("monitoring", label("example.com/aggregate-to-monitoring")),
			agg("filled", label("example.com/aggregate-to-filled")),
			agg("bad", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}}),
			{ObjectMeta: metav1.ObjectMeta{Name: "part", Labels: map[string]string{"example.com/aggregate-to-filled": "true"}},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}},
		},
		ClusterRoleBindings: []*rbacv1.ClusterRoleBinding{crb("monitoring"), crb("filled"), crb("bad"), crb("admin")},
	}
	got := NewModel(input, true).Unresolved()
	want := []string{
		`ClusterRoleBinding to-bad → ClusterRole bad (aggregated: aggregationRule.clusterRoleSelectors[0]: "Bogus" is not a valid label selector operator)`,
		"ClusterRoleBinding to-monitoring → ClusterRole monitoring (aggregated: no ClusterRole in the input matches its aggregationRule)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unresolved() = %q\nwant %q", got, want)
	}
	// On a live cluster the controller has already aggregated: an
	// aggregated role with no rules grants nothing, and says nothing here.
	if got := NewModel(input, false).Unresolved(); len(got) != 1 || got[0] != "ClusterRoleBinding to-admin → ClusterRole admin" {
		t.Errorf("live Unresolved() = %q, want only the missing admin", got)
	}
}
