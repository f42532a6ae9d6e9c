package main

import (
	"strings"
	"testing"
)

// TestAuditlogAnalyzeExitCodes: audit events as every source writes them
// are read; input that is not understood is never a clean exit.
func TestAuditlogAnalyzeExitCodes(t *testing.T) {
	exec := `"auditID":"a1","stage":"ResponseStarted","verb":"create","requestURI":"/api/v1/namespaces/shop/pods/web/exec","user":{"username":"alice"},` +
		`"objectRef":{"resource":"pods","namespace":"shop","name":"web","apiVersion":"v1","subresource":"exec"},"responseStatus":{"code":101},` +
		`"requestReceivedTimestamp":"2026-11-25T10:00:00Z","stageTimestamp":"2026-11-25T10:00:00Z"`
	benign := `{"auditID":"b1","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/namespaces/shop/pods/web","user":{"username":"alice"},` +
		`"objectRef":{"resource":"pods","namespace":"shop","name":"web"},"responseStatus":{"code":200}}`
	tests := []struct {
		name   string
		stdin  string
		args   []string
		want   int
		stderr string
	}{
		{"exec without apiVersion and kind, ResponseStarted only", "{" + exec + "}\n", nil, exitFindings, "read 1 events (1 requests)"},
		{"exec in v1beta1", `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1",` + exec + "}\n", nil, exitFindings, ""},
		{"exec in a fluent-bit record", `{"log":` + quote("{"+exec+"}") + `,"stream":"stdout"}` + "\n", nil, exitFindings, ""},
		{"benign event", benign + "\n", nil, exitClean, ""},
		{"nothing at all", "", nil, exitError, "input error"},
		{"not audit events", `{"hello":"world"}` + "\n", nil, exitError, "not an audit event"},
		{"not audit events, allowed, still nothing read", `{"hello":"world"}` + "\n", []string{"--ignore-input-errors"}, exitError, "no audit events understood"},
		{"one line not understood", benign + "\nnot json\n", nil, exitError, "line(s) or item(s) not understood"},
		{"one line not understood, allowed", benign + "\nnot json\n", []string{"--ignore-input-errors"}, exitClean, ""},
		{"summary of input not understood", benign + "\nnot json\n", []string{"--summary"}, exitError, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := palisade(t, tt.stdin, append([]string{"auditlog", "analyze", "-", "-o", "json"}, tt.args...)...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr lacks %q: %s", tt.stderr, stderr)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
