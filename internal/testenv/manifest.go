package testenv

import (
	"os"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// ManifestClusterRole returns the ClusterRole a shipped manifest
// (deploy/…) grants, so that tests run with exactly the rules users
// install; it fails the test when the manifest has none.
func ManifestClusterRole(t testing.TB, path string) *rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var head struct{ Kind string }
		_ = yaml.Unmarshal([]byte(doc), &head)
		if head.Kind == "ClusterRole" {
			role := &rbacv1.ClusterRole{}
			if err := yaml.UnmarshalStrict([]byte(doc), role); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return role
		}
	}
	t.Fatalf("%s has no ClusterRole", path)
	return nil
}
