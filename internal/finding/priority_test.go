package finding

import "testing"

func TestPriorityOf(t *testing.T) {
	kev := &KEV{CVE: "CVE-2024-1"}
	hot := &EPSS{CVE: "CVE-2024-1", Score: EPSSThreshold}
	cold := &EPSS{CVE: "CVE-2024-1", Score: EPSSThreshold / 2}
	tests := []struct {
		name string
		sev  Severity
		v    *Vulnerability
		want Priority
	}{
		{"not a vulnerability", SeverityCritical, nil, PriorityNone},
		{"critical, fixed", SeverityCritical, &Vulnerability{Fixed: "1.2"}, P1},
		{"high, fixed", SeverityHigh, &Vulnerability{Fixed: "1.2"}, P2},
		{"medium, fixed", SeverityMedium, &Vulnerability{Fixed: "1.2"}, P3},
		{"unknown, fixed", SeverityUnknown, &Vulnerability{Fixed: "1.2"}, P3},
		{"low, fixed", SeverityLow, &Vulnerability{Fixed: "1.2"}, P4},
		{"high, no fix", SeverityHigh, &Vulnerability{FixState: FixStateAffected}, P3},
		{"low, no fix stays P4", SeverityLow, &Vulnerability{}, P4},
		{"high, EPSS at threshold", SeverityHigh, &Vulnerability{Fixed: "1.2", EPSS: hot}, P1},
		{"high, EPSS below threshold", SeverityHigh, &Vulnerability{Fixed: "1.2", EPSS: cold}, P2},
		{"critical, EPSS stays P1", SeverityCritical, &Vulnerability{Fixed: "1.2", EPSS: hot}, P1},
		{"high, unreachable", SeverityHigh, &Vulnerability{Fixed: "1.2", Reachable: ReachableFalse}, P3},
		{"high, reachable", SeverityHigh, &Vulnerability{Fixed: "1.2", Reachable: ReachableTrue}, P2},
		{"high, reachability unknown", SeverityHigh, &Vulnerability{Fixed: "1.2", Reachable: ReachableUnknown}, P2},
		{"medium, unreachable, no fix", SeverityMedium, &Vulnerability{Reachable: ReachableFalse}, P4},
		{"low, KEV", SeverityLow, &Vulnerability{KEV: kev}, P1},
		{"low, KEV, unreachable", SeverityLow, &Vulnerability{KEV: kev, Reachable: ReachableFalse}, P2},
		{"medium, EPSS, unreachable", SeverityMedium, &Vulnerability{Fixed: "1.2", EPSS: hot, Reachable: ReachableFalse}, P3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PriorityOf(Finding{Severity: tt.sev, Vulnerability: tt.v}); got != tt.want {
				t.Errorf("PriorityOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPriorityGate(t *testing.T) {
	vuln := func(p Priority, suppressed bool) Finding {
		return Finding{Suppressed: suppressed, Vulnerability: &Vulnerability{Priority: p}}
	}
	tests := []struct {
		name     string
		max      Priority
		findings []Finding
		want     bool
	}{
		{"P2 finding fails P2", P2, []Finding{vuln(P2, false)}, true},
		{"P1 finding fails P2", P2, []Finding{vuln(P1, false)}, true},
		{"P3 finding passes P2", P2, []Finding{vuln(P3, false)}, false},
		{"suppressed P1 passes", P4, []Finding{vuln(P1, true)}, false},
		{"no priority passes", P4, []Finding{vuln(PriorityNone, false), {Severity: SeverityCritical}}, false},
		{"P4 fails P4", P4, []Finding{vuln(P3, false), vuln(P4, false)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (PriorityGate{Max: tt.max}).FailsAny(tt.findings); got != tt.want {
				t.Errorf("FailsAny = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsePriority(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Priority
		wantErr bool
	}{{"P1", P1, false}, {"p3", P3, false}, {" P4 ", P4, false}, {"P0", PriorityNone, true}, {"P5", PriorityNone, true}, {"high", PriorityNone, true}} {
		got, err := ParsePriority(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
