package cluster

import (
	"context"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/workload"
)

func evalDangling(t *testing.T, inv *workload.Inventory) []string {
	t.Helper()
	set, err := rule.NewSet(danglingBinding())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := set.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, set), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Object.Kind+"/"+f.Object.Name)
	}
	sort.Strings(got)
	return got
}

// TestDanglingBindingUnlistedKinds: when the read could not list a kind,
// no binding to that kind is called dangling (the report is partial and
// says so instead); the other kind is still judged.
func TestDanglingBindingUnlistedKinds(t *testing.T) {
	tests := []struct {
		name     string
		unlisted map[string]bool
		want     string
	}{
		{"everything listed", nil, "ClusterRoleBinding/case-matters ClusterRoleBinding/old-operator RoleBinding/debuggers RoleBinding/exec-anywhere RoleBinding/log-readers"},
		{"Roles unlisted", map[string]bool{"Role": true}, "ClusterRoleBinding/case-matters ClusterRoleBinding/old-operator RoleBinding/exec-anywhere"},
		{"ClusterRoles unlisted", map[string]bool{"ClusterRole": true}, "RoleBinding/debuggers RoleBinding/log-readers"},
		{"both unlisted", map[string]bool{"Role": true, "ClusterRole": true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// FromManifests takes the set's objects: one load per case.
			set, err := manifest.Load(context.Background(), []string{"testdata/dangling-role-binding.fail.yaml"}, manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv, probs := workload.FromManifests(set, "default")
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			inv.Unlisted = tt.unlisted
			if got := strings.Join(evalDangling(t, inv), " "); got != tt.want {
				t.Errorf("dangling = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDanglingBindingLive: on a real kube-apiserver the bootstrap policy's
// bindings all resolve; bindings the API server accepted to roles that do
// not exist are reported; and a scanner that may not list Roles reports
// no RoleBinding to a Role as dangling, only marks its read partial.
func TestDanglingBindingLive(t *testing.T) {
	testenv.Require(t)
	env := testenv.Start(t, testenv.Options{})
	ctx := context.Background()
	admin := env.AdminClient(t)
	read := func(c *cluster.Snapshot, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return evalDangling(t, c.Inventory)
	}
	if got := read(cluster.Read(ctx, admin, cluster.ReadOptions{})); len(got) > 0 {
		t.Errorf("a fresh cluster's own bindings reported dangling: %v", got)
	}

	env.CreateNamespace(ctx, t, "shop", nil)
	g := rbacv1.GroupName
	subjects := []rbacv1.Subject{{Kind: "Group", APIGroup: g, Name: "devs"}}
	if _, err := admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gone-role"},
		RoleRef: rbacv1.RoleRef{APIGroup: g, Kind: "Role", Name: "uninstalled"}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "gone-clusterrole"},
		RoleRef: rbacv1.RoleRef{APIGroup: g, Kind: "ClusterRole", Name: "uninstalled-operator"}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "ClusterRoleBinding/gone-clusterrole RoleBinding/gone-role"
	if got := strings.Join(read(cluster.Read(ctx, admin, cluster.ReadOptions{})), " "); got != want {
		t.Errorf("dangling = %q, want %q", got, want)
	}

	// A scanner that may list everything but Roles.
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "scan-no-roles"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io"}, Resources: []string{"*"}, Verbs: []string{"list"}},
		{APIGroups: []string{g}, Resources: []string{"clusterroles", "clusterrolebindings", "rolebindings"}, Verbs: []string{"list"}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scan-no-roles"},
		RoleRef:  rbacv1.RoleRef{APIGroup: g, Kind: "ClusterRole", Name: "scan-no-roles"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: g, Name: "no-roles"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := testenv.NewClient(t, env.UserConfig(t, "no-roles"))
	var snap *cluster.Snapshot
	err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		var err error
		snap, err = cluster.Read(ctx, c, cluster.ReadOptions{})
		return err == nil && len(snap.Problems) == 1, err
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !snap.Partial || !snap.Inventory.Unlisted["Role"] || snap.Inventory.Unlisted["ClusterRole"] {
		t.Errorf("partial=%v unlisted=%v problems=%v", snap.Partial, snap.Inventory.Unlisted, snap.Problems)
	}
	if got := strings.Join(read(snap, nil), " "); got != "ClusterRoleBinding/gone-clusterrole" {
		t.Errorf("without Roles listed, dangling = %q, want only the ClusterRoleBinding", got)
	}
}
