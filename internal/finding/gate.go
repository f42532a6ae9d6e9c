package finding

// Gate is a severity threshold that fails a run or denies an admission
// (`--fail-on`, the admission policy's vulnerability severity).
//
// A finding of unknown severity fails every gate by default: many
// advisories (Go, Alpine, Wolfi, a good part of Debian's) carry no
// severity, and an unknown risk is not a harmless one. IgnoreUnknown is
// the explicit opt-out. A gate at SeverityUnknown (`--fail-on unknown`)
// fails on any finding at all, IgnoreUnknown notwithstanding.
type Gate struct {
	// Min is the lowest known severity that fails the gate.
	Min Severity
	// IgnoreUnknown lets findings of unknown severity pass.
	IgnoreUnknown bool
}

// Fails reports whether one finding fails the gate. Suppressed findings
// never do.
func (g Gate) Fails(f Finding) bool {
	if f.Suppressed {
		return false
	}
	if f.Severity <= SeverityUnknown {
		return g.Min <= SeverityUnknown || !g.IgnoreUnknown
	}
	return f.Severity >= g.Min
}

// FailsAny reports whether any of the findings fails the gate.
func (g Gate) FailsAny(findings []Finding) bool {
	for _, f := range findings {
		if g.Fails(f) {
			return true
		}
	}
	return false
}
