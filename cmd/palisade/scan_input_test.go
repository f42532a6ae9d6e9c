package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An input Palisade does not understand, or an input with nothing in it,
// must never pass as a clean scan.
func TestScanInputErrorsExitCodes(t *testing.T) {
	oldDaemonSet := `apiVersion: extensions/v1beta1
kind: DaemonSet
metadata: {name: fluentd, namespace: logging}
spec:
  template:
    metadata: {labels: {app: fluentd}}
    spec:
      containers: [{name: fluentd, image: fluentd, securityContext: {privileged: true}}]
`
	unknownVersion := "apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {spec: {containers: [{name: a, image: nginx}]}}}\n"
	configMap := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"
	empty := t.TempDir()
	valuesOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(valuesOnly, "values.yaml"), []byte("replicaCount: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stdin  string
		args   []string
		want   int
		stdout []string // parts of the table output
	}{
		{"removed apiVersion is evaluated", oldDaemonSet, []string{"scan", "config", "-", "--rules", "pss/privileged"}, exitFindings,
			[]string{"DaemonSet/logging/fluentd", "1 object scanned, 0 not understood"}},
		{"removed apiVersion is a finding", oldDaemonSet, []string{"scan", "config", "-", "--rules", "hardening/deprecated-api-version"}, exitFindings,
			[]string{"extensions/v1beta1 DaemonSet was removed in Kubernetes 1.16; use apps/v1"}},
		{"unknown apiVersion", unknownVersion + "---\n" + configMap, []string{"scan", "config", "-"}, exitError,
			[]string{`apiVersion "apps/v9"`, "1 object scanned, 1 not understood"}},
		{"unknown apiVersion accepted", unknownVersion + "---\n" + configMap, []string{"scan", "config", "-", "--ignore-input-errors"}, exitClean,
			[]string{"1 object scanned, 1 not understood"}},
		{"unknown apiVersion accepted, findings still fail", unknownVersion + "---\n" + oldDaemonSet, []string{"scan", "config", "-", "--ignore-input-errors"}, exitFindings, nil},
		{"empty directory", "", []string{"scan", "config", empty}, exitError, []string{"nothing to scan", "0 objects scanned"}},
		{"empty directory, repo", "", []string{"scan", "repo", empty}, exitError, []string{"nothing to scan"}},
		{"only a values file", "", []string{"scan", "config", valuesOnly}, exitError, []string{"nothing to scan"}},
		{"empty standard input", "", []string{"scan", "config", "-"}, exitError, []string{"nothing to scan"}},
		{"empty input accepted", "", []string{"scan", "config", empty, "--ignore-input-errors"}, exitClean, []string{"nothing to scan"}},
		{"baseline of nothing", "", []string{"scan", "repo", empty, "--write-baseline", filepath.Join(t.TempDir(), "b.json")}, exitError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := palisade(t, tt.stdin, append(tt.args, "--ci", "off")...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("output does not say %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// Every machine format says how much was understood.
func TestScanCoverageInEveryFormat(t *testing.T) {
	input := "apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"
	t.Run("json", func(t *testing.T) {
		out, _, _ := palisade(t, input, "scan", "config", "-", "-o", "json")
		var doc struct {
			Summary  map[string]any   `json:"summary"`
			Problems []map[string]any `json:"problems"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Summary["objects"] != 1.0 || doc.Summary["notUnderstood"] != 1.0 || doc.Summary["errors"] != 1.0 {
			t.Errorf("summary %v", doc.Summary)
		}
		if len(doc.Problems) != 1 || doc.Problems[0]["line"] != 1.0 || doc.Problems[0]["level"] != "error" {
			t.Errorf("problems %v", doc.Problems)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		out, _, _ := palisade(t, input, "scan", "config", "-", "-o", "yaml")
		if !strings.Contains(out, "notUnderstood: 1") || !strings.Contains(out, "objects: 1") {
			t.Errorf("summary missing:\n%s", out)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		out, _, _ := palisade(t, input, "scan", "config", "-", "-o", "sarif")
		var doc struct {
			Runs []struct {
				Invocations []struct {
					ExecutionSuccessful bool `json:"executionSuccessful"`
					Notifications       []struct {
						Level   string `json:"level"`
						Message struct {
							Text string `json:"text"`
						} `json:"message"`
					} `json:"toolExecutionNotifications"`
				} `json:"invocations"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		inv := doc.Runs[0].Invocations[0]
		var texts []string
		for _, n := range inv.Notifications {
			texts = append(texts, n.Level+": "+n.Message.Text)
		}
		joined := strings.Join(texts, "\n")
		if inv.ExecutionSuccessful || !strings.Contains(joined, `error: Deployment "web": apiVersion "apps/v9"`) || !strings.Contains(joined, "note: 1 object scanned, 1 not understood") {
			t.Errorf("notifications (successful %v):\n%s", inv.ExecutionSuccessful, joined)
		}
	})
}
