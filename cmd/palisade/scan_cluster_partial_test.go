package main

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// A partial cluster scan (resources the identity may not list) exits 2,
// whatever the findings, unless --ignore-input-errors accepts it; the
// report says so either way.
func TestScanClusterPartialExitCodes(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	ns := env.CreateNamespace(ctx, t, "cli-partial-", nil).Name
	admin := env.AdminClient(t)
	yes := true
	if _, err := admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx:1.27", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// May list the core group's objects in the namespace, nothing else.
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pods-only"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"*"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pods-only"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pods-only"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "cli-partial-user", APIGroup: "rbac.authorization.k8s.io"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeconfig := env.KubeconfigFor(t, env.UserConfig(t, "cli-partial-user"))
	tests := []struct {
		name  string
		extra []string
		want  int
	}{
		{"partial scan is an error", nil, exitError},
		{"accepted: exit by findings", []string{"--ignore-input-errors"}, exitFindings},
		{"accepted, no finding at the threshold", []string{"--ignore-input-errors", "--fail-on", "none"}, exitClean},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "cluster", "--kubeconfig", kubeconfig, "-n", ns, "--rules", "pss/privileged"}, tt.extra...)
			out, stderr, code := palisade(t, "", args...)
			if code != tt.want {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.want, stderr)
			}
			if !strings.Contains(out, "Pod/"+ns+"/bad") || !strings.Contains(out, "not understood; partial: part of the target could not be read") || !strings.Contains(out, "cannot list") {
				t.Errorf("report:\n%s", out)
			}
		})
	}
}
