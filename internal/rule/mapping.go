package rule

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// MatchMapping reports whether a selector designates a check through its
// framework mappings or its peers' IDs, case-insensitively, so that users
// migrating from another tool keep their selections and exemptions:
//
//   - a framework name: "cis", "nsa", "mitre" or "pss" (any control of it);
//   - a framework control or glob, after "<framework>:" or
//     "<framework>-": "cis-5.2.*", "cis:5.1.5", "nsa:network.*",
//     "mitre:T1611", "pss:baseline/*";
//   - a peer tool's check ID or glob: "ksv-0017" (also "avd-ksv-0017"),
//     "C-0057", "runAsRootAllowed", or "<tool>:<id>" ("trivy:KSV-0017").
//
// Tags ("pss-baseline") and rule ID globs are matched before, by the
// caller.
func MatchMapping(sel string, fw finding.Frameworks, peers []finding.PeerCheck) bool {
	lower := strings.ToLower(sel)
	for _, f := range []struct {
		name     string
		controls []string
	}{{"cis", fw.CIS}, {"nsa", fw.NSA}, {"mitre", fw.MITRE}, {"pss", fw.PSS}} {
		if lower == f.name {
			return len(f.controls) > 0
		}
		rest, ok := strings.CutPrefix(lower, f.name+":")
		if !ok {
			rest, ok = strings.CutPrefix(lower, f.name+"-")
		}
		if ok {
			for _, c := range f.controls {
				if globAcross(rest, strings.ToLower(c)) {
					return true
				}
			}
		}
	}
	tool, id, qualified := strings.Cut(lower, ":")
	if !qualified {
		id = lower
	}
	id = peerID(id)
	for _, p := range peers {
		if qualified && p.Tool != tool {
			continue
		}
		if globAcross(id, peerID(p.ID)) {
			return true
		}
	}
	return false
}

// peerID is the form peer IDs compare in: lower case, without Trivy's
// "avd-" prefix.
func peerID(id string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(id)), "avd-")
}
