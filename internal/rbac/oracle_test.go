package rbac_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/rbac"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// rbacSet is a realistic RBAC layout: team roles in two namespaces,
// cluster-wide readers, a CI service account, a named-Secret grant,
// wildcards, subresources and group bindings.
func rbacSet(a, b string) ([]*rbacv1.ClusterRole, []*rbacv1.ClusterRoleBinding, []*rbacv1.Role, []*rbacv1.RoleBinding) {
	rg := "rbac.authorization.k8s.io"
	ref := func(kind, name string) rbacv1.RoleRef { return rbacv1.RoleRef{APIGroup: rg, Kind: kind, Name: name} }
	user := func(n string) rbacv1.Subject { return rbacv1.Subject{Kind: "User", APIGroup: rg, Name: n} }
	group := func(n string) rbacv1.Subject { return rbacv1.Subject{Kind: "Group", APIGroup: rg, Name: n} }
	sa := func(ns, n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
	}
	crs := []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-pod-reader"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}, Verbs: []string{"get", "list", "watch"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-deployer"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"*"}, Verbs: []string{"create", "update", "patch", "delete", "get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps", "services"}, Verbs: []string{"*"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-node-proxy"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes/proxy", "nodes"}, Verbs: []string{"get"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-escalator"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{rg}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"escalate", "bind", "create"}},
			{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-exec-any"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"*/exec", "serviceaccounts/token"}, Verbs: []string{"create"}}}},
	}
	crbs := []*rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-ops-read"}, RoleRef: ref("ClusterRole", "oracle-pod-reader"), Subjects: []rbacv1.Subject{group("oracle-ops"), user("oracle-carol")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-ci-deploy"}, RoleRef: ref("ClusterRole", "oracle-deployer"), Subjects: []rbacv1.Subject{sa(a, "ci")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-monitoring"}, RoleRef: ref("ClusterRole", "oracle-node-proxy"), Subjects: []rbacv1.Subject{sa(b, "monitor")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "oracle-dangling"}, RoleRef: ref("ClusterRole", "oracle-does-not-exist"), Subjects: []rbacv1.Subject{user("oracle-bob")}},
	}
	roles := []*rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Name: "secrets-named", Namespace: a}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"tls"}, Verbs: []string{"get"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: b}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "debug", Namespace: a}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/exec", "pods/portforward"}, Verbs: []string{"create"}}}},
	}
	rbs := []*rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "alice-tls", Namespace: a}, RoleRef: ref("Role", "secrets-named"), Subjects: []rbacv1.Subject{user("oracle-alice")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b-admins", Namespace: b}, RoleRef: ref("Role", "everything"), Subjects: []rbacv1.Subject{group("oracle-devs"), {Kind: "ServiceAccount", Name: "default"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-debug", Namespace: a}, RoleRef: ref("Role", "debug"), Subjects: []rbacv1.Subject{group("oracle-devs")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-escalate", Namespace: a}, RoleRef: ref("ClusterRole", "oracle-escalator"), Subjects: []rbacv1.Subject{user("oracle-bob")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b-exec", Namespace: b}, RoleRef: ref("ClusterRole", "oracle-exec-any"), Subjects: []rbacv1.Subject{sa(a, "ci")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a-sa-reads", Namespace: a}, RoleRef: ref("ClusterRole", "oracle-pod-reader"), Subjects: []rbacv1.Subject{group("system:serviceaccounts:" + b)}},
	}
	return crs, crbs, roles, rbs
}

// TestAgreesWithSubjectAccessReview is the oracle: for a few hundred
// (subject, verb, resource, namespace) triples over a realistic RBAC set,
// Palisade's answer must equal the real API server's SubjectAccessReview.
func TestAgreesWithSubjectAccessReview(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	admin := env.AdminClient(t)
	a := env.CreateNamespace(ctx, t, "rbac-oracle-a-", nil).Name
	b := env.CreateNamespace(ctx, t, "rbac-oracle-b-", nil).Name
	crs, crbs, roles, rbs := rbacSet(a, b)
	// Cluster-wide objects outlive the test's namespaces: removed at the
	// end, so a second run (-count=2) on the shared API server starts
	// from the same state.
	for _, o := range crs {
		if _, err := admin.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.RbacV1().ClusterRoles().Delete(context.Background(), o.Name, metav1.DeleteOptions{}) })
	}
	for _, o := range crbs {
		if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), o.Name, metav1.DeleteOptions{})
		})
	}
	for _, o := range roles {
		if _, err := admin.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range rbs {
		if _, err := admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := cluster.Read(ctx, admin, cluster.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	model := rbac.NewModel(snap.Inventory.RBAC, false)

	subjects := []rbac.Subject{
		{User: "oracle-alice", Groups: []string{"system:authenticated"}},
		{User: "oracle-bob", Groups: []string{"system:authenticated"}},
		{User: "oracle-carol", Groups: []string{"system:authenticated"}},
		{User: "oracle-dave", Groups: []string{"oracle-devs", "system:authenticated"}},
		{User: "oracle-erin", Groups: []string{"oracle-ops", "system:authenticated"}},
		rbac.ServiceAccountSubject(a, "ci"),
		rbac.ServiceAccountSubject(b, "monitor"),
		rbac.ServiceAccountSubject(b, "default"),
		rbac.ServiceAccountSubject(a, "default"),
	}
	// Common verbs are listed more than once so the sample holds enough
	// allowed requests to be a real test of both answers.
	verbs := []string{"get", "get", "get", "list", "list", "watch", "create", "create", "create", "update", "patch", "delete", "escalate", "bind", "impersonate"}
	resources := []string{"pods", "pods/exec", "pods/log", "pods/portforward", "secrets", "deployments.apps", "deployments.apps/scale",
		"configmaps", "services", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", "nodes", "nodes/proxy",
		"serviceaccounts", "serviceaccounts/token", "jobs.batch"}
	namespaces := []string{a, b, a, b, ""}
	names := []string{"", "", "tls", "other"}

	r := rand.New(rand.NewSource(7))
	const triples = 400
	allowedCount := 0
	for i := range triples {
		s := subjects[r.Intn(len(subjects))]
		group, resource, sub := rbac.ParseResource(resources[r.Intn(len(resources))])
		req := rbac.Request{Verb: verbs[r.Intn(len(verbs))], Group: group, Resource: resource, Subresource: sub,
			Namespace: namespaces[r.Intn(len(namespaces))], Name: names[r.Intn(len(names))]}
		got, grant := model.Allowed(s, req)
		sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: s.User, Groups: s.Groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: req.Verb, Group: req.Group, Resource: req.Resource, Subresource: req.Subresource, Namespace: req.Namespace, Name: req.Name}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got != sar.Status.Allowed {
			t.Errorf("triple %d: %s %+v: Palisade says %v (%+v), the API server says %v (%s)", i, s.User, req, got, grant, sar.Status.Allowed, sar.Status.Reason)
		}
		if got {
			allowedCount++
		}
		// who-can must list the subject (or one of its groups) exactly when allowed.
		if listed := listedIn(model.WhoCan(req), s); listed != sar.Status.Allowed {
			t.Errorf("triple %d: who-can %+v lists %s: %v, API server allows: %v", i, req, s.User, listed, sar.Status.Allowed)
		}
	}
	t.Logf("%d triples, %d allowed", triples, allowedCount)
	if allowedCount < 40 || allowedCount > triples-40 {
		t.Errorf("unbalanced oracle: %d of %d allowed", allowedCount, triples)
	}
}

func listedIn(grants []rbac.Grant, s rbac.Subject) bool {
	for _, g := range grants {
		switch g.Subject.Kind {
		case "User":
			if g.Subject.Name == s.User {
				return true
			}
		case "Group":
			if g.Subject.Name == "system:masters" {
				continue
			}
			for _, grp := range s.Groups {
				if grp == g.Subject.Name {
					return true
				}
			}
		case "ServiceAccount":
			if fmt.Sprintf("system:serviceaccount:%s:%s", g.Subject.Namespace, g.Subject.Name) == s.User {
				return true
			}
		}
	}
	return false
}
