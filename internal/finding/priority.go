package finding

import (
	"fmt"
	"strings"
)

// Priority says what to fix first: P1 first, P4 last. It is computed for
// vulnerability findings from their severity, exploitation (KEV, EPSS),
// fix availability and reachability (see PriorityOf); the zero value
// means none was computed.
type Priority int

// Priorities from most to least urgent.
const (
	PriorityNone Priority = iota
	P1
	P2
	P3
	P4
)

// EPSSThreshold is the EPSS score at or above which a vulnerability is
// raised one priority: a 10% chance of exploitation activity within 30
// days is well inside the top few percent of all CVEs.
const EPSSThreshold = 0.1

// String returns "P1" .. "P4", or "" for PriorityNone.
func (p Priority) String() string {
	if p < P1 || p > P4 {
		return ""
	}
	return fmt.Sprintf("P%d", int(p))
}

// ParsePriority reads "P1" .. "P4", case-insensitively.
func ParsePriority(s string) (Priority, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "P1":
		return P1, nil
	case "P2":
		return P2, nil
	case "P3":
		return P3, nil
	case "P4":
		return P4, nil
	}
	return PriorityNone, fmt.Errorf("unknown priority %q (want one of P1, P2, P3, P4)", s)
}

// Reachability of a Go vulnerability's symbols in a binary.
const (
	// ReachableTrue: the binary links a vulnerable symbol.
	ReachableTrue = "true"
	// ReachableFalse: the binary links none of the vulnerable symbols
	// (or none of the vulnerable packages).
	ReachableFalse = "false"
	// ReachableUnknown: the advisory lists no symbols, or the binary's
	// symbol table could not be read.
	ReachableUnknown = "unknown"
)

// PriorityOf computes a vulnerability's priority:
//
//  1. the severity sets the start: CRITICAL P1, HIGH P2, MEDIUM and
//     UNKNOWN P3 (an unknown risk is not a low one), LOW P4;
//  2. an EPSS score at or above EPSSThreshold raises it one step;
//  3. no fix available (affected without a fix, will not fix, deferred,
//     end of life) lowers it one step: there is nothing to upgrade to yet;
//  4. vulnerable symbols not reachable in the binary lower it one step;
//  5. a vulnerability in CISA's KEV catalogue is P1, or P2 when its
//     symbols are not reachable.
//
// Steps stay within P1..P4. A finding without a Vulnerability has
// PriorityNone.
func PriorityOf(f Finding) Priority {
	v := f.Vulnerability
	if v == nil {
		return PriorityNone
	}
	var p Priority
	switch f.Severity {
	case SeverityCritical:
		p = P1
	case SeverityHigh:
		p = P2
	case SeverityLow:
		p = P4
	default:
		p = P3
	}
	if v.EPSS != nil && v.EPSS.Score >= EPSSThreshold {
		p--
	}
	if v.Fixed == "" {
		p++
	}
	unreachable := v.Reachable == ReachableFalse
	if unreachable {
		p++
	}
	if v.KEV != nil {
		p = P1
		if unreachable {
			p = P2
		}
	}
	return min(max(p, P1), P4)
}

// PriorityGate fails on unsuppressed vulnerability findings at or above
// (as urgent as) a priority (`--fail-on-priority`). Findings without a
// priority never fail it.
type PriorityGate struct {
	Max Priority
}

// FailsAny reports whether any finding fails the gate.
func (g PriorityGate) FailsAny(findings []Finding) bool {
	for _, f := range findings {
		if f.Suppressed || f.Vulnerability == nil {
			continue
		}
		if p := f.Vulnerability.Priority; p != PriorityNone && p <= g.Max {
			return true
		}
	}
	return false
}

// MarshalText writes "P1" .. "P4".
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads "P1" .. "P4"; "" is PriorityNone.
func (p *Priority) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = PriorityNone
		return nil
	}
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
