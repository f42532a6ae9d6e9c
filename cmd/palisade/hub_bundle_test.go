package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestHubBundlePublish: bundles are signed and published with increasing
// versions, fleet-wide or for a cluster named by name; what the hub
// refuses (a policy the webhook could not load, an unknown cluster or
// kind, missing flags) is a usage error naming the bundle or flag.
func TestHubBundlePublish(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "hub.db")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, stderr, code := palisade(t, "", "hub", "token", "create", "--cluster", "edge-7", "--database", db, "--init"); code != 0 {
		t.Fatalf("token create: %s", stderr)
	}
	good := write("admission.yaml", "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata:\n  name: fleet\nspec:\n  mode: warn\n")
	bad := write("bad.yaml", "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata:\n  name: fleet\nspec:\n  mode: sometimes\n")
	keyPEM, _, err := vulndb.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := write("publisher.key", string(keyPEM))
	published := regexp.MustCompile(`^published admission/fleet version (\d+) for (every cluster|cluster \S+) \(\d+ bytes, sha256:[0-9a-f]{64}\)\n$`)
	for i, tc := range []struct {
		args    []string
		code    int
		version string
		scope   string
		stderr  string
	}{
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good}, version: "1", scope: "every cluster"},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good}, version: "2", scope: "every cluster"},
		// Versions count per scope: the cluster's own bundle starts at 1.
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good, "--cluster", "edge-7"}, version: "1", scope: "cluster c-"},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good, "--sign-key", key}, version: "3", scope: "every cluster"},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", bad, "--sign-key", key}, code: exitError, stderr: "spec.mode"},
		{args: []string{"--kind", "policy", "--name", "p", "-f", good, "--sign-key", key}, code: exitError, stderr: "--sign-key signs admission bundles"},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good, "--sign-key", good}, code: exitError, stderr: "--sign-key " + good},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", bad}, code: exitError, stderr: "bundle admission/fleet from " + bad},
		{args: []string{"--kind", "admission", "--name", "fleet", "-f", good, "--cluster", "nowhere"}, code: exitError, stderr: `--cluster "nowhere": no such cluster`},
		{args: []string{"--kind", "binary", "--name", "x", "-f", good}, code: exitError, stderr: "want policy, allowlist, rules, vulndb, admission or verification"},
		{args: []string{"--kind", "policy", "-f", good}, code: exitError, stderr: "--kind, --name and -f are required"},
		{args: []string{"--kind", "policy", "--name", "p", "-f", filepath.Join(dir, "missing")}, code: exitError, stderr: "missing"},
	} {
		out, stderr, code := palisade(t, "", append([]string{"hub", "bundle", "publish", "--database", db}, tc.args...)...)
		if code != tc.code {
			t.Fatalf("case %d: exit %d, want %d: %s %s", i, code, tc.code, out, stderr)
		}
		if tc.code != 0 {
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("case %d: stderr %q, want %q", i, stderr, tc.stderr)
			}
			continue
		}
		m := published.FindStringSubmatch(out)
		if m == nil || m[1] != tc.version || !strings.HasPrefix(m[2], tc.scope) {
			t.Errorf("case %d: %q, want version %s for %s", i, out, tc.version, tc.scope)
		}
	}
}
