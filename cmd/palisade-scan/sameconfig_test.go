package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSameConfigOutputAsPalisade runs `palisade scan config` and
// `palisade-scan config` (built binaries) on this repository's example
// manifests and Dockerfile, the realworld microservices demo, standard
// input and an input with a document not understood, and requires the
// same report byte for byte, the same stderr and the same exit code in
// every output format and with the flags that change the result. Then
// what palisade-scan does not link (rendering, --policy, --framework, the
// Helm flags) must be refused with exit 2 and a pointer to palisade,
// never scanned as something else.
func TestSameConfigOutputAsPalisade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the palisade binary")
	}
	lean := buildBinary(t, ".", "palisade-scan")
	full := buildBinary(t, "../palisade", "palisade")
	examples := filepath.Join("..", "..", "examples")
	demo := filepath.Join("..", "..", "testdata", "realworld", "microservices-demo")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx\n---\napiVersion: apps/v7\nkind: Deployment\nmetadata:\n  name: d\n---\nkind: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	manifests := filepath.Join(examples, "manifests")
	shop, err := os.ReadFile(filepath.Join(manifests, "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int // palisade's exit code
	}{
		{"json", []string{manifests, filepath.Join(examples, "docker"), "-o", "json"}, "", 1},
		{"sarif", []string{manifests, "-o", "sarif"}, "", 1},
		{"table", []string{manifests, demo}, "", 1},
		{"table ci github", []string{manifests, "--ci", "github"}, "", 1},
		{"json rules fail-on none", []string{demo, "-o", "json", "--rules", "pss-restricted", "--fail-on", "none"}, "", 0},
		{"json namespace pss-level registries", []string{manifests, "-o", "json", "-n", "edge", "--pss-level", "baseline", "--allowed-registries", "registry.example.com"}, "", 1},
		{"stdin", []string{"-", "-o", "json"}, string(shop), 1},
		{"not understood", []string{bad, "-o", "json", "--fail-on", "none"}, "", 2},
		{"not understood ignored", []string{bad, "--ignore-input-errors", "--fail-on", "none"}, "", 0},
		{"nothing to scan", []string{t.TempDir(), "-o", "json"}, "", 2},
		{"bad flag", []string{manifests, "--fail-on", "severe"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := runWithStdin(t, full, tc.stdin, append([]string{"scan", "config"}, tc.args...)...)
			got := runWithStdin(t, lean, tc.stdin, append([]string{"config"}, tc.args...)...)
			if want.code != tc.code {
				t.Fatalf("palisade scan config: exit %d, want %d: %s", want.code, tc.code, want.stderr)
			}
			sameResult(t, got, want)
		})
	}
	chart := t.TempDir()
	for name, content := range map[string]string{
		"app/Chart.yaml":         "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"app/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
		"plain/pod.yaml":         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: plain\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
	} {
		p := filepath.Join(chart, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"chart", []string{chart}, "Helm charts and kustomize overlays"},
		{"policy", []string{manifests, "--policy", filepath.Join(examples, "policy.yaml")}, "--policy"},
		{"framework", []string{manifests, "--framework", "cis"}, "--framework"},
		{"values", []string{manifests, "--set", "a=b"}, "--set"},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			got := runBinary(t, lean, append([]string{"config"}, tc.args...)...)
			if got.code != 2 || got.stdout != "" || !strings.Contains(got.stderr, tc.says) || !strings.Contains(got.stderr, "use 'palisade scan config'") {
				t.Errorf("exit %d, stdout %d bytes, stderr %q; want exit 2, no report, and a pointer to palisade", got.code, len(got.stdout), got.stderr)
			}
			if want := runBinary(t, full, append([]string{"scan", "config"}, tc.args...)...); want.code == 2 {
				t.Errorf("palisade scan config refuses it too (exit 2): %s", want.stderr)
			}
		})
	}
}

// runWithStdin is runBinary with stdin as standard input.
func runWithStdin(t *testing.T, bin, stdin string, args ...string) result {
	t.Helper()
	if stdin == "" {
		return runBinary(t, bin, args...)
	}
	f := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(f, []byte(stdin), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = in
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}
