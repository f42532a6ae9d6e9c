package netpol

import "github.com/palisade-sec/palisade/internal/finding"

// ruleFrameworks maps each finding of this package to the frameworks'
// controls (see finding.Frameworks); Rules applies it.
func ruleFrameworks() map[string]finding.Frameworks {
	nsa := []string{"network.policies"}
	return map[string]finding.Frameworks{
		RuleNoIngress:       {CIS: []string{"5.3.2"}, NSA: nsa, MITRE: []string{"T1046", "T1021"}},
		RuleNoEgress:        {NSA: nsa, MITRE: []string{"T1041"}},
		RuleEgressInternet:  {NSA: nsa, MITRE: []string{"T1041"}},
		RuleAllNamespaces:   {NSA: nsa, MITRE: []string{"T1046", "T1021"}},
		RuleSelectsNothing:  {NSA: nsa},
		RuleShadowed:        {NSA: nsa},
		RuleEgressDenyNoDNS: {NSA: nsa},
		RuleObservedDenied:  {NSA: append(nsa, "logging.threat-detection")},
		RuleAllowedUnused:   {NSA: nsa},
	}
}

// Rules describes every finding this package produces.
func Rules() []finding.RuleInfo {
	out := ruleList()
	t := ruleFrameworks()
	for i := range out {
		out[i].Frameworks = out[i].Frameworks.Merge(t[out[i].ID])
	}
	return out
}
