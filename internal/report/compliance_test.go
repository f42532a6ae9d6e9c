package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestComplianceInEveryFormat: --framework results reach table, JSON,
// YAML and SARIF output.
func TestComplianceInEveryFormat(t *testing.T) {
	score := 50.0
	r := finding.NewReport([]finding.Finding{{RuleID: "pss/privileged", Severity: finding.SeverityCritical}}, nil, 1, nil)
	r.Compliance = []finding.Compliance{{Framework: "pss-baseline", Title: "Pod Security Standards, baseline", Score: &score, Passed: 1, Failed: 1,
		Controls: []finding.ControlResult{
			{ID: "baseline/privileged-containers", Title: "Privileged", Status: finding.ControlFailed, FailedChecks: []string{"pss/privileged"}, Findings: 1},
			{ID: "baseline/host-ports", Title: "Host ports", Status: finding.ControlPassed, Checks: []string{"pss/host-ports"}},
		}}}
	for format, want := range map[Format][]string{
		FormatTable: {"Compliance: Pod Security Standards, baseline", "baseline/privileged-containers  failed", "Score: 50.0%"},
		FormatJSON:  {`"compliance": [`, `"framework": "pss-baseline"`, `"score": 50`, `"status": "failed"`},
		FormatYAML:  {"compliance:", "framework: pss-baseline", "score: 50", "status: passed"},
		FormatSARIF: {`"properties": {`, `"compliance": [`, `"failedChecks": [`},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, format, r, Options{}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for _, w := range want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", format, w, buf.String())
			}
		}
	}
}
