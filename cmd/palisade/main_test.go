package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/rules.md")

// palisade runs the CLI in-process and returns stdout, stderr and the exit code.
func palisade(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestExitCodes(t *testing.T) {
	clean := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"
	bad := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers: [{name: a, image: nginx, securityContext: {privileged: true}}]\n"
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  int
	}{
		{"clean input", clean, []string{"scan", "config", "-"}, exitClean},
		{"findings", bad, []string{"scan", "config", "-"}, exitFindings},
		{"findings below threshold", bad, []string{"scan", "config", "-", "--rules", "hardening/default-namespace", "--fail-on", "medium"}, exitClean},
		{"findings at threshold", bad, []string{"scan", "config", "-", "--fail-on", "critical"}, exitFindings},
		{"fail-on none", bad, []string{"scan", "config", "-", "--fail-on", "none"}, exitClean},
		{"bad fail-on", bad, []string{"scan", "config", "-", "--fail-on", "severe"}, exitError},
		{"unknown flag", bad, []string{"scan", "config", "-", "--bogus"}, exitError},
		{"no path", "", []string{"scan", "config"}, exitError},
		{"bad output format", bad, []string{"scan", "config", "-", "-o", "xml"}, exitError},
		{"rule selector matches nothing", bad, []string{"scan", "config", "-", "--rules", "pss/nope"}, exitError},
		{"only cluster-level rules", clean, []string{"scan", "config", "-", "--rules", "cluster/dangling-role-binding"}, exitError},
		{"input error", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", []string{"scan", "config", "-"}, exitError},
		{"missing file", "", []string{"scan", "config", "does-not-exist.yaml"}, exitError},
		{"missing policy", clean, []string{"scan", "config", "-", "--policy", "nope.yaml"}, exitError},
		{"bad pss level", clean, []string{"scan", "config", "-", "--pss-level", "strict"}, exitError},
		{"suppressed findings do not fail", strings.Replace(bad, "metadata: {name: p, namespace: x}", "metadata: {name: p, namespace: x, annotations: {palisade.io/exempt: \"*: test pod\"}}", 1), []string{"scan", "config", "-"}, exitClean},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := palisade(t, tt.stdin, tt.args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			if code == exitError && stderr == "" {
				t.Errorf("exit code 2 without an error message")
			}
		})
	}
}

// TestScanExamplesGolden scans the bundled examples in every format and
// compares with golden files (regenerate with -update).
func TestScanExamplesGolden(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, format := range []string{"table", "json", "yaml", "sarif", "junit"} {
		t.Run(format, func(t *testing.T) {
			wd, _ := os.Getwd()
			t.Cleanup(func() { os.Chdir(wd) })
			if err := os.Chdir(root); err != nil {
				t.Fatal(err)
			}
			// --ci off: CI=true in the environment would otherwise group the table.
			out, stderr, code := palisade(t, "", "scan", "config", "examples/manifests", "examples/docker", "--policy", "examples/policy.yaml", "-o", format, "--ci", "off")
			if code != exitFindings {
				t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr)
			}
			os.Chdir(wd)
			golden := filepath.Join("testdata", "examples."+format)
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/palisade -update)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (run go test ./cmd/palisade -update if intended):\n%s", golden, firstDiff(out, string(want)))
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + itoa(i+1) + ":\n got: " + al[i] + "\nwant: " + bl[i]
		}
	}
	return "lengths differ"
}

func itoa(i int) string { return jsonNumber(i) }

func jsonNumber(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestJSONSchemaFields pins the documented JSON field names.
func TestJSONSchemaFields(t *testing.T) {
	out, _, _ := palisade(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers: [{name: a, image: nginx}]\n", "scan", "config", "-", "-o", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	fs := doc["findings"].([]any)
	if len(fs) == 0 {
		t.Fatal("no findings")
	}
	f := fs[0].(map[string]any)
	for _, k := range []string{"ruleID", "severity", "title", "message", "object", "file", "line", "suppressed"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding lacks %q: %v", k, f)
		}
	}
	obj := f["object"].(map[string]any)
	for _, k := range []string{"apiVersion", "kind", "namespace", "name"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("object lacks %q: %v", k, obj)
		}
	}
	if f["file"] != "<stdin>" {
		t.Errorf("file = %v", f["file"])
	}
	if _, ok := doc["summary"].(map[string]any)["bySeverity"]; !ok {
		t.Errorf("summary lacks bySeverity")
	}
}

func TestRuleSelectionByTag(t *testing.T) {
	count := func(sel string) int {
		out, _, code := palisade(t, "", "rules", "list", "--rules", sel, "-o", "json")
		if code != 0 {
			t.Fatalf("rules list --rules %s: exit %d", sel, code)
		}
		var doc struct {
			Rules []finding.RuleInfo `json:"rules"`
		}
		json.Unmarshal([]byte(out), &doc)
		return len(doc.Rules)
	}
	baseline, restricted, hardening := count("pss-baseline"), count("pss-restricted"), count("hardening")
	if baseline < 10 || restricted <= baseline || hardening < 13 {
		t.Errorf("baseline=%d restricted=%d hardening=%d", baseline, restricted, hardening)
	}
}

// TestRulesDocUpToDate fails when docs/rules.md or docs/coverage.md no
// longer match the check definitions and the peers' lists (regenerate
// with -update).
func TestRulesDocUpToDate(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct{ file, command, want string }{
		{"rules.md", "docs", catalog.Markdown(cat)},
		{"coverage.md", "coverage", catalog.Coverage(cat)},
	} {
		path := filepath.Join("..", "..", "docs", doc.file)
		if *update {
			os.WriteFile(path, []byte(doc.want), 0o644)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != doc.want {
			t.Errorf("docs/%s is out of date: run 'go test ./cmd/palisade -update' (or 'go run ./cmd/palisade rules %s > docs/%s')", doc.file, doc.command, doc.file)
		}
		out, _, _ := palisade(t, "", "rules", doc.command)
		if out != doc.want {
			t.Errorf("'palisade rules %s' differs from docs/%s", doc.command, doc.file)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := palisade(t, "", "version", "-o", "json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || v["goVersion"] == "" {
		t.Errorf("version: code %d output %q", code, out)
	}
	out, _, code = palisade(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "palisade") {
		t.Errorf("completion bash: code %d", code)
	}
}
