package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRBACWhoCanFromManifests: who-can answers only from RBAC it read.
// Input with no RBAC object (an empty directory, a Deployment) is an error,
// not "only system:masters may"; a binding to a role the input lacks
// makes the printed list a lower bound, so the exit code is 2 and the
// binding is named.
func TestRBACWhoCanFromManifests(t *testing.T) {
	const role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  verbs: [get]\n"
	const binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: reader\nsubjects:\n- kind: User\n  name: alice\n"
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
	tests := []struct {
		name    string
		files   map[string]string
		code    int
		out     string // in stdout
		errText string // in stderr
	}{
		{name: "empty directory", code: exitError, errText: "no Role, ClusterRole, RoleBinding or ClusterRoleBinding"},
		{name: "a Deployment only", files: map[string]string{"web.yaml": deployment}, code: exitError, errText: "nothing to answer from"},
		{name: "binding to a role not in the input", files: map[string]string{"b.yaml": binding}, code: exitError, out: "system:masters", errText: "ClusterRoleBinding b → ClusterRole reader"},
		{name: "role and binding", files: map[string]string{"b.yaml": binding, "r.yaml": role}, code: exitClean, out: "alice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, o := range []string{"table", "json"} {
				out, stderr, code := palisade(t, "", "rbac", "who-can", "get", "secrets", dir, "-o", o)
				if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(stderr, tc.errText) {
					t.Errorf("-o %s: exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", o, code, tc.code, tc.out, out, tc.errText, stderr)
				}
			}
		})
	}
}

// TestRBACAnalyzeNothingToAudit: rbac analyze of input without any RBAC
// object said "No findings", exit 0 (its rules had nothing to look at);
// it is now an error, exit 2. Input with RBAC is analysed as before.
func TestRBACAnalyzeNothingToAudit(t *testing.T) {
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
	const role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: viewer\n  namespace: shop\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		code    int
		errText string
	}{
		{name: "a Deployment only", files: map[string]string{"web.yaml": deployment}, code: exitError, errText: "nothing to audit"},
		{name: "a harmless Role", files: map[string]string{"web.yaml": deployment, "role.yaml": role}, code: exitClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, o := range []string{"table", "json", "sarif"} {
				out, stderr, code := palisade(t, "", "rbac", "analyze", dir, "-o", o)
				if code != tc.code || !strings.Contains(stderr, tc.errText) {
					t.Errorf("-o %s: exit %d, want %d\nstdout:\n%s\nstderr (want %q):\n%s", o, code, tc.code, out, tc.errText, stderr)
				}
			}
		})
	}
}

// TestRBACAnalyzeUnresolvedBinding: rbac analyze of a binding whose role
// is not in the input, or is an aggregated ClusterRole whose parts are
// not, said "No findings", exit 0, though what the binding gives could
// not be judged. It is now an error naming the binding, exit 2, from files
// and from stdin; a binding to a role of the input or to a shipped role
// (view) is judged as before.
func TestRBACAnalyzeUnresolvedBinding(t *testing.T) {
	const missing = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: read-secrets\n  namespace: shop\nsubjects:\n- kind: User\n  name: alice\n  apiGroup: rbac.authorization.k8s.io\nroleRef:\n  kind: ClusterRole\n  name: secret-reader\n  apiGroup: rbac.authorization.k8s.io\n"
	const role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: secret-reader\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n"
	const aggregated = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: monitoring\naggregationRule:\n  clusterRoleSelectors:\n  - matchLabels:\n      rbac.example.com/aggregate-to-monitoring: \"true\"\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: monitoring\nsubjects:\n- kind: User\n  name: alice\n  apiGroup: rbac.authorization.k8s.io\nroleRef:\n  kind: ClusterRole\n  name: monitoring\n  apiGroup: rbac.authorization.k8s.io\n"
	const view = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: viewers\n  namespace: shop\nsubjects:\n- kind: User\n  name: alice\n  apiGroup: rbac.authorization.k8s.io\nroleRef:\n  kind: ClusterRole\n  name: view\n  apiGroup: rbac.authorization.k8s.io\n"
	for _, tc := range []struct {
		name string
		in   string
		code int
		text string // in stdout or stderr
	}{
		{name: "binding to a role not in the input", in: missing, code: exitError, text: "RoleBinding shop/read-secrets → ClusterRole secret-reader"},
		{name: "binding to an aggregated role whose parts are not in the input", in: aggregated, code: exitError,
			text: "ClusterRoleBinding monitoring → ClusterRole monitoring (aggregated: no ClusterRole in the input matches its aggregationRule)"},
		{name: "binding and its role", in: missing + "---\n" + role, code: exitClean},
		{name: "binding to view", in: view, code: exitClean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "rbac.yaml"), []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, o := range []string{"table", "json"} {
				out, stderr, code := palisade(t, "", "rbac", "analyze", dir, "-o", o)
				if code != tc.code || !strings.Contains(out+stderr, tc.text) {
					t.Errorf("-o %s: exit %d, want %d\nstdout:\n%s\nstderr (want %q):\n%s", o, code, tc.code, out, tc.text, stderr)
				}
			}
			out, stderr, code := palisade(t, tc.in, "rbac", "analyze", "-")
			if code != tc.code || !strings.Contains(out+stderr, tc.text) {
				t.Errorf("stdin: exit %d, want %d\nstdout:\n%s\nstderr (want %q):\n%s", code, tc.code, out, tc.text, stderr)
			}
		})
	}
}
