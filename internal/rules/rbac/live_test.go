package rbac

import (
	"context"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/testenv"
)

// TestLiveCluster: on a real kube-apiserver the roles and bindings it
// ships (bootstrap policy: system: roles, admin/edit/view, their bindings
// to system subjects and the discovery groups) raise nothing; a chart's
// ClusterRole and a binding of the shipped edit role are reported as they
// are in manifests.
func TestLiveCluster(t *testing.T) {
	testenv.Require(t)
	env := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	admin := env.AdminClient(t)
	evaluate := func() []string {
		t.Helper()
		snap, err := cluster.Read(ctx, admin, cluster.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Inventory.RBAC.ClusterRoles) < 50 {
			t.Fatalf("only %d ClusterRoles read from the API server", len(snap.Inventory.RBAC.ClusterRoles))
		}
		set, err := rule.NewSet(Rules()...)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := set.Evaluate(ctx, rule.NewContext(snap.Inventory, rule.Settings{}, set), nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.RuleID+" "+f.Object.Kind+"/"+f.Object.Name)
		}
		sort.Strings(got)
		return got
	}
	if got := evaluate(); len(got) > 0 {
		t.Errorf("a fresh cluster's own RBAC raised:\n%s", strings.Join(got, "\n"))
	}

	env.CreateNamespace(ctx, t, "shop", nil)
	g := rbacv1.GroupName
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ingress-controller"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets", "endpoints"}, Verbs: []string{"list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: g, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: g, Name: "devs"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rbac/create-workloads RoleBinding/devs-edit", "rbac/delete-logs-or-events RoleBinding/devs-edit",
		"rbac/escalation RoleBinding/devs-edit", "rbac/exec RoleBinding/devs-edit", "rbac/networking-write RoleBinding/devs-edit",
		"rbac/secrets-read ClusterRole/ingress-controller", "rbac/secrets-read RoleBinding/devs-edit",
		"rbac/secrets-write RoleBinding/devs-edit", "rbac/serviceaccount-token RoleBinding/devs-edit",
	}
	if got := evaluate(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
