package reliability

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps the rules of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules. Only
// the rules that a security framework covers are listed: availability is
// the NSA/CISA guide's "resource policies" where a rule keeps one workload
// from starving others, and MITRE's endpoint denial of service where a
// mistake takes a service down.
func Frameworks() map[string]finding.Frameworks {
	resources := []string{"network.resource-policies"}
	return map[string]finding.Frameworks{
		"reliability/ephemeral-storage":      {NSA: resources, MITRE: []string{"T1499"}},
		"reliability/network-policy-no-pods": {CIS: []string{"5.3.2"}, NSA: []string{"network.policies"}},
	}
}
