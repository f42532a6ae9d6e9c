package finding

import "testing"

func TestGate(t *testing.T) {
	unknown := Finding{RuleID: "CVE-1", Severity: SeverityUnknown}
	low := Finding{RuleID: "CVE-2", Severity: SeverityLow}
	high := Finding{RuleID: "CVE-3", Severity: SeverityHigh}
	suppressedUnknown := Finding{RuleID: "CVE-4", Severity: SeverityUnknown, Suppressed: true}
	tests := []struct {
		name     string
		gate     Gate
		findings []Finding
		want     bool
	}{
		{"unknown fails a critical gate by default", Gate{Min: SeverityCritical}, []Finding{unknown}, true},
		{"unknown fails a low gate by default", Gate{Min: SeverityLow}, []Finding{unknown}, true},
		{"unknown passes when ignored", Gate{Min: SeverityLow, IgnoreUnknown: true}, []Finding{unknown}, false},
		{"fail-on unknown fails on anything, even ignoring unknown", Gate{Min: SeverityUnknown, IgnoreUnknown: true}, []Finding{unknown}, true},
		{"fail-on unknown fails on low", Gate{Min: SeverityUnknown}, []Finding{low}, true},
		{"low below a high gate", Gate{Min: SeverityHigh}, []Finding{low}, false},
		{"high at a high gate", Gate{Min: SeverityHigh, IgnoreUnknown: true}, []Finding{low, high}, true},
		{"suppressed unknown never fails", Gate{Min: SeverityLow}, []Finding{suppressedUnknown}, false},
		{"nothing", Gate{Min: SeverityUnknown}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.gate.FailsAny(tt.findings); got != tt.want {
				t.Errorf("FailsAny = %v, want %v", got, tt.want)
			}
		})
	}
}
